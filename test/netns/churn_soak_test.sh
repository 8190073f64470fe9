#!/usr/bin/env bash
# Long churn without leaks: the agent on node1 watches 1,000 Services (one file
# each) and takes 100,000 endpoint changes among them (CHANGES to change), one
# every millisecond or so, while a client connects to another Service throughout.
# Zero failed connections; the agent's resident memory and open descriptors are
# reported at the start (after the first 10% of the changes: warmed up) and at the
# end, and must stay flat: descriptors equal, memory within 4 MiB. Under TIME_SCALE
# (the kernel VM) the changes come that much slower, so the agent keeps pace. At
# the end the table equals a fresh `svcnft apply` of the same files. Bounded: at most 400 s of changes
# (times TIME_SCALE) and 8,000 client requests.
# Usage: churn_soak_test.sh SVCNFT SOURCE_DIR. Exit 77 (skip) without root.
set -uo pipefail
svcnft=$1
root=$2
prefix=churn$$
changes=${CHANGES:-100000}
services=1000
# shellcheck source=cluster_lib.sh
source "$root/test/netns/cluster_lib.sh"
require nft ip curl nginx python3
cluster=$root/scripts/netns-cluster
tmp=$(mktemp -d)
agent_pid=
trap '[[ -n $agent_pid ]] && kill -KILL $agent_pid 2>/dev/null; "$cluster" down "$prefix"; rm -rf "$tmp"' EXIT
"$cluster" up "$prefix" 2 >/dev/null || { echo "FAIL: cluster did not come up"; exit 1; }

watch=$tmp/watch
mkdir -p "$watch"
printf 'nodeName: k8s-node01\nnodeIPs: [198.18.0.1]\nclusterCIDRs: [198.18.1.0/24, 198.18.2.0/24, 198.18.3.0/24]\n' >"$tmp/node.yaml"
cat >"$watch/steady.yaml" <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: steady, namespace: default}
spec: {type: NodePort, ports: [{name: http, port: 80, nodePort: 30100}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: steady, namespace: default, labels: {kubernetes.io/service-name: steady}}
addressType: IPv4
ports: [{name: http, port: 80}]
endpoints:
  - {addresses: [198.18.2.11], nodeName: k8s-node02}
  - {addresses: [198.18.3.11], nodeName: k8s-node03}
YAML

# The churn: Service i's endpoints are a subset of the six pods, chosen anew on
# each change; written as kubectl and editors do (renamed into place).
cat >"$tmp/churn.py" <<'PY'
import os, random, sys, time
watch, services, changes, mark = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
pace = 0.001 * float(os.environ.get("TIME_SCALE", "1"))
pods = ["198.18.%d.%d" % (n, p) for n in (1, 2, 3) for p in (11, 12)]
rnd = random.Random(1)
def write(i):
    eps = rnd.sample(pods, rnd.randint(1, 6))
    text = ("apiVersion: v1\nkind: Service\nmetadata: {name: s%d, namespace: churn}\n"
            "spec: {clusterIP: 198.18.%d.%d, ports: [{name: http, port: 80}]}\n---\n"
            "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: s%d, "
            "namespace: churn, labels: {kubernetes.io/service-name: s%d}}\naddressType: IPv4\n"
            "ports: [{name: http, port: 80}]\nendpoints:\n" % (i, 128 + i // 250, i % 250 + 1, i, i)
            + "".join("  - {addresses: [%s]}\n" % e for e in eps))
    path = os.path.join(watch, "s%d.yaml" % i)
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.rename(path + ".tmp", path)
if changes == 0:
    for i in range(services):
        write(i)
    sys.exit(0)
start = time.time()
for k in range(changes):
    write(rnd.randrange(services))
    if k == changes // 10:
        open(mark, "w").close()  # 10% done: the start of the measured span
    time.sleep(pace)
    if time.time() - start > 400 * pace / 0.001:
        print("churn: stopped at 400 s after %d changes" % k)
        sys.exit(1)
print("churn: %d changes in %.0f s" % (changes, time.time() - start))
PY
/usr/bin/python3 "$tmp/churn.py" "$watch" $services 0 "$tmp/mark"
on node1 ip link set lo up
ip netns exec "$prefix-node1" "$svcnft" agent --watch "$watch" --node-config "$tmp/node.yaml" \
  --min-sync-interval 20ms >"$tmp/agent.log" 2>&1 &
agent_pid=$!
until_ok 20 on node1 curl -s -f -o /dev/null http://127.0.0.1:10256/healthz >/dev/null ||
  { echo "FAIL: the agent did not sync"; exit 1; }
on client curl -s -m 2 -o /dev/null http://198.18.0.1:30100/

resources() {  # "RSS_KIB FDS" of the agent
  # Descriptors: the fewest of five looks 20 ms apart. Mid-churn the agent may be
  # reading a file at the moment of one look; a leak shows in every look.
  local fds=999999 n i
  for i in 1 2 3 4 5; do
    n=$(ls "/proc/$agent_pid/fd" | wc -l)
    ((n < fds)) && fds=$n
    sleep 0.02
  done
  echo "$(awk '/^VmRSS:/ {print $2}' "/proc/$agent_pid/status") $fds"
}
(
  for i in $(seq 8000); do  # about 20 a second
    [[ -e $tmp/stop ]] && break
    on client curl -s -m 2 -o /dev/null -w '%{http_code}\n' http://198.18.0.1:30100/ | grep -qx 200 && echo ok || echo FAIL
    sleep 0.05
  done >"$tmp/client.log"
) &
client=$!
/usr/bin/python3 "$tmp/churn.py" "$watch" $services "$changes" "$tmp/mark" &
churner=$!
until_ok 120 test -e "$tmp/mark" >/dev/null
read -r rss_start fds_start <<<"$(resources)"
wait "$churner"; churn_rc=$?
sleep 1  # the last changes land
read -r rss_end fds_end <<<"$(resources)"
touch "$tmp/stop"
wait "$client"

syncs=$(grep -c "programming latency" "$tmp/agent.log")
total=$(wc -l <"$tmp/client.log"); failed=$(grep -c FAIL "$tmp/client.log")
echo "churn soak: $changes endpoint changes to $services Services in $syncs syncs; $total connections, $failed failed"
echo "churn soak: agent resident memory $rss_start KiB at 10% of the changes, $rss_end KiB at the end; descriptors $fds_start, then $fds_end"
[[ $churn_rc -eq 0 ]] && pass "all $changes changes written" || fail "the churn did not finish"
[[ $failed -eq 0 && $total -ge 50 ]] && pass "no failed connection" || fail "$failed of $total connections failed"
[[ $fds_start -eq $fds_end ]] && pass "descriptors flat" || fail "descriptors $fds_start -> $fds_end"
(( rss_end - rss_start <= 4096 )) && pass "memory flat" || fail "resident memory grew $rss_start -> $rss_end KiB"
kill -TERM "$agent_pid"; wait "$agent_pid" 2>/dev/null; agent_pid=
on node1 nft list table inet svcnft >"$tmp/agent.nft"
on node1 "$svcnft" apply -f "$watch" --node-config "$tmp/node.yaml" >"$tmp/apply.out" 2>&1 ||
  fail "apply of the same files failed: $(cat "$tmp/apply.out")"
grep -q "svcnft: unchanged table" "$tmp/apply.out" && pass "the agent's table equals a fresh apply of the same files" ||
  fail "a fresh apply still changed the table: $(head -3 "$tmp/apply.out")"
echo "churn_soak: $passes passed, $failures failed"
[[ $failures -eq 0 ]]
