#!/usr/bin/env bash
# LoadBalancer addresses announced on one layer-2 segment, against a real
# kube-apiserver: the namespace cluster's wan bridge holds a client and three
# nodes; every node runs `svcnft agent --announce-interface eth0` with short
# Leases (3 s, renew deadline 2 s, retry 0.25 s: a follower sees the last renewal
# at most a retry late, so a takeover comes within 3.25 s of a death). A dual-stack LoadBalancer
# Service has the ingress addresses 198.18.0.200 and 2001:db8::200 and a pod on
# each node. For each family:
#   - exactly one node answers, and the client connects through it;
#   - the announcing node is killed hard (agent SIGKILLed, link down): new
#     connections succeed again through another node within the lease duration
#     plus one second (the gap is printed);
#   - the new announcing node is stopped cleanly (SIGTERM) while the client keeps
#     connecting: no connection fails (the next holder hands on to it the
#     connections in flight at the switch: announce/handover.h);
#   - the holder is cut off from the API server: it goes silent, another takes over;
#   - throughout, a probe on the client asks who has each address ten times a
#     second and records every answer and announcement: two nodes never answer in
#     the same round, and the client's neighbour entry names the node that holds
#     the Lease.
# Usage: lb_announce_test.sh SVCNFT SOURCE_DIR. Exit 77 (skip) without root or
# without the API server (KUBE_APISERVER_DIR, or ../shared/kube-apiserver).
set -uo pipefail
svcnft=$1
root=$2
prefix=lba$$
# shellcheck source=../netns/cluster_lib.sh
source "$root/test/netns/cluster_lib.sh"
require nft ip curl nginx python3 kubectl etcd
find_kube_apiserver

cluster=$root/scripts/netns-cluster
tmp=$(mktemp -d)
kas=$tmp/kas
declare -A agent_pid
probe_pid=
cleanup() {
  exec 2>/dev/null
  [[ -n $probe_pid ]] && kill "$probe_pid"
  for n in "${!agent_pid[@]}"; do kill -KILL "${agent_pid[$n]}" 2>/dev/null; done
  [[ -d $kas ]] && "$kas_tools/stop" "$kas" >/dev/null 2>&1
  "$cluster" down "$prefix"
  rm -rf "$tmp"
}
trap cleanup EXIT
"$cluster" up "$prefix" 1 >/dev/null || { echo "FAIL: cluster did not come up"; exit 1; }
# An IPv6 Service range too, for the dual-stack Service (the last flag wins).
KUBE_APISERVER_ADDRESS=198.18.0.250 \
  KUBE_APISERVER_EXTRA_ARGS=--service-cluster-ip-range=198.18.128.0/17,2001:db8:ffff::/112 \
  on cp "$kas_tools/start" "$kas" >"$tmp/kas-start.log" 2>&1 \
  || { cat "$tmp/kas-start.log"; echo "FAIL: the API server did not start"; exit 1; }
k() { on cp env KUBECONFIG="$kas/kubeconfig" kubectl "$@"; }

for n in 1 2 3; do
  k create -f - >/dev/null <<YAML || fail "Node node$n not created"
apiVersion: v1
kind: Node
metadata: {name: node$n}
spec: {podCIDRs: [198.18.$n.0/24, "2001:db8:$n::/64"]}
status:
  addresses: [{type: InternalIP, address: 198.18.0.$n}, {type: InternalIP, address: "2001:db8::$n"}]
YAML
done
cat >"$tmp/node.yaml" <<YAML
clusterCIDRs: [198.18.1.0/24, 198.18.2.0/24, 198.18.3.0/24, "2001:db8:1::/64", "2001:db8:2::/64", "2001:db8:3::/64"]
loadBalancerPools: [198.18.0.220/30, "2001:db8::220/126"]
YAML

# The ServiceAccount's RBAC (deploy/) allows the Leases: nodes 2 and 3 use its token.
k apply -f "$root/deploy/rbac.yaml" >/dev/null
sa=system:serviceaccount:kube-system:svcnft
if [[ $(k auth can-i --as "$sa" -n kube-system update leases.coordination.k8s.io) == yes &&
      $(k auth can-i --as "$sa" -n default update leases.coordination.k8s.io) == no &&
      $(k auth can-i --as "$sa" -n kube-system delete leases.coordination.k8s.io) == no &&
      $(k auth can-i --as "$sa" patch services --subresource=status) == yes &&
      $(k auth can-i --as "$sa" patch services) == no ]]; then
  pass "the ServiceAccount may get, create and update Leases in kube-system and patch Services' status, and nothing more"
