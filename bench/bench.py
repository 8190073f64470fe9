#!/usr/bin/env python3
"""scripts/bench: svcnft against kube-proxy's shapes, in one run on one machine.

For each S Services x E endpoints, every case runs in a fresh network namespace:
  svcnft           `svcnft apply` (netlink, one transaction)
  classic nft      kube-proxy's nftables shape by `nft -f`
  kp 1.36 nft      kube-proxy 1.36's shape by `nft -f`
  iptables-nft     kube-proxy's iptables shape by `iptables-nft-restore`
  iptables-legacy  the same by `iptables-legacy-restore`
and reports full sync wall time and peak memory (/usr/bin/time), kernel objects,
and the time to change one endpoint, with ratios against classic nft. Also svcnft's
parse+compile alone and the agent's RSS. A command still running after the cap
(--cap, 4 min by default) counts as "did not finish".
And first-packet latency: TCP connect p50/p99 over 5,000 connections from a client
namespace to the first and the last of S Services, against the backend's own
address through the same node without DNAT (bench/connect_latency.cc).
Usage: bench.py SVCNFT CONNECT_LATENCY [--quick] [--cases SxE,... [--seed EARLIER_OUTPUT]]
       [--out docs/benchmarks.md]"""
import argparse
import ipaddress
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CAP = 600  # seconds per command
# A competitor is not run when its predicted time passes this share of the cap: in one
# full run, four cases predicted at 60-70 % of it ran past it, each spending the whole cap.
PREDICTION_SHARE = 0.5


def sh(cmd, timeout=None, stdin=None, quiet=False):
    """Runs cmd under /usr/bin/time; returns (seconds, peak KB, stdout+stderr) or None on
    timeout. quiet: stdout is thrown away (a dump of millions of elements)."""
    fmt = "SVCNFT_TIME %e %M"
    # Its own process group: past the cap the whole command goes, not only `time`
    # (an orphaned iptables-restore went on loading for minutes next to later cases).
    p = subprocess.Popen(["/usr/bin/time", "-f", fmt] + cmd, stdin=stdin, text=True,
                         stdout=subprocess.DEVNULL if quiet else subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout or CAP)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        return None
    m = re.search(r"SVCNFT_TIME ([\d.]+) (\d+)", err)
    if p.returncode != 0 or not m:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd), p.returncode, err[-2000:]))
    return float(m.group(1)), int(m.group(2)), (out or "") + err


def settle(limit=90):
    """Waits until the machine is idle (under 10% CPU over half a second, at most
    `limit` s): a deleted namespace's tables are torn down by the kernel in the
    background, and that must not be billed to the next measurement."""
    def busy_idle():
        v = [int(x) for x in open("/proc/stat").readline().split()[1:]]
        return sum(v) - v[3] - v[4], v[3] + v[4]
    deadline = time.time() + limit
    while time.time() < deadline:
        b1, i1 = busy_idle()
        time.sleep(0.5)
        b2, i2 = busy_idle()
        if (b2 - b1) <= 0.1 * max(1, (b2 - b1) + (i2 - i1)):
            return


class Netns:
    def __init__(self):
        self.name = "svcnft-bench-%d-%d" % (os.getpid(), int(time.time() * 1000) % 100000)

    def __enter__(self):
        settle()
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        subprocess.run(["ip", "-n", self.name, "link", "set", "lo", "up"], check=True)
        return self

    def __exit__(self, *a):
        subprocess.run(["ip", "netns", "del", self.name])

    def cmd(self, *args):
        return ["ip", "netns", "exec", self.name] + list(args)


def objects(ns):
    """Chains, sets and rules the kernel holds, counted from `nft --terse list ruleset`
    (without elements: listing millions of them takes nft minutes)."""
    out = subprocess.run(ns.cmd("nft", "--terse", "list", "ruleset"), capture_output=True,
                         text=True).stdout
    chains = len(re.findall(r"^\s*chain ", out, re.M))
    sets = len(re.findall(r"^\s*(set|map) ", out, re.M))
    rules = 0
    depth_chain = False
    for line in out.splitlines():
        s = line.strip()
        if s.startswith("chain "):
            depth_chain = True
            continue
        if depth_chain:
            if s == "}":
                depth_chain = False
            elif s and not s.startswith("type ") and not s.startswith("policy"):
                rules += 1
    return chains, sets, rules


def ipt_objects(ns, tool):
    out = subprocess.run(ns.cmd(tool.replace("-restore", "-save")), capture_output=True, text=True).stdout
    return (len(re.findall(r"^:", out, re.M)), 0, len(re.findall(r"^-A ", out, re.M)))


