#!/usr/bin/env python3
"""The Kubernetes API source, measured against a real kube-apiserver.

For each S Services x E endpoints: a kube-apiserver (with Debian's etcd) in a
namespace of its own, S Services and S EndpointSlices written to it through its
API, then `svcnft agent --kubeconfig` started in a node namespace. Reported:
  - the API server's own time to list every Service and EndpointSlice (pages of 500),
  - agent start to its first kernel commit,
  - the agent's RSS once idle,
  - programming latency: an EndpointSlice written through the API (its
    last-change-trigger-time set just before the write) to the agent's kernel
    commit, median and p99 over CHANGES changes (the agent's own measure, logged as
    "network programming latency").
Targets: first commit within 3 s at 10,000 x 10; p99 under 50 ms.

Usage: api_bench.py SVCNFT KAS_TOOLS [--cases 1000x10,10000x10] [--changes 100]
                    [--out docs/benchmarks.md]
Subcommands run inside the API server's namespace: load, list, change."""
import argparse
import datetime
import http.client
import json
import os
import re
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time

BEGIN = "<!-- api-bench begin -->"
END = "<!-- api-bench end -->"


def client(kas):
    env = dict(line.strip().split("=", 1) for line in open(os.path.join(kas, "env")) if "=" in line)
    host, port = env["KUBE_APISERVER_URL"].replace("https://", "").rsplit(":", 1)
    ctx = ssl.create_default_context(cafile=os.path.join(kas, "pki", "ca.crt"))
    ctx.load_cert_chain(os.path.join(kas, "pki", "admin.crt"), os.path.join(kas, "pki", "admin.key"))
    return lambda: http.client.HTTPSConnection(host, int(port), context=ctx, timeout=60)