else
  fail "RBAC for Leases: $(k auth can-i --list --as "$sa" -n kube-system 2>&1 | grep -i lease)"
fi
sa_kubeconfig "$kas" "$tmp"
start_agent() {  # start_agent N
  local kubeconfig=$tmp/sa-kubeconfig
  [[ $1 == 1 ]] && kubeconfig=$kas/kubeconfig
  # `ip netns exec` itself, so that $! is the agent (a function in the background
  # would be a subshell, and a signal would stop the shell, not the agent).
  ip netns exec "$prefix-node$1" "$svcnft" agent --kubeconfig "$kubeconfig" --hostname-override "node$1" \
    --node-config "$tmp/node.yaml" --min-sync-interval 20ms --healthz-bind "" \
    --metrics-bind 127.0.0.1:10249 --announce-interface eth0 \
    --lease-duration 3s --renew-deadline 2s --retry-period 250ms >>"$tmp/agent$1.log" 2>&1 &
  agent_pid[$1]=$!
}
for n in 1 2 3; do start_agent "$n"; done

k apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  type: LoadBalancer
  ipFamilyPolicy: RequireDualStack
  ipFamilies: [IPv4, IPv6]
  ports: [{name: http, port: 80, targetPort: 80}]
YAML
k patch service web -n default --subresource=status --type=merge \
  -p '{"status":{"loadBalancer":{"ingress":[{"ip":"198.18.0.200"},{"ip":"2001:db8::200"}]}}}' \
  >/dev/null || fail "status.loadBalancer.ingress not written"
slices() {  # slices SERVICE: its pod on each node, one slice per family
  local fam n a
  for fam in 4 6; do
    {
      echo "apiVersion: discovery.k8s.io/v1"
      echo "kind: EndpointSlice"
      echo "metadata: {name: $1-v$fam, namespace: default, labels: {kubernetes.io/service-name: $1}}"
      echo "addressType: IPv$fam"
      echo "ports: [{name: http, port: 80, protocol: TCP}]"
      echo "endpoints:"
      for n in 1 2 3; do
        if [[ $fam == 4 ]]; then a=198.18.$n.11; else a="\"2001:db8:$n::11\""; fi
        echo "- {addresses: [$a], nodeName: node$n, conditions: {ready: true}}"
      done
    } | k apply -f - >/dev/null || fail "EndpointSlice $1-v$fam not written"
  done
}
slices web

# A Service of svcnft's class without addresses: the elected allocator gives it the
# lowest free one of each family from loadBalancerPools and writes its status.
k apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: pool, namespace: default}
spec:
  type: LoadBalancer
  loadBalancerClass: svcnft.io/layer2
  ipFamilyPolicy: RequireDualStack
  ipFamilies: [IPv4, IPv6]
  ports: [{name: http, port: 80, targetPort: 80}]
YAML
slices pool
ingress() { k get service -n default pool -o jsonpath='{.status.loadBalancer.ingress[*].ip}' 2>/dev/null; }
if waited=$(until_ok 20 bash -c "[[ \$($(declare -f k on ingress); prefix=$prefix; kas=$kas; ingress) == '198.18.0.220 2001:db8::220' ]]"); then
  pass "Service pool (class svcnft.io/layer2) got 198.18.0.220 and 2001:db8::220 from the pools ($waited ms; $(grep -l "assigned 198.18.0.220" "$tmp"/agent*.log | xargs -n1 basename | tr '\n' ' ')wrote it)"
else
  fail "Service pool's ingress: '$(ingress)'"
fi
for url in http://198.18.0.220/ "http://[2001:db8::220]/"; do
  if waited=$(until_ok 10 on client curl -s --connect-timeout 0.2 -m 1 "$url"); then
    pass "the client connects to $url ($waited ms)"
  else
    fail "the client cannot connect to $url"
  fi
done

on client python3 "$root/test/api/neighbour_probe.py" eth0 "$tmp/probe.log" \
  198.18.0.200 2001:db8::200 --seconds 240 &