COMPETITORS = [
    # (name, shape written by gen_competitors.py, full-sync command, change command, objects)
    ("classic nft", "classic", lambda d: ["nft", "-f", os.path.join(d, "classic.nft")],
     lambda d: ["nft", "-f", os.path.join(d, "classic-change.nft")], objects),
    ("kp 1.36 nft", "kp136", lambda d: ["nft", "-f", os.path.join(d, "kp136.nft")],
     lambda d: ["nft", "-f", os.path.join(d, "kp136-change.nft")], objects),
    ("iptables-nft", "iptables", lambda d: ["iptables-nft-restore", os.path.join(d, "iptables.rules")],
     lambda d: ["iptables-nft-restore", "--noflush", os.path.join(d, "iptables-change.rules")],
     lambda ns: ipt_objects(ns, "iptables-nft-restore")),
    ("iptables-legacy", "iptables",
     lambda d: ["iptables-legacy-restore", os.path.join(d, "iptables.rules")],
     lambda d: ["iptables-legacy-restore", "--noflush", os.path.join(d, "iptables-change.rules")],
     lambda ns: ipt_objects(ns, "iptables-legacy-restore")),
]

# tool -> [(S, E, full sync seconds or None for "did not finish")], filled as cases run.
HISTORY = {}


def not_run(tool, s, e):
    """Why `tool` is not run at S x E (None: run it). A case is skipped when a smaller
    one already did not finish, or when its time, extrapolated from the two nearest
    smaller cases along S (same E) or along E (same S), is past half the cap (the
    growth steepens with size, so predictions run short): each such case would
    otherwise spend the whole cap to say "did not finish"."""
    past = HISTORY.get(tool, [])
    for ps, pe, t in past:
        if t is None and ps <= s and pe <= e:
            return "not run: %d x %d did not finish" % (ps, pe)
    guesses = []
    for axis in ("S", "E"):
        line = sorted((ps if axis == "S" else pe, t) for ps, pe, t in past
                      if t is not None and (pe == e and ps < s if axis == "S" else ps == s and pe < e))
        if len(line) < 2 or line[-2][1] < 0.05:
            continue
        (x1, t1), (x2, t2) = line[-2], line[-1]
        x = s if axis == "S" else e
        size = (lambda v: v) if axis == "S" else (lambda v: v + 1)  # E: endpoints plus the Service
        k = min(2.5, max(0.5, math.log(t2 / t1) / math.log(size(x2) / size(x1))))
        guesses.append((t2 * (size(x) / size(x2)) ** k, t2, x2, axis, k))
    if guesses:
        guess = max(guesses)
        if guess[0] > CAP * PREDICTION_SHARE:
            return "not run: predicted %.0f s (past %.0f s, half the cap) from %.1f s at %s = %d " \
                "(growth ^%.1f)" % (guess[0], CAP * PREDICTION_SHARE, guess[1], guess[3], guess[2],
                                   guess[4])
    return None


