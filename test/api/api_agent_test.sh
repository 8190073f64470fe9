#!/usr/bin/env bash
# svcnft agent --kubeconfig against a real kube-apiserver, with real packets.
#
# The three-node namespace cluster (scripts/netns-cluster) plus an API server in
# its `cp` namespace (198.18.0.250); an agent on every node reads it. Objects are
# made with kubectl, as an operator (or the EndpointSlice controller) would. Checks:
# Services and EndpointSlices become traffic on every node's NodePort, with the
# Node's address taken from the Node object; scale 2 -> 3 -> 1; delete and
# re-create; a port change; externalTrafficPolicy Local; the service-proxy-name
# label takes the rules away and back; an invalid Service is skipped alone;
# the API server stopped for 30 s while a client keeps connecting (no failed
# connection), with an etcd compaction before so that the watch comes back to a
# real 410 Expired and a relist; changes after the outage arrive; an agent restart
# adopts the table with no failed connection; /healthz and /metrics say so.
# Usage: api_agent_test.sh SVCNFT SOURCE_DIR. Exit 77 (skip) without root or
# without the API server (KUBE_APISERVER_DIR, or ../shared/kube-apiserver).
set -uo pipefail
svcnft=$1
root=$2
prefix=kas$$
# shellcheck source=../netns/cluster_lib.sh
source "$root/test/netns/cluster_lib.sh"
require nft ip curl nginx python3 kubectl etcd etcdctl
find_kube_apiserver

cluster=$root/scripts/netns-cluster
tmp=$(mktemp -d)
kas=$tmp/kas
declare -A agent_pid
cleanup() {
  exec 2>/dev/null  # no "Killed" notices for the agents
  for n in "${!agent_pid[@]}"; do kill -KILL "${agent_pid[$n]}" 2>/dev/null; done
  [[ -d $kas ]] && "$kas_tools/stop" "$kas" >/dev/null 2>&1
  "$cluster" down "$prefix"
  rm -rf "$tmp"
}
trap cleanup EXIT
"$cluster" up "$prefix" 1 >/dev/null || { echo "FAIL: cluster did not come up"; exit 1; }
start_kas() {
  KUBE_APISERVER_ADDRESS=198.18.0.250 KUBE_APISERVER_EXTRA_ARGS=--watch-cache=false \
    on cp "$kas_tools/start" "$kas" >"$tmp/kas-start.log" 2>&1
}
start_kas || { cat "$tmp/kas-start.log"; echo "FAIL: the API server did not start"; exit 1; }
k() { on cp env KUBECONFIG="$kas/kubeconfig" kubectl "$@"; }

for n in 1 2 3; do
  k create -f - >/dev/null <<YAML || fail "Node node$n not created"
apiVersion: v1
kind: Node
metadata: {name: node$n, labels: {topology.kubernetes.io/zone: zone-$n}}
spec: {podCIDR: 198.18.$n.0/24, podCIDRs: [198.18.$n.0/24]}
status:
  addresses: [{type: Hostname, address: node$n}, {type: InternalIP, address: 198.18.0.$n}]
YAML
done
cat >"$tmp/node.yaml" <<YAML
clusterCIDRs: [198.18.1.0/24, 198.18.2.0/24, 198.18.3.0/24]
YAML

# deploy/: the API server accepts every object; the ServiceAccount may do exactly
# what svcnft needs. node2 and node3 run with its token (a token file, as in a
# pod), node1 with the admin certificate.
out=$(k apply --dry-run=server -f "$root/deploy/" 2>&1) && pass "deploy/ passes the API server's validation" \
  || fail "deploy/ refused: $out"
k apply -f "$root/deploy/rbac.yaml" >/dev/null
sa=system:serviceaccount:kube-system:svcnft
can() { k auth can-i --as "$sa" "$@" 2>/dev/null; }
if [[ $(can list services) == yes && $(can watch endpointslices.discovery.k8s.io) == yes &&
      $(can get nodes) == yes && $(can create services) == no && $(can list secrets) == no &&
      $(can update endpointslices.discovery.k8s.io) == no ]]; then
  pass "the ServiceAccount can list/watch Services, EndpointSlices and Nodes, and nothing else asked"
else
  fail "RBAC: $(k auth can-i --list --as "$sa" 2>&1 | head -8)"
fi
sa_kubeconfig "$kas" "$tmp"
kubeconfig_of() { [[ $1 == 1 ]] && echo "$kas/kubeconfig" || echo "$tmp/sa-kubeconfig"; }
# `ip netns exec` itself, not `on`: a function run in the background is a subshell,
# and its pid ($!) is the shell's, so a kill -TERM would stop the shell and leave
# the agent running (the restart below restarted nothing, and two agents ran).
start_agent() {  # start_agent N
  ip netns exec "$prefix-node$1" "$svcnft" agent --kubeconfig "$(kubeconfig_of "$1")" --hostname-override "node$1" \
    --node-config "$tmp/node.yaml" --min-sync-interval 20ms \
    --healthz-bind 127.0.0.1:10256 --metrics-bind 127.0.0.1:10249 >>"$tmp/agent$1.log" 2>&1 &
  agent_pid[$1]=$!
}
for n in 1 2 3; do start_agent "$n"; done

