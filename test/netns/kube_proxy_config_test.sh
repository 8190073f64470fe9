#!/usr/bin/env bash
# svcnft agent --config with a kube-proxy KubeProxyConfiguration file, with real
# packets in the namespace cluster (node1): detectLocalMode BridgeInterface (a pod
# on br0 reaches a ClusterIP with its own address, an outside client is
# masqueraded), nodePortAddresses with a CIDR (NodePorts on 198.18.0.1, not on the
# br0 address), the health and metrics addresses of the file, its conntrack
# settings set in node1's namespace (and not on the host), and the one warning for
# fields svcnft does not use.
# Usage: kube_proxy_config_test.sh SVCNFT SOURCE_DIR. Exit 77 (skip) without root.
set -uo pipefail
svcnft=$1
root=$2
prefix=kpc$$
# shellcheck source=cluster_lib.sh
source "$root/test/netns/cluster_lib.sh"
require nft ip curl nginx python3
cluster=$root/scripts/netns-cluster
tmp=$(mktemp -d)
agent_pid=
cleanup() {
  [[ -n $agent_pid ]] && kill -KILL "$agent_pid" 2>/dev/null
  "$cluster" down "$prefix"
  rm -rf "$tmp"
}
trap cleanup EXIT
"$cluster" up "$prefix" 1 >/dev/null || { echo "FAIL: cluster did not come up"; exit 1; }
state=/tmp/netns-cluster-$prefix

watch=$tmp/watch
mkdir -p "$watch"
cat >"$watch/web.yaml" <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  type: NodePort
  clusterIP: 198.18.100.1
  ports: [{name: http, port: 80, nodePort: 30001}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web, namespace: default, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 80}]
endpoints: [{addresses: [198.18.2.11], nodeName: k8s-node02}]
YAML
cat >"$tmp/kube-proxy.yaml" <<'YAML'
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: nftables
hostnameOverride: k8s-node01
featureGates: {SomeGate: true}
detectLocalMode: BridgeInterface
detectLocal: {bridgeInterface: br0}
nodePortAddresses: [198.18.0.0/24]
healthzBindAddress: 198.18.0.1:10356
metricsBindAddress: 127.0.0.1:10349
nftables: {minSyncPeriod: 0s, syncPeriod: 10s}
conntrack:
  maxPerCore: 0
  tcpEstablishedTimeout: 2h
  tcpCloseWaitTimeout: 30m
  tcpBeLiberal: true
  udpTimeout: 45s
  udpStreamTimeout: 3m
YAML
# The client reaches ClusterIPs through node1.
on client ip route add 198.18.100.0/24 via 198.18.0.1
host_before=$(sysctl -n net.netfilter.nf_conntrack_tcp_timeout_established 2>/dev/null || echo none)

ip netns exec "$prefix-node1" "$svcnft" agent --watch "$watch" --config "$tmp/kube-proxy.yaml" \
  >"$tmp/agent.log" 2>&1 &
agent_pid=$!
waited=$(until_ok 5 on node1 nft list map inet svcnft nodeports-v4) && pass "agent installed its table in ${waited} ms" \
  || { fail "agent did not install its table"; cat "$tmp/agent.log"; exit 1; }