def run_case(svcnft, s, e, work):
    d = os.path.join(work, "%d-%d" % (s, e))
    subprocess.run([sys.executable, os.path.join(HERE, "gen_manifests.py"), "--services", str(s),
                    "--endpoints", str(e), "--out", d], check=True)
    skip = {tool: not_run(tool, s, e) for tool, *_ in COMPETITORS}
    shapes = sorted({shape for tool, shape, *_ in COMPETITORS if not skip[tool]})
    if shapes:
        subprocess.run([sys.executable, os.path.join(HERE, "gen_competitors.py"), "--services",
                        str(s), "--endpoints", str(e), "--out", d, "--only"] + shapes, check=True)
    man, node = os.path.join(d, "manifests.yaml"), os.path.join(d, "node-config.yaml")
    changed = os.path.join(d, "changed.yaml")
    # Service 0's endpoint 5 (or its last) moves, as in gen_competitors.py's -change files.
    moved = str(ipaddress.IPv4Address(int(ipaddress.IPv4Address("198.19.0.0")) + min(5, e - 1)))
    with open(man) as f, open(changed, "w") as g:
        g.write(f.read().replace('"%s"' % moved, '"198.19.250.5"', 1))
    rows = []

    # svcnft
    r = sh([svcnft, "compile", "-f", man, "--node-config", node, "--stats"], quiet=True)
    parse = float(re.search(r"parse ([\d.]+) ms", r[2]).group(1))
    comp = float(re.search(r"compile ([\d.]+) ms", r[2]).group(1))
    by_set = re.search(r"elements by set: (.*)", r[2]).group(1).strip()
    commit_ms = lambda r: float(re.search(r"commit ([\d.]+) ms", r[2]).group(1)) if r else float("nan")
    with Netns() as ns:
        full = sh(ns.cmd(svcnft, "apply", "-f", man, "--node-config", node))
        if full is None:
            rows.append(dict(tool="svcnft apply", full=None, why="past the %d s cap" % CAP))
        else:
            obj = objects(ns)
            elements = int(re.search(r"services, (\d+) elements", full[2]).group(1))
            ch = sh(ns.cmd(svcnft, "apply", "-f", changed, "--node-config", node))
            how = "refilled" if ch and "svcnft: refilled" in ch[2] else \
                "diffed against the state record" if ch and "read back nothing" in ch[2] else "diffed"
            # apply's own parse, compile and message building, from its summary line
            # (its compile leaves elements unsorted; `compile --stats` sorts them).
            own = re.search(r"messages ([\d.]+) ms.*after parse ([\d.]+) ms, compile ([\d.]+) ms",
                            full[2])
            if own:
                messages, parse, comp = (float(v) for v in own.groups())
            else:
                messages = float("nan")
            starts = agent_starts(ns, svcnft, man, node, work)
            rss = starts["rss"]
            rows.append(dict(tool="svcnft apply", full=full[0], kb=full[1], obj=obj,
                             change=ch[0] if ch else None, transaction=commit_ms(full) / 1000,
                             elements=elements, by_set=by_set, starts=starts,
                             extra="transaction %.0f ms; change transaction %.2f ms (%s); parse "
                                   "%.0f ms, compile %.0f ms, messages %.0f ms; agent RSS %s MB" % (
                                       commit_ms(full), commit_ms(ch), how, parse, comp, messages,
                                       rss)))
    # competitors
    for tool, shape, full_cmd, change_cmd, objf in COMPETITORS:
        if skip[tool]:
            HISTORY.setdefault(tool, []).append((s, e, None))
            rows.append(dict(tool=tool, full=None, why=skip[tool]))
            continue
        with Netns() as ns:
            try:
                full = sh(ns.cmd(*full_cmd(d)))
                why = "past the %d s cap" % CAP
            except RuntimeError as err:  # the tool gave up (iptables-legacy at 10,000 x 100)
                full, why = None, "failed: " + str(err).strip().splitlines()[-1][-120:]
            HISTORY.setdefault(tool, []).append((s, e, full[0] if full else None))
            if full is None:
                rows.append(dict(tool=tool, full=None, why=why))
                continue
            obj = objf(ns)
            ch = sh(ns.cmd(*change_cmd(d)))
            rows.append(dict(tool=tool, full=full[0], kb=full[1], obj=obj,
                             change=ch[0] if ch else None, extra=""))
    shutil.rmtree(d, ignore_errors=True)
    return rows


def idle_rss(watch):
    """The resident size (MB) of the agent watching `watch` once it is idle: its CPU
    time has not moved for a second (after its start it may run a second full sync,
    a drift check, when its own big transaction overran the event socket)."""
    pid = None
    for q in subprocess.run(["pgrep", "-f", "agent --watch " + watch], capture_output=True,
                            text=True).stdout.split():
        if "svcnft" in open("/proc/%s/comm" % q).read():
            pid = q
    if pid is None:
        return "?"
    cpu = lambda: sum(int(x) for x in open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()[11:13])
    last, still, deadline = cpu(), 0, time.time() + 120
    while still < 4 and time.time() < deadline:
        time.sleep(0.25)
        now = cpu()
        still = still + 1 if now == last else 0
        last = now
    return "%.0f" % (int(re.search(r"VmRSS:\s+(\d+)", open("/proc/%s/status" % pid).read()).group(1)) / 1024)


def start_to_ready(ns, svcnft, watch, node, log):
    """Starts the agent on `watch` and returns (process, seconds from its start to
    /healthz 200), or (process, None) when it was not ready within the cap."""
    t0 = time.time()
    p = subprocess.Popen(ns.cmd(svcnft, "agent", "--watch", watch, "--node-config", node,
                                "--metrics-bind", ""), stdout=subprocess.DEVNULL, stderr=log)
    deadline = t0 + CAP
    while time.time() < deadline and p.poll() is None:
        ok = subprocess.run(ns.cmd("curl", "-s", "-f", "-o", "/dev/null",
                                   "http://127.0.0.1:10256/healthz")).returncode == 0
        if ok:
            return p, time.time() - t0
        time.sleep(0.02)
    return p, None


def record_uses(log):
    """How often the agent's log says a start took the kernel from its state record
    (whole, or its digest past the record's element limit)."""
    return log.count("the kernel still holds what the state record")


