#!/usr/bin/env bash
# The agent under its systemd unit's own restrictions, where systemd is not PID 1:
# the unit's SystemCallFilter= (resolved by this systemd), RestrictAddressFamilies=
# and MemoryDenyWriteExecute= through seccomp_exec, and DynamicUser= with only
# CAP_NET_ADMIN through setpriv (a user of systemd's dynamic range, no groups,
# no_new_privs). It must do its whole job: install the table, carry NodePort
# traffic, follow an endpoint change, delete a stale UDP conntrack flow, answer
# /healthz and /metrics, tell NOTIFY_SOCKET it is ready; and, with a kube-apiserver
# at hand, read the API with its kubeconfig as a credential (a file only its user
# can read). Also checks the agent really ran restricted (/proc/PID/status).
# Usage: restricted_agent_test.sh SVCNFT SECCOMP_EXEC SOURCE_DIR. Exit 77 (skip)
# without root, setpriv or systemd-analyze.
set -uo pipefail
svcnft=$(realpath "$1")
seccomp_exec=$(realpath "$2")
root=$3
prefix=rst$$
# shellcheck source=../netns/cluster_lib.sh
source "$root/test/netns/cluster_lib.sh"
require nft ip curl nginx dig setpriv systemd-analyze
uid=61876  # inside systemd's DynamicUser= range (61184-65519)
cluster=$root/scripts/netns-cluster
tmp=$(mktemp -d)
chmod 755 "$tmp"  # the agent's user reads its config here, as in /etc/svcnft
# The binaries where that user can reach them, as in /usr/sbin: a build directory
# may sit under a folder only root may enter (mktemp -d is 0700).
mkdir -p "$tmp/bin"
cp "$svcnft" "$seccomp_exec" "$tmp/bin/" && chmod 755 "$tmp/bin" "$tmp/bin/"*
svcnft=$tmp/bin/svcnft
seccomp_exec=$tmp/bin/seccomp_exec
declare -A agent_pid
cleanup() {
  exec 2>/dev/null
  for n in "${!agent_pid[@]}"; do kill -KILL "${agent_pid[$n]}" 2>/dev/null; done
  [[ -n ${notify_pid:-} ]] && kill "$notify_pid" 2>/dev/null
  [[ -n ${kas_tools:-} && -d $tmp/kas ]] && "$kas_tools/stop" "$tmp/kas" >/dev/null 2>&1
  "$cluster" down "$prefix"
  rm -rf "$tmp"
}
trap cleanup EXIT

eval "$(/usr/bin/python3 "$root/test/system/unit_restrictions.py" "$root/cmd/svcnft/svcnft.service" "$tmp/syscalls")" ||
  { echo "FAIL: cannot read the unit's restrictions"; exit 1; }
[[ $capabilities == net_admin && $deny_wx == yes && -n $families ]] ||
  { echo "FAIL: unexpected restrictions: caps=$capabilities wx=$deny_wx families=$families"; exit 1; }
echo "the unit allows $syscall_count system calls and socket families $families"
wx_flag=()
[[ $deny_wx == yes ]] && wx_flag=(--deny-write-execute)

"$cluster" up "$prefix" 2 >/dev/null || { echo "FAIL: cluster did not come up"; exit 1; }

# restricted NODE ARGS...: svcnft ARGS in NODE's namespace, as the unit runs it.
restricted() {
  local node=$1; shift
  NOTIFY_SOCKET=$tmp/notify.sock ip netns exec "$prefix-$node" \
    setpriv --reuid=$uid --regid=$uid --clear-groups --no-new-privs \
      --inh-caps=-all,+"$capabilities" --ambient-caps=-all,+"$capabilities" \
      --bounding-set=-all,+"$capabilities" \
    "$seccomp_exec" "$syscalls" "$families" "${wx_flag[@]}" -- "$svcnft" "$@"
}

python3 - "$tmp/notify.sock" "$tmp/notify.log" <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)  # the agent's user sends to it, as to systemd's
s.settimeout(120)
with open(sys.argv[2], "a", buffering=1) as log:
    try:
        while True:
            log.write(s.recv(4096).decode() + "\n")
    except socket.timeout:
        pass