web_service() {  # web_service [NODEPORT [POLICY [LABELS]]]
  cat <<YAML
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default, labels: {${3:-}}}
spec:
  type: NodePort
  externalTrafficPolicy: ${2:-Cluster}
  ports: [{name: http, port: 80, targetPort: 80, nodePort: ${1:-30001}}]
YAML
}
web_slice() {  # web_slice NODE... : one pod on each node named
  cat <<YAML
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-abc
  namespace: default
  labels: {kubernetes.io/service-name: web}
  annotations: {endpoints.kubernetes.io/last-change-trigger-time: "$(date -u +%Y-%m-%dT%H:%M:%SZ)"}
addressType: IPv4
ports: [{name: http, port: 80, protocol: TCP}]
endpoints:
YAML
  for n in "$@"; do echo "- {addresses: [198.18.$n.11], nodeName: node$n, conditions: {ready: true}}"; done
}
# The pods that answer on URL, over 24 connections from the client, sorted.
pods_behind() {
  for _ in $(seq 24); do get client "$1"; done 2>/dev/null | sort -u | tr '\n' ' ' | sed 's/ $//'
}
expect_pods() {  # expect_pods SECONDS URL "PODS" MESSAGE
  local waited
  if waited=$(until_ok "$1" bash -c "[[ \"\$(declare -f pods_behind get on >/dev/null; $(declare -f on get pods_behind); prefix=$prefix; pods_behind $2)\" == \"$3\" ]]"); then
    pass "$4 (${waited} ms)"
  else
    fail "$4: got '$(pods_behind "$2")', wanted '$3'"
  fi
}

{ web_service; echo ---; web_slice 1 2; } | k apply -f - >/dev/null
for n in 1 2 3; do
  expect_pods 10 "http://198.18.0.$n:30001/" "p1-1 p2-1" "NodePort on node$n: both endpoints of the API's slice"
done
ips=$(on node1 nft list set inet svcnft nodeport-ips-v4 2>/dev/null)
[[ $ips == *"198.18.0.1"* && $ips != *"198.18.0.2"* ]] && pass "node1 takes NodePorts on its Node's InternalIP" \
  || fail "nodeport-ips-v4 on node1: $ips"

web_slice 1 2 3 | k apply -f - >/dev/null
expect_pods 5 "http://198.18.0.2:30001/" "p1-1 p2-1 p3-1" "scaled to 3: every pod answers"
web_slice 3 | k apply -f - >/dev/null
expect_pods 5 "http://198.18.0.1:30001/" "p3-1" "scaled to 1: only p3-1 answers"

k delete service web >/dev/null
if until_ok 5 bash -c "! ip netns exec $prefix-client curl -s -m 1 http://198.18.0.1:30001/ >/dev/null" >/dev/null; then
  pass "Service deleted: its NodePort stops answering"
else
  fail "Service deleted, NodePort still answers"
fi
web_service 30002 | k apply -f - >/dev/null
expect_pods 5 "http://198.18.0.1:30002/" "p3-1" "re-created on another nodePort (30002)"
get client -m 1 http://198.18.0.1:30001/ >/dev/null && fail "the old nodePort 30001 still answers" \
  || pass "the old nodePort 30001 is gone"

web_service 30002 Local | k apply -f - >/dev/null
expect_pods 5 "http://198.18.0.3:30002/" "p3-1" "externalTrafficPolicy Local: node3 has the endpoint"
if until_ok 5 bash -c "! ip netns exec $prefix-client curl -s -m 1 http://198.18.0.1:30002/ >/dev/null" >/dev/null; then
  pass "externalTrafficPolicy Local: node1 (no local endpoint) drops"
else
  fail "externalTrafficPolicy Local: node1 still forwards"
fi
web_service 30002 Cluster | k apply -f - >/dev/null

web_service 30002 Cluster "service.kubernetes.io/service-proxy-name: other" | k apply -f - >/dev/null
if until_ok 5 bash -c "! ip netns exec $prefix-client curl -s -m 1 http://198.18.0.1:30002/ >/dev/null" >/dev/null; then
  pass "labelled for another proxy: its rules go"
else
  fail "service-proxy-name label: the rules stayed"
fi
web_service 30002 Cluster | k apply -f - >/dev/null
expect_pods 5 "http://198.18.0.1:30002/" "p3-1" "label removed: the rules are back"