def agent_starts(ns, svcnft, man, node, work):
    """The agent in the namespace `svcnft apply` filled: its time from start to ready
    (/healthz 200) adopting the installed table, its resident size once idle; then
    stopped with SIGTERM and started again: restart to ready. Both starts may use
    the state record (apply's, then the agent's own from its clean stop); whether
    the restart did is reported."""
    watch = tempfile.mkdtemp(dir=work)
    shutil.copy(man, os.path.join(watch, "manifests.yaml"))
    log_path = os.path.join(work, "agent-start.log")
    out = dict(ready=None, rss="?", restart=None, record=False)
    with open(log_path, "w") as log:
        p, out["ready"] = start_to_ready(ns, svcnft, watch, node, log)
        if out["ready"] is not None:
            out["rss"] = idle_rss(watch)
        p.terminate()
        p.wait(timeout=CAP)
        before = record_uses(open(log_path).read())
        p, out["restart"] = start_to_ready(ns, svcnft, watch, node, log)
        p.terminate()
        p.wait(timeout=CAP)
    out["record"] = record_uses(open(log_path).read()) > before
    shutil.rmtree(watch, ignore_errors=True)
    return out


def first_packet(svcnft, latency_tool, services, work, count=5000):
    """TCP connect p50/p99 (us) from a client namespace to the first and the last of
    S ClusterIPs (all DNATed to one nginx pod), and to the pod's own address through
    the same node with no DNAT: the physical floor."""
    cluster = os.path.join(HERE, "..", "scripts", "netns-cluster")
    prefix = "lat%d" % os.getpid()
    vip = lambda i: ip(int(ipaddress.IPv4Address("198.18.128.0" if i < 32768 else "198.19.128.0")),
                       i % 32768)
    subprocess.run([cluster, "up", prefix, "1"], check=True, stdout=subprocess.DEVNULL)
    try:
        on = lambda name, *a: ["ip", "netns", "exec", "%s-%s" % (prefix, name)] + list(a)
        subprocess.run(on("client", "ip", "route", "add", "198.18.128.0/17", "via", "198.18.0.1"), check=True)
        # Past 32,768 Services the ClusterIPs go on in 198.19.128.0/17.
        subprocess.run(on("client", "ip", "route", "add", "198.19.128.0/17", "via", "198.18.0.1"), check=True)
        subprocess.run(on("client", "ip", "route", "add", "198.18.1.0/24", "via", "198.18.0.1"), check=True)
        man = os.path.join(work, "latency.yaml")
        with open(man, "w") as f:
            for i in range(services):
                f.write("apiVersion: v1\nkind: Service\nmetadata: {name: s%d, namespace: bench}\n"
                        "spec: {clusterIP: %s, ports: [{name: http, port: 80}]}\n---\n"
                        "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
                        "metadata: {name: s%d, namespace: bench, labels: {kubernetes.io/service-name: s%d}}\n"
                        "addressType: IPv4\nports: [{name: http, port: 80}]\n"
                        "endpoints: [{addresses: [198.18.1.11], nodeName: k8s-node01}]\n---\n"
                        % (i, vip(i), i, i))
        node = os.path.join(work, "latency-node.yaml")
        with open(node, "w") as f:
            f.write("nodeName: k8s-node01\nnodeIPs: [198.18.0.1]\n"
                    "clusterCIDRs: [198.18.1.0/24, 198.18.2.0/24, 198.18.3.0/24]\n")
        subprocess.run(on("node1", svcnft, "apply", "-f", man, "--node-config", node), check=True,
                       stderr=subprocess.DEVNULL)
        targets = [("first", vip(0)), ("last", vip(services - 1)), ("direct", "198.18.1.11")]
        settle()  # no namespace teardown of an earlier case billed to this
        addrs = [addr for _, addr in targets]
        subprocess.run(on("client", latency_tool, "80", "200", *addrs), capture_output=True)  # warm up
        # The targets in turn, connection by connection: drift of the machine over the
        # run touches all three alike.
        r = subprocess.run(on("client", latency_tool, "80", str(count), *addrs),
                           capture_output=True, text=True, timeout=CAP)
        out = {}
        for (name, _), line in zip(targets, r.stdout.splitlines()):
            p50, p99, failed = line.split()
            out[name] = (float(p50) if p50 != "-" else float("nan"),
                         float(p99) if p99 != "-" else float("nan"), int(failed))
        return out
    finally:
        subprocess.run([cluster, "down", prefix])


def ip(base, i):
    return str(ipaddress.IPv4Address(base + i))


def nearest_rank(values, q):
    """The q-quantile by nearest rank: with 1,000 samples p99 is the 990th, not the maximum."""
    if not values:
        return float("nan")
    return values[max(0, math.ceil(q * len(values)) - 1)]


