#!/usr/bin/env bash
# No lost connections while rules change: a client opens connections to one
# Service, one after another, while node1 takes 100 incremental changes of other
# Services' endpoints and one whole-table replacement. Every connection must
# succeed. Bounded: at most 3,000 requests and 90 s.
# Usage: atomicity_test.sh SVCNFT SOURCE_DIR. Exit 77 (skip) without root.
set -uo pipefail
svcnft=$1
root=$2
prefix=atom$$
# shellcheck source=cluster_lib.sh
source "$root/test/netns/cluster_lib.sh"
require nft ip curl nginx
cluster=$root/scripts/netns-cluster
tmp=$(mktemp -d)
trap '"$cluster" down "$prefix"; rm -rf "$tmp"' EXIT
"$cluster" up "$prefix" 2 >/dev/null || { echo "FAIL: cluster did not come up"; exit 1; }

node_config() {  # node_config EXTRA
  printf 'nodeName: k8s-node01\nnodeIPs: [198.18.0.1]\nclusterCIDRs: [198.18.1.0/24, 198.18.2.0/24, 198.18.3.0/24]\n%s\n' "$1"
}
node_config "" >"$tmp/node.yaml"
node_config "masqueradeAll: true" >"$tmp/node-replaced.yaml"

manifests() {  # manifests ROUND: "steady" never changes; "churn" gets other endpoints each round
  local round=$1
  cat <<YAML
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
  - {addresses: [198.18.1.11], nodeName: k8s-node01}
  - {addresses: [198.18.2.11], nodeName: k8s-node02}
  - {addresses: [198.18.3.11], nodeName: k8s-node03}
---
apiVersion: v1
kind: Service
metadata: {name: churn, namespace: default}
spec: {clusterIP: 198.18.100.20, ports: [{name: http, port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: churn, namespace: default, labels: {kubernetes.io/service-name: churn}}
addressType: IPv4
ports: [{name: http, port: 80}]
endpoints:
YAML
  # 1 to 6 endpoints, a different set each round
  for i in $(seq 1 $((round % 6 + 1))); do
    k=$(( (round + i) % 3 + 1 )); j=$(( (round + i) % 2 + 1 ))
    echo "  - {addresses: [198.18.$k.$((10 + j))], nodeName: k8s-node0$k}"
  done
}

manifests 0 >"$tmp/m.yaml"
on node1 "$svcnft" apply -f "$tmp/m.yaml" --node-config "$tmp/node.yaml" 2>/dev/null ||
  { echo "FAIL: first apply"; exit 1; }
on client curl -s -m 2 -o /dev/null http://198.18.0.1:30100/  # warm the neighbour cache

# Every commit in node1's namespace, as the kernel announces it: each apply must be
# one transaction, one new generation (a change split in two would leave a window).
ip netns exec "$prefix-node1" nft monitor >"$tmp/monitor.log" 2>&1 &
monitor=$!
sleep 0.5

# The client: one connection after another until told to stop.
(
  for i in $(seq 3000); do
    [[ -e $tmp/stop ]] && break
    if on client curl -s -m 2 -o /dev/null -w '%{http_code}\n' http://198.18.0.1:30100/ | grep -q 200; then
      echo ok
    else
      echo FAIL
    fi
  done >"$tmp/client.log"
) &
client=$!

start=$(date +%s)
changes=0
for round in $(seq 1 100); do
  manifests "$round" >"$tmp/m.yaml"
  on node1 "$svcnft" apply -f "$tmp/m.yaml" --node-config "$tmp/node.yaml" 2>>"$tmp/apply.log" &&
    changes=$((changes + 1))
  (( $(date +%s) - start > 60 * ${TIME_SCALE:-1} )) && break
done
# One whole-table replacement (another node config), then back.
on node1 "$svcnft" apply -f "$tmp/m.yaml" --node-config "$tmp/node-replaced.yaml" 2>>"$tmp/apply.log"
on node1 "$svcnft" apply -f "$tmp/m.yaml" --node-config "$tmp/node.yaml" 2>>"$tmp/apply.log"
sleep 1
touch "$tmp/stop"
wait "$client"

kill "$monitor" 2>/dev/null; wait "$monitor" 2>/dev/null
incremental=$(grep -c "updated table" "$tmp/apply.log")
replaced=$(grep -c "replaced table" "$tmp/apply.log")
generations=$(grep -c "^# new generation .*(svcnft)" "$tmp/monitor.log")
echo "atomicity: $((incremental + replaced)) applies committed $generations generations"
if [[ $generations -ne $((incremental + replaced)) ]]; then
  echo "FAIL: each apply must commit exactly one transaction"
  grep "^# new generation" "$tmp/monitor.log" | head -5
  echo "atomicity: 0 passed, 1 failed"
  exit 1
fi
total=$(wc -l <"$tmp/client.log")
failed=$(grep -c FAIL "$tmp/client.log")
echo "atomicity: $changes changes applied ($incremental incremental, $replaced whole-table), $total connections, $failed failed"
if [[ $changes -eq 100 && $incremental -ge 100 && $replaced -ge 2 && $total -ge 100 && $failed -eq 0 ]]; then
  echo "atomicity: 1 passed, 0 failed"
else
  echo "atomicity: 0 passed, 1 failed"
  exit 1
fi