# The file's conntrack settings, in node1's namespace only.
for pair in nf_conntrack_tcp_timeout_established=7200 nf_conntrack_tcp_timeout_close_wait=1800 \
    nf_conntrack_tcp_be_liberal=1 nf_conntrack_udp_timeout=45 nf_conntrack_udp_timeout_stream=180; do
  name=${pair%=*} want=${pair#*=}
  got=$(on node1 sysctl -n "net.netfilter.$name")
  [[ $got == "$want" ]] && pass "conntrack: $name is $got in the node's namespace" || fail "$name is '$got', not $want"
  grep -q "conntrack: set net.netfilter.$name to $want" "$tmp/agent.log" && pass "the log says $name was set" \
    || fail "no log line for $name"
done
host_after=$(sysctl -n net.netfilter.nf_conntrack_tcp_timeout_established 2>/dev/null || echo none)
[[ $host_after == "$host_before" ]] && pass "the host's own conntrack settings are untouched ($host_after)" \
  || fail "the host's tcp_timeout_established changed: $host_before -> $host_after"
grep -q "nf_conntrack_max" "$tmp/agent.log" && fail "maxPerCore 0 must leave nf_conntrack_max alone" \
  || pass "maxPerCore 0 left nf_conntrack_max alone"
[[ $(grep -c "not used by svcnft" "$tmp/agent.log") == 1 ]] && grep -q "not used by svcnft: featureGates" "$tmp/agent.log" &&
  pass "one warning names the fields svcnft does not use" || fail "no single warning naming featureGates"

# Health and metrics where the file puts them.
code=$(on client curl -s -m 2 -o /dev/null -w '%{http_code}' http://198.18.0.1:10356/healthz)
[[ $code == 200 ]] && pass "/healthz answers on the file's healthzBindAddress" || fail "/healthz on 198.18.0.1:10356: '$code'"
# Read whole first: `curl | grep -q` under pipefail fails when grep stops reading early.
metrics=$(on node1 curl -s -m 2 http://127.0.0.1:10349/metrics)
grep -q '^svcnft_sync_proxy_rules_duration_seconds_count' <<<"$metrics" &&
  pass "/metrics answers on the file's metricsBindAddress" || fail "no /metrics on 127.0.0.1:10349"

# nodePortAddresses [198.18.0.0/24]: 198.18.0.1 takes NodePorts; br0's 198.18.1.1 does not.
[[ $(get client http://198.18.0.1:30001/) == p2-1 ]] && pass "NodePort on 198.18.0.1 (in nodePortAddresses)" \
  || fail "NodePort on 198.18.0.1 did not answer"
[[ $(get p1-1 http://198.18.0.1:30001/) == p2-1 ]] && pass "a pod reaches the NodePort on 198.18.0.1" \
  || fail "the pod did not reach 198.18.0.1:30001"
[[ -z $(get p1-1 http://198.18.1.1:30001/) ]] && pass "no NodePort on br0's 198.18.1.1 (outside nodePortAddresses)" \
  || fail "198.18.1.1:30001 answered"

# detectLocalMode BridgeInterface: from br0 the client address is kept; from outside
# it is masqueraded (with no clusterCIDR, only the bridge tells).
last_client() { tail -1 "$state/p2-1/access.log"; }
[[ $(get p1-1 http://198.18.100.1/) == p2-1 && $(last_client) == 198.18.1.11 ]] &&
  pass "a pod on br0 reaches the ClusterIP with its own address" || fail "pod's traffic arrived from '$(last_client)'"
[[ $(get client http://198.18.100.1/) == p2-1 && $(last_client) == 198.18.0.1 ]] &&
  pass "an outside client reaching the ClusterIP is masqueraded to node1" || fail "outside traffic arrived from '$(last_client)'"

# A configuration the node cannot take stops the start, naming the setting.
sed 's/maxPerCore: 0/maxPerCore: 1/' "$tmp/kube-proxy.yaml" >"$tmp/bad.yaml"
if on node1 "$svcnft" agent --watch "$watch" --config "$tmp/bad.yaml" --healthz-bind "" --metrics-bind "" \
    >"$tmp/bad.log" 2>&1 & bad_pid=$!; ! until_ok 5 bash -c "! kill -0 $bad_pid" >/dev/null; then
  kill -KILL "$bad_pid" 2>/dev/null
  fail "an unsettable nf_conntrack_max did not stop the agent"
else
  grep -q "cannot set net.netfilter.nf_conntrack_max to .*(conntrack.maxPerCore" "$tmp/bad.log" &&
    pass "an unsettable nf_conntrack_max stops the start, naming it ($(head -c 160 "$tmp/bad.log"))" ||
    fail "unexpected: $(cat "$tmp/bad.log")"
fi

echo "kube_proxy_config: $passes passed, $failures failed"
[[ $failures -eq 0 ]]