def agent_latency(svcnft, services, endpoints, work, changes):
    """Programming latency over `changes` one-endpoint changes, with one file per
    Service as a watched directory holds them: from the moment the changed file is
    renamed into place (our clock) to the kernel commit (the agent's clock, the same
    wall clock). Also the agent's own figure, which starts when it reads the inotify
    event. Returns (write->commit median, p99, max ms; agent's own median ms;
    RSS MB after the changes; samples)."""
    watch = os.path.join(work, "watch")
    subprocess.run([sys.executable, os.path.join(HERE, "gen_manifests.py"), "--services",
                    str(services), "--endpoints", str(endpoints), "--out", watch,
                    "--per-service-files"], check=True)
    node = os.path.join(work, "agent-node.yaml")
    shutil.move(os.path.join(watch, "node-config.yaml"), node)
    log = os.path.join(work, "agent.log")
    with Netns() as ns, open(log, "w") as logf:
        p = subprocess.Popen(ns.cmd(svcnft, "agent", "--watch", watch, "--node-config", node,
                                    "--min-sync-interval", "1ms"), stdout=subprocess.DEVNULL,
                             stderr=logf)
        try:
            deadline = time.time() + CAP
            while time.time() < deadline and subprocess.run(
                    ns.cmd("curl", "-s", "-f", "-o", "/dev/null", "http://127.0.0.1:10256/healthz")).returncode:
                time.sleep(0.1)
            written = []
            for k in range(changes):
                i = (k * 7919) % services
                path = os.path.join(watch, "svc-%d.yaml" % i)
                text = open(path).read()
                moved = text.replace("\"198.19.", "\"198.18.", 1) if "\"198.19." in text else \
                    text.replace("\"198.18.", "\"198.19.", 1)
                before = open(log).read().count("programming latency")
                with open(path + ".tmp", "w") as f:
                    f.write(moved)
                written.append(time.time())
                os.rename(path + ".tmp", path)  # into place, as kubectl and editors do
                while time.time() < deadline and open(log).read().count("programming latency") == before:
                    time.sleep(0.001)
            text = open(log).read()
            own = sorted(float(x) for x in re.findall(r"programming latency ([\d.]+) ms", text))
            commits = [float(x) for x in re.findall(r"committed at ([\d.]+)", text)]
            rss = idle_rss(watch)
        finally:
            p.terminate()
            p.wait(timeout=30)
    in_order = [(c - w) * 1000 for w, c in zip(written, commits)]
    lat = sorted(in_order)
    # The first change after start apart: it used to cost more, growing with S.
    first = in_order[0] if in_order else float("nan")
    return (nearest_rank(lat, 0.5), nearest_rank(lat, 0.99), lat[-1] if lat else float("nan"),
            nearest_rank(own, 0.5), rss, len(lat), first)


def fmt_s(v):
    return "did not finish" if v is None else ("%.3f" % v if v < 10 else "%.1f" % v)


def fmt_opt(v, f="%.2f"):
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f % v