PY
notify_pid=$!
until_ok 10 test -S "$tmp/notify.sock" >/dev/null

watch=$tmp/watch
mkdir -p "$watch" && chmod 755 "$watch"
cat >"$tmp/node.yaml" <<YAML
nodeName: k8s-node01
nodeIPs: [198.18.0.1]
clusterCIDRs: [198.18.1.0/24, 198.18.2.0/24, 198.18.3.0/24]
YAML
web_yaml 198.18.1.11 198.18.2.11 >"$watch/web.yaml"
dns_one 198.18.2.11 >"$watch/dns.yaml"
chmod 644 "$watch"/*.yaml "$tmp/node.yaml"
on node1 ip link set lo up

restricted node1 agent --watch "$watch" --node-config "$tmp/node.yaml" >>"$tmp/agent1.log" 2>&1 &
agent_pid[node1]=$!
waited=$(until_ok 10 on node1 nft list table inet svcnft) && pass "restricted agent installed its table in ${waited} ms" \
  || fail "restricted agent did not install its table"

# Really restricted: the agent process itself (the last exec of the chain).
agent=$(pgrep -n -f -- "$svcnft agent --watch $watch")
if [[ -n $agent ]]; then
  status=$(cat "/proc/$agent/status")
  grep -qE "^Uid:\s+$uid\s" <<<"$status" && grep -qE "^CapEff:\s+0000000000001000$" <<<"$status" &&
    grep -qE "^CapBnd:\s+0000000000001000$" <<<"$status" && grep -qE "^Seccomp:\s+2$" <<<"$status" &&
    grep -qE "^NoNewPrivs:\s+1$" <<<"$status" &&
    pass "the agent runs as uid $uid with only CAP_NET_ADMIN, no_new_privs and a seccomp filter" ||
    fail "the agent is not restricted: $(grep -E '^(Uid|CapEff|CapBnd|Seccomp|NoNewPrivs):' <<<"$status" | tr '\n' ' ')"
else
  fail "no agent process found"
fi

seen=$(for i in $(seq 20); do get client http://198.18.0.1:30001/; done | sort -u | tr '\n' ' ')
[[ $seen == "p1-1 p2-1 " ]] && pass "NodePort traffic reaches both endpoints" || fail "reached '$seen'"
until_ok 3 grep -q READY=1 "$tmp/notify.log" >/dev/null && pass "sd_notify READY=1 reached NOTIFY_SOCKET" \
  || fail "no READY=1"

web_yaml 198.18.3.11 >"$watch/.next" && chmod 644 "$watch/.next" && mv "$watch/.next" "$watch/web.yaml"
only_node3() { [[ $(for i in 1 2 3 4; do get client http://198.18.0.1:30001/; done | sort -u | tr '\n' ' ') == "p3-1 " ]]; }
waited=$(until_ok 3 only_node3) && pass "an endpoint change was followed within ${waited} ms" \
  || fail "traffic did not follow the endpoint change"

# UDP conntrack cleanup (netlink to conntrack, under the same filter).
until_ok 3 bash -c "ip netns exec $prefix-node1 nft list map inet svcnft service-ips-v4 | grep -q 198.18.100.53" >/dev/null
ask() { on p1-2 dig +short +time=1 +tries=1 -b 198.18.1.12#5353 @198.18.100.53 whoami.test; }
until_ok 2 bash -c "[[ \$(ip netns exec $prefix-p1-2 dig +short +time=1 +tries=1 -b 198.18.1.12#5353 @198.18.100.53 whoami.test) == 198.18.2.11 ]]" >/dev/null
first=$(ask)
dns_one 198.18.3.11 >"$watch/.next" && chmod 644 "$watch/.next" && mv "$watch/.next" "$watch/dns.yaml"
moved=
for i in $(seq 10); do
  sleep 0.2
  [[ $(ask) == 198.18.3.11 ]] && { moved=$((i * 200)); break; }
done
[[ $first == 198.18.2.11 && -n $moved ]] &&
  pass "a stale UDP flow was deleted ($(grep -o 'deleted [0-9]* UDP conntrack entries' "$tmp/agent1.log" | tail -1))" ||
  fail "UDP flow: first '$first', never moved to 198.18.3.11"

code=$(on node1 curl -s -m 2 -o /dev/null -w '%{http_code}' http://127.0.0.1:10256/healthz)
[[ $code == 200 ]] && pass "/healthz answers 200" || fail "/healthz answered '$code'"
# Read whole first: `curl | grep -q` under pipefail fails when grep stops reading early.
metrics=$(on node1 curl -s -m 2 http://127.0.0.1:10249/metrics)
grep -qE '^svcnft_services_programmed 2$' <<<"$metrics" &&
  pass "/metrics is served (2 Services programmed)" || fail "/metrics lacks svcnft_services_programmed 2"
if grep -qiE "operation not permitted|EPERM|EAFNOSUPPORT|permission denied" "$tmp/agent1.log"; then
  fail "the agent met a refusal: $(grep -iE 'operation not permitted|EPERM|EAFNOSUPPORT|permission denied' "$tmp/agent1.log" | head -3)"
else
  pass "no refused system call or permission in the agent's log"
fi

# API mode: the kubeconfig as a credential, readable by the agent's user alone.
kas_tools=
for d in "${KUBE_APISERVER_DIR:-}" "$root/../shared/kube-apiserver" /work/shared/kube-apiserver; do
  [[ -n $d && -x $d/start ]] && { kas_tools=$d; break; }
done
if [[ -z $kas_tools ]]; then
  echo "note: no kube-apiserver (KUBE_APISERVER_DIR), API mode under the restrictions not tried"
else
  KUBE_APISERVER_ADDRESS=198.18.0.250 on cp "$kas_tools/start" "$tmp/kas" >"$tmp/kas.log" 2>&1 ||
    { cat "$tmp/kas.log"; fail "the API server did not start"; }
  k() { on cp env KUBECONFIG="$tmp/kas/kubeconfig" kubectl "$@"; }
  k create -f - >/dev/null <<YAML || fail "objects not created"
apiVersion: v1
kind: Node
metadata: {name: node2}
status: {addresses: [{type: InternalIP, address: 198.18.0.2}]}
---
apiVersion: v1
kind: Service
metadata: {name: api-web, namespace: default}
spec: {type: NodePort, ports: [{name: http, port: 80, nodePort: 30005}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: api-web-1, namespace: default, labels: {kubernetes.io/service-name: api-web}}
addressType: IPv4
ports: [{name: http, port: 80}]
endpoints: [{addresses: [198.18.2.12], nodeName: node2}]
YAML
  # systemd's LoadCredential=: a directory and file owned by the service's user, 0400.
  mkdir -p "$tmp/credentials"
  cp "$tmp/kas/kubeconfig" "$tmp/credentials/kubeconfig"
  chown -R $uid:$uid "$tmp/credentials" && chmod 500 "$tmp/credentials" && chmod 400 "$tmp/credentials/kubeconfig"
  on node2 ip link set lo up
  printf 'clusterCIDRs: [198.18.1.0/24, 198.18.2.0/24, 198.18.3.0/24]\n' >"$tmp/node2.yaml"
  chmod 644 "$tmp/node2.yaml"
  restricted node2 agent --kubeconfig "$tmp/credentials/kubeconfig" --hostname-override node2 \
    --node-config "$tmp/node2.yaml" >>"$tmp/agent2.log" 2>&1 &
  agent_pid[node2]=$!
  waited=$(until_ok 15 bash -c "[[ \$(ip netns exec $prefix-client curl -s -m 1 http://198.18.0.2:30005/) == p2-2 ]]") &&
    pass "in API mode (TLS, client certificate as a credential) traffic flows in ${waited} ms" ||
    { fail "API mode under the restrictions did not program the Service"; tail -5 "$tmp/agent2.log"; }
fi

echo "restricted_agent: $passes passed, $failures failed"
[[ $failures -eq 0 ]]