def request(conn, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    conn.request(method, path, body=data, headers={"Content-Type": "application/json",
                                                   "Accept": "application/json"})
    r = conn.getresponse()
    payload = r.read()
    if r.status >= 300:
        raise RuntimeError("%s %s: %d %s" % (method, path, r.status, payload[:300]))
    return json.loads(payload) if payload else None


def slice_of(i, endpoints, shift=0, trigger=None):
    meta = {"name": "svc-%d-abc" % i, "namespace": "default",
            "labels": {"kubernetes.io/service-name": "svc-%d" % i}}
    if trigger:
        meta["annotations"] = {"endpoints.kubernetes.io/last-change-trigger-time": trigger}
    eps = []
    for j in range(endpoints):
        n = i * endpoints + j + shift
        # Pod addresses in 198.19.0.0/16 (198.18.0.0/15's upper half).
        eps.append({"addresses": ["198.19.%d.%d" % ((n // 250) % 256, n % 250 + 1)],
                    "conditions": {"ready": True}})
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": meta,
            "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": eps}


def load(kas, services, endpoints, threads=8):
    make = client(kas)
    errors = []

    def work(start):
        conn = make()
        try:
            for i in range(start, services, threads):
                request(conn, "POST", "/api/v1/namespaces/default/services", {
                    "apiVersion": "v1", "kind": "Service",
                    "metadata": {"name": "svc-%d" % i, "namespace": "default"},
                    "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]}})
                request(conn, "POST", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices",
                        slice_of(i, endpoints))
        except Exception as e:  # reported below
            errors.append(str(e))

    ts = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise RuntimeError(errors[0])


def list_all(kas):
    conn = client(kas)()
    t0 = time.time()
    for path in ("/api/v1/services", "/apis/discovery.k8s.io/v1/endpointslices"):
        cont = ""
        while True:
            r = request(conn, "GET", path + "?limit=500" + ("&continue=" + cont if cont else ""))
            cont = r["metadata"].get("continue", "")
            if not cont:
                break
    return time.time() - t0


def change(kas, services, endpoints, count, log):
    conn = client(kas)()
    latencies = []
    for k in range(count):
        i = (k * 7919) % services
        before = open(log).read().count("network programming latency")
        now = datetime.datetime.now(datetime.timezone.utc)
        trigger = now.strftime("%Y-%m-%dT%H:%M:%S.") + "%06dZ" % now.microsecond
        request(conn, "PUT", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/svc-%d-abc" % i,
                slice_of(i, endpoints, shift=1 + k, trigger=trigger))
        deadline = time.time() + 10
        while time.time() < deadline:
            text = open(log).read()
            if text.count("network programming latency") > before:
                latencies.append(float(re.findall(r"network programming latency ([\d.]+) ms", text)[-1]))
                break
            time.sleep(0.002)
        else:
            raise RuntimeError("change %d never reached the kernel" % k)
        time.sleep(0.02)
    return latencies


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def run_case(svcnft, kas_tools, services, endpoints, changes):
    tag = "bapi%d" % os.getpid()
    cp, node = tag + "-cp", tag + "-node"
    work = tempfile.mkdtemp(prefix="svcnft-api-bench-")
    kas = os.path.join(work, "kas")
    agent = None
    try:
        for ns in (cp, node):
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "link", "add", "eth0", "netns", cp, "type", "veth", "peer", "name", "eth0", "netns", node)
        sh("ip", "-n", cp, "addr", "add", "198.18.0.250/24", "dev", "eth0")
        sh("ip", "-n", node, "addr", "add", "198.18.0.1/24", "dev", "eth0")
        for ns in (cp, node):
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
        env = dict(os.environ, KUBE_APISERVER_ADDRESS="198.18.0.250")
        sh("ip", "netns", "exec", cp, os.path.join(kas_tools, "start"), kas, env=env,
           stdout=subprocess.DEVNULL)
        me = os.path.abspath(__file__)
        t0 = time.time()
        sh("ip", "netns", "exec", cp, sys.executable, me, "load", kas, str(services), str(endpoints))
        load_s = time.time() - t0
        out = subprocess.run(["ip", "netns", "exec", cp, sys.executable, me, "list", kas],
                             check=True, capture_output=True, text=True).stdout
        list_s = float(out.strip())
        log = os.path.join(work, "agent.log")
        with open(os.path.join(work, "node.yaml"), "w") as f:
            f.write("clusterCIDRs: [198.19.0.0/16]\n")
        t0 = time.time()
        agent = subprocess.Popen(["ip", "netns", "exec", node, svcnft, "agent", "--kubeconfig",
                                  os.path.join(kas, "kubeconfig"), "--hostname-override", "node1",
                                  "--node-config", os.path.join(work, "node.yaml"),
                                  "--min-sync-interval", "1ms", "--healthz-bind", "",
                                  "--metrics-bind", ""],
                                 stdout=open(log, "w"), stderr=subprocess.STDOUT)
        first = None
        while time.time() - t0 < 120:
            if "first sync:" in open(log).read():
                first = time.time() - t0
                break
            time.sleep(0.005)
        if first is None:
            raise RuntimeError("no first sync within 120 s: " + open(log).read()[-500:])
        time.sleep(2)
        rss = rss_of(agent.pid)
        out = subprocess.run(["ip", "netns", "exec", cp, sys.executable, me, "change", kas,
                              str(services), str(endpoints), str(changes), log],
                             check=True, capture_output=True, text=True).stdout
        lat = sorted(json.loads(out))
        p99 = lat[min(len(lat) - 1, int(round(0.99 * (len(lat) - 1))))]
        return {"services": services, "endpoints": endpoints, "load_s": load_s, "list_s": list_s,
                "first_s": first, "rss_mb": rss / 1024, "median_ms": statistics.median(lat),
                "p99_ms": p99, "changes": len(lat)}
    finally:
        if agent:
            agent.terminate()
            agent.wait()
        subprocess.run(["ip", "netns", "exec", cp, os.path.join(kas_tools, "stop"), kas],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for ns in (cp, node):
            subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)


def rss_of(pid):
    """VmRSS in KB of the agent (`ip netns exec` execs it, so the pid is the agent's)."""
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main():
    if len(sys.argv) > 1 and sys.argv[1] in ("load", "list", "change"):
        what, kas = sys.argv[1], sys.argv[2]
        if what == "load":
            load(kas, int(sys.argv[3]), int(sys.argv[4]))
        elif what == "list":
            print("%.3f" % list_all(kas))
        else:
            print(json.dumps(change(kas, int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]),
                                    sys.argv[6])))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("svcnft")
    ap.add_argument("kas_tools")
    ap.add_argument("--cases", default="1000x10,10000x10")
    ap.add_argument("--changes", type=int, default=100)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    rows = []
    for case in a.cases.split(","):
        s, e = (int(x) for x in case.split("x"))
        r = run_case(os.path.abspath(a.svcnft), os.path.abspath(a.kas_tools), s, e, a.changes)
        print("api %dx%d: load %.1f s, API list %.2f s, first commit %.2f s, RSS %.1f MB, "
              "programming latency median %.2f ms p99 %.2f ms (%d changes)" % (
                  s, e, r["load_s"], r["list_s"], r["first_s"], r["rss_mb"], r["median_ms"],
                  r["p99_ms"], r["changes"]), flush=True)
        rows.append(r)
    table = [BEGIN, "## The Kubernetes API source (real kube-apiserver v1.32, Debian's etcd)", "",
             "`scripts/bench --api` (bench/api_bench.py), %s. Objects written through the API;"
             " then `svcnft agent --kubeconfig` started in a node namespace. Programming latency:"
             " an EndpointSlice PUT (its last-change-trigger-time set just before) to the agent's"
             " kernel commit, over %d changes. Targets: first commit within 3 s at 10,000 x 10,"
             " p99 under 50 ms." % (time.strftime("%Y-%m-%d"), a.changes), "",
             "| Services x endpoints | API server's own list (s) | agent start to first commit (s) |"
             " agent RSS (MB) | programming latency median (ms) | p99 (ms) |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        table.append("| %d x %d | %.2f | %.2f | %.1f | %.2f | %.2f |" % (
            r["services"], r["endpoints"], r["list_s"], r["first_s"], r["rss_mb"],
            r["median_ms"], r["p99_ms"]))
    table.append(END)
    text = "\n".join(table) + "\n"
    print(text)
    if a.out:
        old = open(a.out).read() if os.path.exists(a.out) else ""
        if BEGIN in old and END in old:
            old = old[:old.index(BEGIN)] + old[old.index(END) + len(END) + 1:]
        with open(a.out, "w") as f:
            f.write(old.rstrip("\n") + "\n\n" + text)


if __name__ == "__main__":
    main()
