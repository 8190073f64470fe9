#!/usr/bin/env bash
# The agent under load: a TCP client at 20 connections/s and a UDP client at 5 Hz
# to one Service for the whole test, while the agent takes 1,000 endpoint changes
# of another Service, then kill -TERM and a restart, then kill -KILL and a restart.
# Zero failed requests; the installed ruleset is the same before and after each
# restart. Bounded: about 25 s, at most 600 TCP and 150 UDP requests.
# Usage: agent_soak_test.sh SVCNFT SOURCE_DIR. Exit 77 (skip) without root.
set -uo pipefail
svcnft=$1
root=$2
prefix=soak$$
# shellcheck source=cluster_lib.sh
source "$root/test/netns/cluster_lib.sh"
require nft ip curl dig nginx dnsmasq
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
spec:
  type: NodePort
  ports: [{name: http, port: 80, nodePort: 30100}, {name: dns, port: 53, protocol: UDP, nodePort: 30053}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: steady, namespace: default, labels: {kubernetes.io/service-name: steady}}
addressType: IPv4
ports: [{name: http, port: 80}, {name: dns, port: 53, protocol: UDP}]
endpoints:
  - {addresses: [198.18.2.11], nodeName: k8s-node02}
  - {addresses: [198.18.3.11], nodeName: k8s-node03}
YAML
churn() {  # churn N: the other Service, with a different endpoint set each time
  local n=$1
  printf 'apiVersion: v1\nkind: Service\nmetadata: {name: churn, namespace: default}\nspec: {clusterIP: 198.18.100.20, ports: [{name: http, port: 80}]}\n---\n'
  printf 'apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: churn, namespace: default, labels: {kubernetes.io/service-name: churn}}\naddressType: IPv4\nports: [{name: http, port: 80}]\nendpoints:\n'
  for i in $(seq 1 $((n % 5 + 1))); do
    printf '  - {addresses: [198.18.%d.%d]}\n' $(( (n + i) % 3 + 1 )) $(( (n + i) % 2 + 11 ))
  done
}
churn 0 >"$watch/churn.yaml"
on node1 ip link set lo up

start_agent() {
  ip netns exec "$prefix-node1" "$svcnft" agent --watch "$watch" --node-config "$tmp/node.yaml" \
    --min-sync-interval 50ms >>"$tmp/agent.log" 2>&1 &
  agent_pid=$!
  for i in $(seq 100); do  # up to 5 s for the first sync
    on node1 curl -s -o /dev/null http://127.0.0.1:10256/healthz 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}
sorted_table() {
  on node1 nft list table inet svcnft | /usr/bin/python3 -c '
import sys
t = sys.stdin.read(); b = t[t.index("{") + 1:t.rindex("}")]
print("\n\n".join(sorted(x.strip("\n") for x in b.split("\n\n") if x.strip())))'
}
start_agent || fail "agent did not start"
on client curl -s -m 2 -o /dev/null http://198.18.0.1:30100/

# Clients for the whole test, bounded in count; they stop when told.
(
  for i in $(seq 600); do
    [[ -e $tmp/stop ]] && break
    on client curl -s -m 2 -o /dev/null -w '%{http_code}\n' http://198.18.0.1:30100/ | grep -qx 200 && echo ok || echo FAIL
    sleep 0.05
  done >"$tmp/tcp.log"
) &
tcp=$!
(
  for i in $(seq 150); do
    [[ -e $tmp/stop ]] && break
    ans=$(on client dig +short +time=1 +tries=1 -p 30053 @198.18.0.1 whoami.test)
    [[ $ans == 198.18.2.11 || $ans == 198.18.3.11 ]] && echo ok || echo "FAIL $ans"
    sleep 0.2
  done >"$tmp/udp.log"
) &
udp=$!

for n in $(seq 1 1000); do  # 1,000 endpoint changes, written as kubectl would: renamed into place
  churn "$n" >"$watch/.churn.tmp" && mv "$watch/.churn.tmp" "$watch/churn.yaml"
  sleep 0.005
done
sleep 0.5
for sig in TERM KILL; do
  before=$(sorted_table)
  kill -"$sig" "$agent_pid"; wait "$agent_pid" 2>/dev/null; agent_pid=
  sleep 1  # traffic keeps flowing with no agent at all
  start_agent || fail "agent did not restart after kill -$sig"
  sleep 0.3
  [[ $(sorted_table) == "$before" ]] && echo "ok: ruleset unchanged across kill -$sig and restart" ||
    fail "ruleset changed across kill -$sig and restart"
  # The clean stop left a state record, and the restart adopted the table from it;
  # after kill -KILL there is none, and the table is read back.
  adopted=$(grep -c "state record says: read nothing back" "$tmp/agent.log")
  if [[ $sig == TERM ]]; then
    [[ $adopted -eq 1 ]] && echo "ok: the restart after kill -TERM read nothing back (state record)" ||
      fail "the restart after kill -TERM did not use the state record ($adopted)"
  else
    [[ $adopted -eq 1 ]] && echo "ok: the restart after kill -KILL read the table back (no record)" ||
      fail "the restart after kill -KILL trusted a record ($adopted)"
  fi
done
sleep 1
touch "$tmp/stop"
wait "$tcp" "$udp"

syncs=$(grep -c "programming latency" "$tmp/agent.log")
tcp_total=$(wc -l <"$tmp/tcp.log"); tcp_failed=$(grep -c FAIL "$tmp/tcp.log")
udp_total=$(wc -l <"$tmp/udp.log"); udp_failed=$(grep -c FAIL "$tmp/udp.log")
echo "soak: 1000 endpoint changes in $syncs coalesced syncs; TCP $tcp_total requests, $tcp_failed failed; UDP $udp_total queries, $udp_failed failed"
[[ $tcp_failed -eq 0 && $udp_failed -eq 0 && $tcp_total -ge 100 && $udp_total -ge 20 ]] || fail "failed requests under load"
grep -q 198.18.100.20 <<<"$(on node1 nft list map inet svcnft backends-v4)" || fail "churn Service not installed at the end"
echo "agent_soak: $((failures == 0 ? 1 : 0)) passed, $failures failed"
[[ $failures -eq 0 ]]
