#!/usr/bin/env bash
# The agent's partial syncs: a file change makes the agent compile and send only
# the Services it touches. After every change the agent's table must equal what a
# fresh `svcnft apply` of the same directory installs, and the sync must say it was
# partial. Also: a session-affinity entry of an endpoint that left goes in that
# partial sync (another client's entry stays); a conflict between two files holds
# the installed rules until it is fixed, after which syncs are partial again; the
# periodic check reads the table back only after someone else's transaction.
# Kernel state only, in two throwaway namespaces (packets: agent_test.sh,
# semantics_test.sh). Usage: agent_partial_test.sh SVCNFT SOURCE_DIR.
# Exit 77 (skip) without root.
set -uo pipefail
svcnft=$1
root=$2
prefix=agp$$
# shellcheck source=cluster_lib.sh
source "$root/test/netns/cluster_lib.sh"
require nft ip python3 curl
agent_ns=$prefix-agent
ref_ns=$prefix-ref
tmp=$(mktemp -d)
watch=$tmp/watch
agent_pid=
cleanup() {
  [[ -n $agent_pid ]] && kill -KILL "$agent_pid" 2>/dev/null
  ip netns del "$agent_ns" 2>/dev/null
  ip netns del "$ref_ns" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$agent_ns" && ip netns add "$ref_ns" || exit 1

cat >"$tmp/node.yaml" <<YAML
nodeName: k8s-node01
nodeIPs: [198.18.0.1, "2001:db8::1"]
clusterCIDRs: [198.18.1.0/24, 198.18.2.0/24, 198.18.3.0/24, "2001:db8:1::/64"]
externalIPAllow: [198.18.200.0/24]
serviceCIDRs: [198.18.100.0/24]
YAML
# The semantics test's Services, one document per file, as a watched directory holds them.
mkdir -p "$watch"
python3 - "$root/test/netns/semantics.yaml" "$watch" <<'PY'
import re, sys
docs = [d for d in open(sys.argv[1]).read().split("\n---\n") if "kind:" in d]
for i, d in enumerate(docs):
    kind = re.search(r"kind: (\w+)", d).group(1).lower()
    name = re.search(r"name: ([\w-]+)", d).group(1)
    open("%s/%02d-%s-%s.yaml" % (sys.argv[2], i, kind, name), "w").write(d.strip() + "\n")
PY
edit() {  # edit FILE-GLOB PYTHON-EXPR-ON-text: rewrite a file and rename it into place
  local f
  f=$(ls "$watch"/$1)
  python3 -c "import sys; t = open(sys.argv[1]).read(); open(sys.argv[1] + '.tmp', 'w').write($2)" "$f"
  mv "$f.tmp" "$f"
}

# Affinity maps are the packet path's own state: compared separately.
without_affinity() { listed "$1" svcnft | python3 -c '
import sys
print("\n\n".join(b for b in sys.stdin.read().split("\n\n") if "map affinity-" not in b))'; }
same_as_fresh() {
  ip netns exec "$ref_ns" "$svcnft" cleanup >/dev/null 2>&1
  if ! ip netns exec "$ref_ns" "$svcnft" apply -f "$watch" --node-config "$tmp/node.yaml" \
    >/dev/null 2>"$tmp/ref.err"; then
    fail "$1: svcnft apply of the same directory failed: $(head -3 "$tmp/ref.err")"
    return
  fi
  if diff <(without_affinity "$agent_ns") <(without_affinity "$ref_ns") >"$tmp/diff"; then
    pass "$1: the agent's table equals a fresh apply"
  else
    fail "$1: the agent's table differs from a fresh apply: $(head -20 "$tmp/diff")"
  fi
}
syncs() { grep -c "programming latency" "$tmp/agent.log"; }
# waits for the sync after sync number $1; checks it was partial
partial_sync_after() {
  local n=$1 what=$2
  if ! until_ok 5 bash -c "[[ \$(grep -c 'programming latency' $tmp/agent.log) -gt $n ]]" >/dev/null; then
    fail "$what: no sync within 5 s"
    return 1
  fi
  local line
  line=$(grep "programming latency" "$tmp/agent.log" | tail -1)
  [[ $line == *"(partial,"* ]] && pass "$what: partial sync (${line##*synced })" ||
    fail "$what: not a partial sync: $line"
}

ip netns exec "$agent_ns" ip link set lo up
ip netns exec "$agent_ns" "$svcnft" agent --watch "$watch" --node-config "$tmp/node.yaml" \
  --full-check-period 300ms --healthz-bind "" --metrics-bind 127.0.0.1:10249 >>"$tmp/agent.log" 2>&1 &
agent_pid=$!
until_ok 5 ip netns exec "$agent_ns" nft list table inet svcnft >/dev/null ||
  { fail "the agent installed nothing"; cat "$tmp/agent.log"; exit 1; }
sleep 0.2  # the first (full) sync's adoption
same_as_fresh "start"

n=$(syncs)
edit '*-endpointslice-web.yaml' 't.replace("198.18.2.12", "198.18.3.12")'
partial_sync_after "$n" "an endpoint of web moved" && same_as_fresh "an endpoint of web moved"

n=$(syncs)
mv "$(ls "$watch"/*-service-local.yaml)" "$tmp/local.yaml.away"
partial_sync_after "$n" "Service local deleted" && same_as_fresh "Service local deleted"

n=$(syncs)
mv "$tmp/local.yaml.away" "$watch/04-service-local.yaml"
partial_sync_after "$n" "Service local back" && same_as_fresh "Service local back"

n=$(syncs)
edit '*-endpointslice-weighted.yaml' 't.replace("\"198.18.3.11\": 2", "\"198.18.3.11\": 5")'
partial_sync_after "$n" "a weight changed" && same_as_fresh "a weight changed"

n=$(syncs)
edit '*-endpointslice-dns.yaml' 't.replace("endpoints:", "endpoints: []\nx-was:")'
partial_sync_after "$n" "dns scaled to zero" && same_as_fresh "dns scaled to zero"

# Session affinity: a client pinned to an endpoint that leaves must be unpinned in
# the same transaction; a client pinned to one that stays keeps its entry.
ip netns exec "$agent_ns" nft add element inet svcnft affinity-v4 \
  '{ 198.18.9.9 . 198.18.100.70 . tcp . 80 : 198.18.3.11, 198.18.9.8 . 198.18.100.70 . tcp . 80 : 198.18.1.11 }'
sleep 0.5  # the agent checks the table after someone else's change: nothing of its own differs
n=$(syncs)
edit '*-endpointslice-sticky.yaml' 't.replace("  - {addresses: [198.18.3.11], nodeName: k8s-node03}\n", "")'
if partial_sync_after "$n" "sticky lost 198.18.3.11"; then
  affinity=$(ip netns exec "$agent_ns" nft list map inet svcnft affinity-v4)
  [[ $affinity != *198.18.9.9* ]] && pass "the affinity entry of the endpoint that left is gone" ||
    fail "the affinity entry to 198.18.3.11 is still there: $affinity"
  [[ $affinity == *198.18.9.8* ]] && pass "another client's affinity entry stays" ||
    fail "the affinity entry to 198.18.1.11 went too: $affinity"
  same_as_fresh "sticky lost 198.18.3.11"
fi

# A conflict between files: the rules stay as they are until it is fixed.
listed "$agent_ns" svcnft >"$tmp/before-clash"
cat >"$watch/99-clash.yaml" <<YAML
apiVersion: v1
kind: Service
metadata: {name: clash, namespace: default}
spec: {type: NodePort, ports: [{name: http, port: 80, nodePort: 30001}]}
YAML
edit '*-endpointslice-web.yaml' 't.replace("198.18.1.12", "198.18.1.13")'
if until_ok 5 grep -q "nodePort: 30001/TCP is already used by Service" "$tmp/agent.log" >/dev/null; then
  pass "a nodePort claimed by two files is reported"
else
  fail "no conflict reported: $(tail -3 "$tmp/agent.log")"
fi
sleep 0.2
diff -q "$tmp/before-clash" <(listed "$agent_ns" svcnft) >/dev/null &&
  pass "while files conflict, the installed rules stay (web's change waits too)" ||
  fail "the rules changed while the files conflicted"
n=$(syncs)
rm "$watch/99-clash.yaml"
if until_ok 5 bash -c "[[ \$(grep -c 'programming latency' $tmp/agent.log) -gt $n ]]" >/dev/null; then
  same_as_fresh "conflict removed: the held change applied"
else
  fail "no sync after the conflict was removed"
fi
n=$(syncs)
edit '*-endpointslice-web.yaml' 't.replace("198.18.1.13", "198.18.1.14")'
partial_sync_after "$n" "after the conflict, changes are partial again" &&
  same_as_fresh "after the conflict"

# The periodic full check reads the table back only when someone committed a
# transaction since the agent's last sync (the ruleset generation moved): a dump
# costs the table's size squared in the kernel.
last_sync() {
  ip netns exec "$agent_ns" curl -s -m 1 http://127.0.0.1:10249/metrics |
    awk '/^svcnft_sync_proxy_rules_last_timestamp_seconds /{print $2}'
}
t1=$(last_sync)
sleep 1.2  # four check periods
t2=$(last_sync)
[[ -n $t1 && $t1 == "$t2" ]] && pass "no transaction since the last sync: periodic checks read nothing" ||
  fail "periodic checks ran with nothing committed ($t1 -> $t2)"
ip netns exec "$agent_ns" nft add table ip someone-else
if until_ok 2 bash -c "[[ \$(ip netns exec $agent_ns curl -s -m 1 http://127.0.0.1:10249/metrics | awk '/^svcnft_sync_proxy_rules_last_timestamp_seconds /{print \$2}') != $t2 ]]" >/dev/null; then
  pass "someone else's transaction (another table): the next periodic check read the table back"
else
  fail "no periodic check after another table changed"
fi

kill -TERM "$agent_pid" 2>/dev/null
wait "$agent_pid" 2>/dev/null
agent_pid=
echo "agent_partial: $passes passed, $failures failed"
[[ $failures -eq 0 ]]