# A trial beside another proxy: a second agent on node2, in its own table, takes
# only the Services labelled service-proxy-name=svcnft, which the first ignores.
cat >"$tmp/trial.yaml" <<YAML
clusterCIDRs: [198.18.1.0/24, 198.18.2.0/24, 198.18.3.0/24]
table: trial
YAML
ip netns exec "$prefix-node2" "$svcnft" agent --kubeconfig "$kas/kubeconfig" --hostname-override node2 \
  --node-config "$tmp/trial.yaml" --service-proxy-name svcnft --healthz-bind "" --metrics-bind "" \
  >>"$tmp/trial.log" 2>&1 &
agent_pid[trial]=$!
k apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: trial, namespace: default, labels: {service.kubernetes.io/service-proxy-name: svcnft}}
spec: {type: NodePort, ports: [{name: http, port: 80, nodePort: 30005}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: trial-1
  namespace: default
  labels: {kubernetes.io/service-name: trial, service.kubernetes.io/service-proxy-name: svcnft}
addressType: IPv4
ports: [{name: http, port: 80, protocol: TCP}]
endpoints: [{addresses: [198.18.1.11], nodeName: node1}]
YAML
expect_pods 10 "http://198.18.0.2:30005/" "p1-1" "--service-proxy-name: the trial agent serves its labelled Service"
get client -m 1 http://198.18.0.1:30005/ >/dev/null && fail "node1's agent served a Service labelled for another proxy" \
  || pass "the default agent leaves the labelled Service alone"
trial=$(on node2 nft list table inet trial 2>/dev/null)
[[ $trial == *30005* && $trial != *30002* ]] && pass "the trial table holds only the labelled Service" \
  || fail "the trial table: $(echo "$trial" | grep -c .) lines, 30005/30002 wrong"

# One invalid object is skipped alone: more ports than svcnft takes (101; the API
# server has no bound) make a Service invalid for svcnft, though the API server
# takes it. An externalIP outside externalIPAllow (none here, the CVE-2020-8554
# guard) is only left out, with a warning: its Service still applies.
{
  printf 'apiVersion: v1\nkind: Service\nmetadata: {name: wide, namespace: default}\nspec:\n  ports:\n'
  for p in $(seq 1000 1100); do printf '  - {name: p%d, port: %d}\n' "$p" "$p"; done
  printf -- '---\napiVersion: v1\nkind: Service\nmetadata: {name: guarded, namespace: default}\n'
  printf 'spec: {externalIPs: [198.18.200.9], ports: [{port: 81}]}\n'
} | k apply -f - >/dev/null
web_slice 2 3 | k apply -f - >/dev/null
expect_pods 5 "http://198.18.0.1:30002/" "p2-1 p3-1" "an invalid Service beside: the others still sync"
until_ok 5 grep -q "/api/v1/namespaces/default/services/wide: error: .*spec.ports: 101 ports" "$tmp/agent1.log" >/dev/null \
  && pass "the invalid Service is logged with its API path and field" \
  || fail "no error for default/wide in the log"
until_ok 5 grep -q "/api/v1/namespaces/default/services/guarded: warning: .*198.18.200.9 is outside externalIPAllow.*left out" "$tmp/agent1.log" >/dev/null \
  && pass "a refused externalIP is left out with a warning, its Service kept" \
  || fail "no warning for default/guarded's externalIP in the log"
invalid=$(get node1 http://127.0.0.1:10249/metrics | awk '/^svcnft_api_invalid_objects_total\{resource="services"\}/ {print $2}')
[[ ${invalid:-0} -ge 1 ]] && pass "svcnft_api_invalid_objects_total counts it ($invalid)" || fail "invalid objects: '$invalid'"

# The outage: compact etcd first, so that the watch, coming back from an old
# resourceVersion after the restart, meets a real 410 Expired.
for i in 1 2 3; do k create configmap "bump$i" >/dev/null; done
rev=$(on cp env ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINT" endpoint status -w json 2>/dev/null |
  python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["header"]["revision"])')
on cp env ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINT" compact "$rev" >/dev/null 2>&1 \
  && pass "etcd compacted at revision $rev" || fail "etcd compaction"
"$kas_tools/stop" "$kas" >/dev/null 2>&1
outage_start=$(date +%s)
failed=0 tried=0
while (( $(date +%s) - outage_start < 30 && tried < 300 )); do
  tried=$((tried + 1))
  [[ $(get client -m 1 http://198.18.0.1:30002/) == p[23]-1 ]] || failed=$((failed + 1))
  sleep 0.1
done
(( tried > 20 && failed == 0 )) && pass "API server down 30 s: $tried connections, none failed" \
  || fail "during the outage $failed of $tried connections failed"
health=$(get node1 http://127.0.0.1:10256/healthz)
age=$(python3 -c 'import json,sys; print(int(json.loads(sys.argv[1])["sources"][0]["ageSeconds"] or 0))' "$health" 2>/dev/null)
[[ ${age:-0} -ge 20 ]] && pass "/healthz says the picture is ${age} s old" || fail "/healthz during the outage: $health"
start_kas || fail "the API server did not come back"
web_slice 1 2 3 | k apply -f - >/dev/null
expect_pods 45 "http://198.18.0.1:30002/" "p1-1 p2-1 p3-1" "after the outage a change arrives"
grep -q "watch expired" "$tmp/agent1.log" && pass "the watch met 410 Expired and listed again" \
  || fail "no 410 relist in the log: $(grep -i 'watch\|list' "$tmp/agent1.log" | tail -3)"

metrics=$(get node1 http://127.0.0.1:10249/metrics)
# Which resource's watch meets the 410 depends on where bookmarks had moved it.
lists=$(echo "$metrics" | awk '/^svcnft_api_lists_total\{/ && $2 > m {m = $2} END {print m}')
errors=$(echo "$metrics" | awk '/^svcnft_api_errors_total\{resource="services"\}/ {print $2}')
prog=$(echo "$metrics" | awk '/^svcnft_network_programming_duration_seconds_count/ {print $2}')
[[ ${lists:-0} -ge 2 && ${errors:-0} -ge 1 && ${prog:-0} -ge 1 ]] \
  && pass "/metrics: a resource listed $lists times, services $errors errors, $prog programming samples" \
  || fail "/metrics: lists '$lists' errors '$errors' programming '$prog'"

# A restart adopts the table: no failed connection while the agent is away and back.
before=$(listed "$prefix-node1" svcnft)
kill -TERM "${agent_pid[1]}"; wait "${agent_pid[1]}" 2>/dev/null
start_agent 1
failed=0 tried=0
while (( tried < 40 )); do
  tried=$((tried + 1))
  [[ $(get client -m 1 http://198.18.0.1:30002/) == p[123]-1 ]] || failed=$((failed + 1))
  sleep 0.05
done
(( failed == 0 )) && pass "agent restart: $tried connections, none failed" || fail "agent restart: $failed of $tried failed"
until_ok 10 bash -c "ip netns exec $prefix-node1 curl -sf -m 1 http://127.0.0.1:10256/healthz" >/dev/null \
  && pass "restarted agent healthy" || fail "restarted agent not healthy"
[[ "$(listed "$prefix-node1" svcnft)" == "$before" ]] && pass "the restarted agent left the table as it was" \
  || fail "the table changed across the restart"

# A node the cluster autoscaler is about to delete: /healthz 503 with nodeEligible
# false (load balancers stop sending it new traffic), /livez still 200; and back.
k taint node node1 ToBeDeletedByClusterAutoscaler=1:NoSchedule >/dev/null || fail "taint node1"
code() { get node1 -o /dev/null -w '%{http_code}' "http://127.0.0.1:10256/$1"; }
# Bounded by the watch's longest backoff (30 s) and more: right after the outage
# above, a watch of the restarted agent was seen waiting out its backoff (1 run in 3).
# The three together: a 503 seen once was followed by a body without nodeEligible
# false in 1 run of 7 here (why is not known yet), so they are asked until they agree.
eligible_false() {
  [[ $(ip netns exec "$prefix-node1" curl -s -m 1 -o /dev/null -w '%{http_code}' http://127.0.0.1:10256/healthz) == 503 &&
     $(ip netns exec "$prefix-node1" curl -s -m 1 http://127.0.0.1:10256/healthz) == *'"nodeEligible": false'* &&
     $(ip netns exec "$prefix-node1" curl -s -m 1 -o /dev/null -w '%{http_code}' http://127.0.0.1:10256/livez) == 200 ]]
}
if waited=$(until_ok 45 eligible_false); then
  pass "tainted ToBeDeletedByClusterAutoscaler: /healthz 503 (node not eligible) after ${waited} ms, /livez 200"
else
  fail "tainted node: /healthz $(code healthz) $(get node1 http://127.0.0.1:10256/healthz), /livez $(code livez), waited '${waited:-}'; $(k get node node1 -o jsonpath='{.spec.taints}'); agent log: $(tail -5 "$tmp/agent1.log")"
fi
k taint node node1 ToBeDeletedByClusterAutoscaler- >/dev/null || fail "untaint node1"
until_ok 10 bash -c "[[ \$(ip netns exec $prefix-node1 curl -s -m 1 -o /dev/null -w '%{http_code}' http://127.0.0.1:10256/healthz) == 200 ]]" >/dev/null &&
  pass "the taint removed: /healthz 200 again" || fail "after the taint went: /healthz $(code healthz)"

echo "passed $passes, failed $failures"
(( failures == 0 ))
