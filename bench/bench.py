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
(10 min) counts as "did not finish".
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
    smaller cases along S (same E) or along E (same S), is past the cap: each such
    case would otherwise spend the whole cap to say "did not finish"."""
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
        if guess[0] > CAP:
            return "not run: predicted %.0f s from %.1f s at %s = %d (growth ^%.1f)" % (
                guess[0], guess[1], guess[3], guess[2], guess[4])
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
    commit_ms = lambda r: float(re.search(r"commit ([\d.]+) ms", r[2]).group(1)) if r else float("nan")
    with Netns() as ns:
        full = sh(ns.cmd(svcnft, "apply", "-f", man, "--node-config", node))
        if full is None:
            rows.append(dict(tool="svcnft apply", full=None, why="past the %d s cap" % CAP))
        else:
            obj = objects(ns)
            ch = sh(ns.cmd(svcnft, "apply", "-f", changed, "--node-config", node))
            how = "refilled" if ch and "svcnft: refilled" in ch[2] else "diffed"
            rss = agent_rss(ns, svcnft, man, node, work)
            rows.append(dict(tool="svcnft apply", full=full[0], kb=full[1], obj=obj,
                             change=ch[0] if ch else None,
                             extra="transaction %.0f ms; change transaction %.2f ms (%s); parse "
                                   "%.0f ms, compile %.0f ms; agent RSS %s MB" % (
                                       commit_ms(full), commit_ms(ch), how, parse, comp, rss)))
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


def agent_rss(ns, svcnft, man, node, work):
    """The agent's resident size once it has adopted the installed table (healthz 200)
    and gone idle."""
    watch = tempfile.mkdtemp(dir=work)
    shutil.copy(man, os.path.join(watch, "manifests.yaml"))
    p = subprocess.Popen(ns.cmd(svcnft, "agent", "--watch", watch, "--node-config", node,
                                "--metrics-bind", ""),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rss = "?"
    deadline = time.time() + CAP
    while time.time() < deadline and p.poll() is None:
        time.sleep(0.2)
        ok = subprocess.run(ns.cmd("curl", "-s", "-f", "-o", "/dev/null",
                                   "http://127.0.0.1:10256/healthz")).returncode == 0
        if not ok:
            continue
        rss = idle_rss(watch)
        break
    p.terminate()
    p.wait(timeout=30)
    shutil.rmtree(watch, ignore_errors=True)
    return rss


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
    lat = sorted((c - w) * 1000 for w, c in zip(written, commits))
    return (nearest_rank(lat, 0.5), nearest_rank(lat, 0.99), lat[-1] if lat else float("nan"),
            nearest_rank(own, 0.5), rss, len(lat))


def fmt_s(v):
    return "did not finish" if v is None else ("%.3f" % v if v < 10 else "%.1f" % v)


def main():
    global CAP
    ap = argparse.ArgumentParser()
    ap.add_argument("svcnft")
    ap.add_argument("connect_latency")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=None)
    ap.add_argument("--cases", default=None, help="SxE,... instead of the grid (e.g. 100x1,100x10)")
    ap.add_argument("--seed", default=None, help="an earlier run's output: its competitor times")
    ap.add_argument("--cap", type=int, default=600, help="seconds before a command did not finish")
    ap.add_argument("--skip-loads", action="store_true",
                    help="only first-packet latency and the agent (resuming a run that has the loads)")
    a = ap.parse_args()
    CAP = a.cap
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
    try:
        for s, e in ([] if a.skip_loads else cases):
            rows = run_case(a.svcnft, s, e, work)
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
        agent = ["| Services x endpoints (one file per Service) | changes | file renamed to kernel commit: median ms | p99 ms | max ms | agent's own (event read to commit) median ms | agent RSS MB |",
                 "|---|---|---|---|---|---|---|"]
        for s, e in cases:
            n = 100 if a.quick else 1000  # p99 needs more than 100 samples to differ from the max
            work3 = tempfile.mkdtemp(prefix="svcnft-agent-")
            try:
                med, p99, worst, own, rss, got = agent_latency(a.svcnft, s, e, work3, n)
            finally:
                shutil.rmtree(work3, ignore_errors=True)
            agent.append("| %d x %d | %d | %.2f | %.2f | %.1f | %.2f | %s |" % (
                s, e, got, med, p99, worst, own, rss))
            print(agent[-1], flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    table = "\n".join(lines) + "\n\nFirst-packet latency (TCP connect, 5,000 connections each):\n\n" + \
        "\n".join(lat) + "\n\nAgent: one-endpoint changes, from the changed file renamed into place to the kernel commit (p99 by nearest rank; the max includes the first change after start):\n\n" + \
        "\n".join(agent)
    print("\n" + table)
    if a.out:
        machine = subprocess.run(["sh", "-c", "echo \"$(nproc) cores, $(free -g | awk '/Mem/{print $2}') GiB,"
                                  " kernel $(uname -r), $(nft --version), $(iptables-nft-restore --version 2>&1 | head -1)\""],
                                 capture_output=True, text=True).stdout.strip()
        with open(a.out, "w") as f:
            f.write("# Benchmarks\n\nGenerated by `scripts/bench%s` on %s: %s.\n\n"
                    "Ratios: how many times faster than kube-proxy's classic nftables shape loaded "
                    "with `nft -f` (higher is better). Full sync into an empty namespace; the "
                    "change moves one endpoint of one Service (svcnft: `svcnft apply`, which also "
                    "reads the table back and diffs; the transaction alone is in the notes). "
                    "A command still running after %d s did not finish; a case is not run when a "
                    "smaller one did not finish or when its time, extrapolated from the two "
                    "nearest smaller cases, is past that cap (the note says so).\n\n%s\n"
                    % (" --quick" if a.quick else "", time.strftime("%Y-%m-%d"), machine, CAP,
                       table))


if __name__ == "__main__":
    main()