probe_pid=$!

# Events in the probe's log, to tell what a doubled round was near.
mark() { echo "$(date +%s.%N | cut -c1-14) EVENT $*" >>"$tmp/probe.log"; }
url_of() { [[ $1 == 4 ]] && echo "http://198.18.0.200/" || echo "http://[2001:db8::200]/"; }
vip_of() { [[ $1 == 4 ]] && echo 198.18.0.200 || echo 2001:db8::200; }
lease_of() { [[ $1 == 4 ]] && echo svcnft-lb-198-18-0-200 || echo svcnft-lb-2001-db8--200; }
holder() {
  k get lease -n kube-system "$(lease_of "$1")" -o jsonpath='{.spec.holderIdentity}' 2>/dev/null
}
mac_of() { on "node$1" cat /sys/class/net/eth0/address; }
connects() { on client curl -s --connect-timeout 0.2 -m 1 "$(url_of "$1")" >/dev/null; }
# The client's neighbour entry for the address: the MAC it sends to.
neighbour_mac() {
  on client ip -"$1" neigh show "$(vip_of "$1")" dev eth0 | awk '/lladdr/ {print $3}'
}

for fam in 4 6; do
  if waited=$(until_ok 20 bash -c "[[ -n \$($(declare -f k on holder lease_of); prefix=$prefix; kas=$kas; holder $fam) ]]"); then
    pass "IPv$fam: a node holds the Lease of $(vip_of "$fam") ($waited ms)"
  else
    fail "IPv$fam: no node took the Lease of $(vip_of "$fam")"
  fi
  if waited=$(until_ok 10 connects "$fam"); then
    pass "IPv$fam: the client connects to $(vip_of "$fam") ($waited ms)"
  else
    fail "IPv$fam: the client cannot connect to $(vip_of "$fam")"
  fi
done