def paths_table(results, agent):
    """svcnft's own paths per case (issue 13): full sync against the kernel's own
    transaction time, elements per endpoint, the one-shot change, restart to ready,
    the agent's memory per endpoint, and its first change after start."""
    lines = ["| S x E | full sync s | kernel transaction s | full / transaction | elements | "
             "elements per endpoint | `apply` one-endpoint change s | agent start to ready s "
             "(after apply) | restart to ready s (state record) | agent RSS MB | RSS bytes per "
             "endpoint | first change after start ms / median ms |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for (s, e), rows in results.items():
        r = next(x for x in rows if x["tool"] == "svcnft apply")
        if r["full"] is None:
            lines.append("| %d x %d | did not finish | | | | | | | | | | |" % (s, e))
            continue
        st = r["starts"]
        rss = float(st["rss"]) if st["rss"] != "?" else None
        a = agent.get((s, e))
        lines.append("| %d x %d | %s | %s | %s | %d | %.2f | %s | %s | %s | %s | %s | %s |" % (
            s, e, fmt_s(r["full"]), fmt_s(r["transaction"]),
            fmt_opt(r["full"] / r["transaction"] if r["transaction"] else None),
            r["elements"], r["elements"] / (s * e), fmt_s(r["change"]),
            fmt_opt(st["ready"]), fmt_opt(st["restart"]) + ("" if st["record"] else " (read back)"),
            fmt_opt(rss, "%.0f"), fmt_opt(rss * 1024 * 1024 / (s * e) if rss else None, "%.0f"),
            "%s / %s" % (fmt_opt(a[6]), fmt_opt(a[0])) if a else "-"))
    return lines


def targets_table(results, agent):
    """Issue 13's targets, each against what this run measured."""
    def svc(s, e):
        rows = results.get((s, e))
        return next((x for x in rows if x["tool"] == "svcnft apply"), None) if rows else None
    def cell(s, e, f):
        r = svc(s, e)
        return f(r) if r and r["full"] is not None else "not run"
    lines = ["| target (issue 13) | measured |", "|---|---|"]
    lines.append("| `apply` one-endpoint change under 0.3 s at 10,000 x 10 | %s |"
                 % cell(10000, 10, lambda r: fmt_s(r["change"]) + " s"))
    restart = lambda r: fmt_opt(r["starts"]["restart"]) + " s" + (
        "" if r["starts"]["record"] else " (no state record: read back)")
    lines.append("| restart to ready under 1 s at 10,000 x 10 | %s |" % cell(10000, 10, restart))
    lines.append("| restart to ready under 10 s at 50,000 x 100 | %s |" % cell(50000, 100, restart))
    for s_, e_ in ((10000, 10), (50000, 10)):
        lines.append("| full sync at most 1.5x the kernel transaction at %d x %d | %s |" % (
            s_, e_, cell(s_, e_, lambda r: "%.2fx (%s s against %s s)" % (
                r["full"] / r["transaction"], fmt_s(r["full"]), fmt_s(r["transaction"])))))
    lines.append("| at most 140,000 kernel elements at 10,000 x 10 | %s |"
                 % cell(10000, 10, lambda r: "{:,} (by set: {})".format(
                     r["elements"], r.get("by_set", "?"))))
    lines.append("| peak RSS of a full sync under 1 GB at 50,000 x 100 | %s |"
                 % cell(50000, 100, lambda r: "%.0f MB" % (r["kb"] / 1024)))
    lines.append("| agent RSS at most 80 bytes per endpoint at 50,000 x 100 | %s |" % cell(
        50000, 100, lambda r: "%s bytes" % fmt_opt(float(r["starts"]["rss"]) * 1048576 / 5e6, "%.0f")
        if r["starts"]["rss"] != "?" else "-"))
    lines.append("| agent RSS under 32 MB at 10,000 x 10 | %s |"
                 % cell(10000, 10, lambda r: r["starts"]["rss"] + " MB"))
    firsts = ["%s: %s ms first, %s ms median" % ("%d x %d" % k, fmt_opt(v[6]), fmt_opt(v[0]))
              for k, v in agent.items()]
    lines.append("| the first partial sync after start costs what later ones do | %s |"
                 % ("; ".join(firsts) or "not run"))
    return lines


def plots(results, agent, out_dir):
    """PNG plots next to the page: full sync time and peak memory against S for
    every loader (log-log, one panel per E, a run past the cap marked at the cap),
    and the one-endpoint change time. Returns the file names written."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    tools = ["svcnft apply"] + [t for t, *_ in COMPETITORS]
    es = sorted({e for _, e in results})
    written = []

    def panel_plot(name, value, ylabel, title):
        fig, axes = plt.subplots(1, len(es), figsize=(4.2 * len(es), 3.8), squeeze=False)
        for ax, e in zip(axes[0], es):
            for tool in tools:
                pts, capped = [], []
                for (s, e2), rows in sorted(results.items()):
                    r = next((x for x in rows if x["tool"] == tool), None)
                    if e2 != e or r is None:
                        continue
                    v = value(r)
                    if v is not None:
                        pts.append((s, v))
                    elif r["full"] is None and ("cap" in r.get("why", "") or
                                                "predicted" in r.get("why", "")):
                        capped.append(s)  # past the cap, or predicted past it and not run
                if pts:
                    line, = ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=tool)
                    if capped and name == "full-sync":
                        ax.plot(capped, [CAP] * len(capped), marker="^", linestyle="none",
                                color=line.get_color())
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("Services")
            ax.set_title("%s, E = %d" % (title, e))
            ax.grid(True, which="both", alpha=0.3)
        axes[0][0].set_ylabel(ylabel)
        axes[0][-1].legend(fontsize=7)
        fig.tight_layout()
        path = os.path.join(out_dir, "bench-%s.png" % name)
        fig.savefig(path, dpi=90)
        plt.close(fig)
        written.append(os.path.basename(path))

    panel_plot("full-sync", lambda r: r["full"], "seconds (triangle: at the cap, did not finish)",
               "Full sync")
    panel_plot("change", lambda r: r["change"] if r["full"] is not None else None,
               "seconds", "One-endpoint change (one-shot)")
    panel_plot("memory", lambda r: r["kb"] / 1024 if r["full"] is not None else None,
               "peak MB", "Peak memory, full sync")
    if agent:
        fig, ax = plt.subplots(figsize=(5, 3.8))
        for e in es:
            pts = sorted((s, v[0], v[1]) for (s, e2), v in agent.items() if e2 == e)
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label="median, E = %d" % e)
                ax.plot([p[0] for p in pts], [p[2] for p in pts], marker="x", linestyle="--",
                        label="p99, E = %d" % e)
        ax.set_xscale("log")
        ax.set_xlabel("Services")
        ax.set_ylabel("ms, file renamed to kernel commit")
        ax.set_title("Agent: one-endpoint change")
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        path = os.path.join(out_dir, "bench-agent-change.png")
        fig.savefig(path, dpi=90)
        plt.close(fig)
        written.append(os.path.basename(path))
    return written


def main():
    global CAP
    ap = argparse.ArgumentParser()
    ap.add_argument("svcnft")
    ap.add_argument("connect_latency")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=None)
    ap.add_argument("--cases", default=None, help="SxE,... instead of the grid (e.g. 100x1,100x10)")
    ap.add_argument("--seed", default=None, help="an earlier run's output: its competitor times")
    ap.add_argument("--cap", type=int, default=240, help="seconds before a command did not finish")
    ap.add_argument("--skip-loads", action="store_true",
                    help="only first-packet latency and the agent (resuming a run that has the loads)")
    a = ap.parse_args()
    CAP = a.cap
    started = time.time()
    cases = [(1000, 10), (10000, 10)] if a.quick else \
        [(s, e) for s in (1000, 10000, 50000) for e in (1, 10, 100)]
    if a.cases:
        cases = [tuple(int(v) for v in c.split("x")) for c in a.cases.split(",")]
    if a.seed:
        # Competitors' full-sync times from an earlier run's table: what not_run()
        # extrapolates from when a grid is resumed with --cases.
        for m in re.finditer(r"^\| (\d+) x (\d+) \| ([^|]+?) \| ([^|]+?) \|", open(a.seed).read(), re.M):
            tool, full = m.group(3), m.group(4)
            if tool != "svcnft apply":
                HISTORY.setdefault(tool, []).append((int(m.group(1)), int(m.group(2)),
                                                     None if "did not" in full else float(full)))
    work = tempfile.mkdtemp(prefix="svcnft-bench-")
    # Each case's namespace leaves a state record of its table: keep them with the
    # work files (removed with them), not in /run/svcnft.
    os.environ.setdefault("SVCNFT_STATE_DIR", os.path.join(work, "state-records"))
    lines = ["| S x E | loader | full sync s | vs classic | peak MB | chains / sets / rules | "
             "one-endpoint change s | vs classic | notes |",
             "|---|---|---|---|---|---|---|---|---|"]
    results = {}
    agent_results = {}
    try:
        for s, e in ([] if a.skip_loads else cases):
            rows = run_case(a.svcnft, s, e, work)
            results[(s, e)] = rows
            classic = next(r for r in rows if r["tool"] == "classic nft")
            for r in rows:
                if r["full"] is None:
                    lines.append("| %d x %d | %s | did not finish | | | | | | %s |" % (
                        s, e, r["tool"], r["why"]))
                    continue
                def ratio(k):
                    if classic.get(k) and r.get(k):
                        return "%.1fx" % (classic[k] / r[k])
                    if k == "full" and classic["full"] is None:  # classic: past the cap
                        return "> %.0fx" % (CAP / r[k])
                    return ""
                lines.append("| %d x %d | %s | %s | %s | %.0f | %d / %d / %d | %s | %s | %s |" % (
                    s, e, r["tool"], fmt_s(r["full"]), ratio("full"), r["kb"] / 1024,
                    r["obj"][0], r["obj"][1], r["obj"][2], fmt_s(r["change"]), ratio("change"),
                    r["extra"]))
            print("\n".join(lines[-len(rows):]), flush=True)
        lat = ["| Services | first Service p50 / p99 us | last Service p50 / p99 us | direct (no DNAT) p50 / p99 us | last / first (p50) | first / direct (p50) | failed |",
               "|---|---|---|---|---|---|---|"]
        for s in sorted({s for s, _ in cases}):
            work2 = tempfile.mkdtemp(prefix="svcnft-lat-")
            try:
                r = first_packet(a.svcnft, a.connect_latency, s, work2)
            finally:
                shutil.rmtree(work2, ignore_errors=True)
            lat.append("| %d | %.0f / %.0f | %.0f / %.0f | %.0f / %.0f | %.2f | %.2f | %d |" % (
                s, r["first"][0], r["first"][1], r["last"][0], r["last"][1], r["direct"][0],
                r["direct"][1], r["last"][0] / r["first"][0], r["first"][0] / r["direct"][0],
                r["first"][2] + r["last"][2] + r["direct"][2]))
            print(lat[-1], flush=True)
        agent = ["| Services x endpoints (one file per Service) | changes | file renamed to kernel commit: median ms | p99 ms | max ms | first change after start ms | agent's own (event read to commit) median ms | agent RSS MB |",
                 "|---|---|---|---|---|---|---|---|"]
        for s, e in cases:
            n = 100 if a.quick else 1000  # p99 needs more than 100 samples to differ from the max
            work3 = tempfile.mkdtemp(prefix="svcnft-agent-")
            try:
                res = agent_latency(a.svcnft, s, e, work3, n)
            finally:
                shutil.rmtree(work3, ignore_errors=True)
            agent_results[(s, e)] = res
            med, p99, worst, own, rss, got, first = res
            agent.append("| %d x %d | %d | %.2f | %.2f | %.1f | %.2f | %.2f | %s |" % (
                s, e, got, med, p99, worst, first, own, rss))
            print(agent[-1], flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    paths = paths_table(results, agent_results) if results else []
    targets = targets_table(results, agent_results) if results else []
    table = "\n".join(lines) + "\n\nFirst-packet latency (TCP connect, 5,000 connections each):\n\n" + \
        "\n".join(lat) + "\n\nAgent: one-endpoint changes, from the changed file renamed into place to the kernel commit (p99 by nearest rank; the max includes the first change after start):\n\n" + \
        "\n".join(agent)
    print("\n" + table + "\n\n" + "\n".join(paths) + "\n\n" + "\n".join(targets))
    elapsed = time.time() - started
    print("bench: the run took %.1f minutes" % (elapsed / 60))
    if a.out:
        out_dir = os.path.dirname(os.path.abspath(a.out))
        pictures = plots(results, agent_results, out_dir) if results else []
        machine = subprocess.run(["sh", "-c", "echo \"$(nproc) cores, $(free -g | awk '/Mem/{print $2}') GiB,"
                                  " kernel $(uname -r), $(nft --version), $(iptables-nft-restore --version 2>&1 | head -1)\""],
                                 capture_output=True, text=True).stdout.strip()
        commit = subprocess.run(["git", "-C", HERE, "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip() or "unknown"
        with open(a.out, "w") as f:
            f.write("# Benchmarks\n\nGenerated by `scripts/bench%s` on %s, in one run of %.0f "
                    "minutes, from one build (commit %s): %s.\n\n"
                    "Ratios: how many times faster than kube-proxy's classic nftables shape loaded "
                    "with `nft -f` (higher is better). Full sync into an empty namespace; the "
                    "change moves one endpoint of one Service (svcnft: `svcnft apply` of the whole "
                    "changed input, which diffs against its state record of the last commit, or "
                    "reads the table back; the transaction alone is in the notes). "
                    "A command still running after %d s did not finish; a case is not run when a "
                    "smaller one did not finish or when its time, extrapolated from the two "
                    "nearest smaller cases, is past half that cap (the note says so).\n\n%s\n"
                    % (" --quick" if a.quick else "", time.strftime("%Y-%m-%d"), elapsed / 60,
                       commit, machine, CAP, table))
            if pictures:
                f.write("\n## Plots\n\n" + "\n".join("![%s](%s)" % (p[6:-4], p) for p in pictures) + "\n")
            if paths:
                f.write("\n## svcnft's own paths\n\nPer case, from the same run: the full sync "
                        "against the kernel's own transaction (the floor of every full sync), "
                        "kernel elements per endpoint, the one-shot change, the agent started "
                        "in the namespace `apply` filled (ready: /healthz 200) and then restarted "
                        "after a clean stop, its resident memory, and its first change after "
                        "start against the median (from the agent table). Where the elements "
                        "go (the targets table lists them by set at 10,000 x 10): backends, one "
                        "per endpoint bucket (one per endpoint at weight 1); service-ips and lb, "
                        "one each per Service port and address; hairpin, one per distinct "
                        "address of this node's own endpoints (the generator puts endpoints 0, "
                        "3, 6 and 9 of each Service on this node, addresses repeating every "
                        "65,536: 33,106 of them at 10,000 x 10).\n\n"
                        + "\n".join(paths) + "\n")
            if targets:
                f.write("\n## The targets (issue 13)\n\n" + "\n".join(targets) + "\n")


if __name__ == "__main__":
    main()