# kill_test FAMILY: the holder is killed hard; the gap until the client connects again.
kill_test() {
  local fam=$1 h t_kill gap new
  h=$(holder "$fam")
  h=${h#node}
  [[ $h =~ ^[123]$ ]] || { fail "IPv$fam: no holder to kill"; return; }
  connects "$fam" || fail "IPv$fam: not connecting before the kill"
  t_kill=$(date +%s%N)
  mark "IPv$fam kill node$h"
  kill -KILL "${agent_pid[$h]}"
  on "node$h" ip link set eth0 down
  if ! gap=$(gap_since "$t_kill" connects "$fam"); then
    fail "IPv$fam: no connection after node$h was killed"
  else
    if (( gap <= 4000 )); then
      pass "IPv$fam: node$h killed hard; new connections succeed again after $gap ms (lease 3 s + 1 s: 4000 ms)"
    else
      fail "IPv$fam: node$h killed hard; connections came back only after $gap ms (over 4000)"
    fi
  fi
  new=$(holder "$fam")
  new=${new#node}
  if [[ $new =~ ^[123]$ && $new != "$h" && $(neighbour_mac "$fam") == "$(mac_of "$new")" ]]; then
    pass "IPv$fam: node$new holds the Lease and the client's neighbour entry names its MAC"
  else
    fail "IPv$fam: holder '$new', client's neighbour entry $(neighbour_mac "$fam"), node MACs $(for n in 1 2 3; do echo -n "$n=$(mac_of $n) "; done)"
  fi
  # node$h comes back (link up, agent started) and stands by.
  on "node$h" ip link set eth0 up
  on "node$h" ip -6 addr replace "2001:db8::$h/64" dev eth0 nodad
  on "node$h" ip route replace default via 198.18.0.254
  on "node$h" ip -6 route replace default via 2001:db8::254
  for j in 1 2 3; do
    [[ $j == "$h" ]] && continue
    on "node$h" ip route replace "198.18.$j.0/24" via "198.18.0.$j"
    on "node$h" ip -6 route replace "2001:db8:$j::/64" via "2001:db8::$j"
  done
  mark "IPv$fam restart node$h"
  start_agent "$h"
  # Back in the cluster before the next step: its pod reachable from the other nodes
  # over both families (IPv6 needs its link-local address and neighbours again), and
  # its agent synced.
  local j
  for j in 1 2 3; do
    [[ $j == "$h" ]] && continue
    until_ok 15 on "node$j" curl -sf -m 1 "http://198.18.$h.11/" >/dev/null || fail "node$j cannot reach p$h-1 again"
    until_ok 15 on "node$j" curl -sf -m 1 "http://[2001:db8:$h::11]/" >/dev/null || fail "node$j cannot reach p$h-1 over IPv6 again"
  done
  until_ok 15 grep -q "first sync" "$tmp/agent$h.log" >/dev/null || fail "node$h's agent did not sync after its restart"
}

# stop_test FAMILY: the holder stops cleanly while the client keeps connecting.
stop_test() {
  local fam=$1 h failed=0 n=0 new
  h=$(holder "$fam")
  h=${h#node}
  [[ $h =~ ^[123]$ ]] || { fail "IPv$fam: no holder to stop"; return; }
  ( for _ in $(seq 1 60); do
      if on client curl -s -m 2 "$(url_of "$fam")" >/dev/null; then echo ok; else echo "failed $? $(date +%s.%N | cut -c1-14)"; fi
      sleep 0.05
    done >"$tmp/stop$fam.log" ) &
  local loop=$!
  # One connection kept open across the stop: its packets move to the next holder
  # mid-connection, which hands them on.
  local host
  [[ $fam == 4 ]] && host=198.18.0.200 || host=2001:db8::200
  on client python3 "$root/test/api/keepalive_client.py" "$host" 80 3 0.05 >"$tmp/keep$fam.log" 2>&1 &
  local keep=$!
  sleep 0.5
  mark "IPv$fam stop node$h"
  kill -TERM "${agent_pid[$h]}"
  wait "${agent_pid[$h]}" 2>/dev/null
  wait "$loop"
  wait "$keep"
  if grep -q "^ok" "$tmp/keep$fam.log"; then
    pass "IPv$fam: one connection kept open across the clean stop of node$h: $(cat "$tmp/keep$fam.log") requests answered"
  else
    fail "IPv$fam: the connection kept open across the clean stop of node$h broke: $(cat "$tmp/keep$fam.log")"
  fi
  n=$(grep -c . "$tmp/stop$fam.log")
  failed=$(grep -c failed "$tmp/stop$fam.log")
  if (( failed == 0 && n == 60 )); then
    pass "IPv$fam: node$h stopped cleanly: 0 of $n connections failed"
  else
    fail "IPv$fam: node$h stopped cleanly: $failed of $n connections failed ($(grep failed "$tmp/stop$fam.log" | tr '\n' ' ')curl exit code, time; events: $(grep EVENT "$tmp/probe.log" | tail -2 | tr '\n' ';'))"
  fi
  local own
  [[ $fam == 4 ]] && own=198.18.0.$h || own=2001:db8::$h
  # The stopped node released its Leases on its way out, perhaps only a moment ago:
  # the next holder writes the Lease first and installs the handover in the same
  # round, after its other Leases' requests. Wait for both, bounded.
  handed_on() {
    new=$(holder "$fam")
    new=${new#node}
    [[ $new =~ ^[123]$ && $new != "$h" ]] &&
      on "node$new" nft list map "$([[ $fam == 4 ]] && echo ip || echo ip6)" svcnft-handover \
        "handover-v$fam" | grep -q "$(vip_of "$fam") : $own"
  }
  for _ in $(seq 1 100); do handed_on && break; sleep 0.02; done
  if handed_on && grep -q "released $(vip_of "$fam")" "$tmp/agent$h.log"; then
    pass "IPv$fam: node$h released its Lease at the stop; node$new took over and hands on to $own the connections begun through it"
  else
    fail "IPv$fam: after the clean stop the holder is '$new'; node$h's log ends: $(tail -4 "$tmp/agent$h.log"); node$new's handover map: $(on "node$new" nft list map "$([[ $fam == 4 ]] && echo ip || echo ip6)" svcnft-handover "handover-v$fam" 2>&1 | grep -A2 elements); its log: $(tail -5 "$tmp/agent$new.log")"
  fi
  start_agent "$h"
}

for fam in 4 6; do
  kill_test "$fam"
  sleep 1
  stop_test "$fam"
  sleep 1
done

# The holder cut off from the API server (its packets to it dropped; its link and
# its forwarding stay): it goes silent at its renew deadline, before another node
# may take the Lease; the probe below checks that no round saw both.
h=$(holder 4)
h=${h#node}
if [[ $h =~ ^[123]$ ]]; then
  silent_before=$(grep -c "no longer announcing 198.18.0.200" "$tmp/agent$h.log")
  mark "IPv4 cut node$h from the API server"
  on "node$h" nft -f - <<'NFT'
table inet cutapi {
  chain out {
    type filter hook output priority 0; policy accept;
    ip daddr 198.18.0.250 drop
  }
}
NFT
  t_cut=$(date +%s%N)
  if until_ok 10 bash -c "n=\$($(declare -f k on holder lease_of); prefix=$prefix; kas=$kas; holder 4); [[ -n \$n && \$n != node$h ]]" >/dev/null; then
    took=$(( ($(date +%s%N) - t_cut) / 1000000 ))
    # Its log may say so a little later: the responder went silent at the deadline
    # by itself, while the announcer's requests to the unreachable server time out.
    until_ok 10 bash -c "(( \$(grep -c 'no longer announcing 198.18.0.200' '$tmp/agent$h.log') > $silent_before ))" >/dev/null
    failures_h=$(on "node$h" curl -s -m 2 http://127.0.0.1:10249/metrics | awk '/^svcnft_lb_lease_renew_failures_total/ {print $2}')
    if (( $(grep -c "no longer announcing 198.18.0.200" "$tmp/agent$h.log") > silent_before )) &&
       (( ${failures_h:-0} > 0 )); then
      pass "IPv4: node$h cut from the API server went silent ($failures_h renew failures counted), and $(holder 4) took over after $took ms"
    else
      fail "IPv4: node$h cut from the API server: $(holder 4) took over, but node$h did not say it stopped announcing"
    fi
  else
    fail "IPv4: node$h cut from the API server, and no other node took the Lease"
  fi
  until_ok 10 connects 4 >/dev/null || fail "IPv4: no connection after node$h was cut from the API server"
  on "node$h" nft delete table inet cutapi
fi

metrics=$(for n in 1 2 3; do on "node$n" curl -s -m 2 http://127.0.0.1:10249/metrics; done)
if grep -q '^svcnft_lb_announced{address="198.18.0.200",service="default/web"} 1' <<<"$metrics" &&
   grep -q '^svcnft_lb_takeovers_total [1-9]' <<<"$metrics"; then
  pass "/metrics: svcnft_lb_announced names the address and Service; takeovers counted"
else
  fail "/metrics: $(grep svcnft_lb_ <<<"$metrics" | head -8)"
fi

check_probe "$tmp/probe.log" 100 node

# nft itself reads the handover tables back as the rules svcnft meant (its listing
# of a rule it does not expect can even abort).
listing=$(on node1 nft list ruleset 2>&1)
if grep -q "ct state new tcp flags ack / syn,ack ip daddr @handover-v4 dup to ip daddr map @handover-v4 drop" <<<"$listing" &&
   grep -q "ct state new tcp flags ack / syn,ack ip6 daddr @handover-v6 dup to ip6 daddr map @handover-v6 drop" <<<"$listing"; then
  pass "nft list ruleset shows the handover rules as written"
else
  fail "nft list ruleset: $(grep -A8 "svcnft-handover" <<<"$listing" | head -20)"
fi

# svcnft cleanup takes the handover tables too (on a node that has them).
for n in 1 2 3; do
  on "node$n" nft list tables | grep -q "ip6 svcnft-handover" || continue
  kill -TERM "${agent_pid[$n]}"; wait "${agent_pid[$n]}" 2>/dev/null; unset "agent_pid[$n]"
  on "node$n" "$svcnft" cleanup 2>/dev/null
  if on "node$n" nft list tables | grep -q svcnft; then
    fail "svcnft cleanup on node$n left: $(on "node$n" nft list tables | grep svcnft)"
  else
    pass "svcnft cleanup on node$n removed the main and the handover tables"
  fi
  break
done

echo "$passes passed, $failures failed"
if (( failures > 0 )); then
  for n in 1 2 3; do echo "--- agent$n.log"; grep -v "^$" "$tmp/agent$n.log" | tail -25; done
fi
exit $((failures > 0))
