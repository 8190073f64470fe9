#!/usr/bin/env bash
# The keepalived example (examples/keepalived/) on plain hosts: the namespace
# cluster's three nodes each run `svcnft agent --watch` on the example's manifests
# and keepalived with the example's configuration (priorities 150, 100, 50). A
# client on the same segment connects to the VRRP address 198.18.0.210; the master
# is killed hard (keepalived SIGKILLed, its link taken down): new connections
# succeed again through another host within the VRRP master-down interval (3
# advertisements and the skew) plus one second (the gap is printed); the client's
# neighbour entry names the new master; and a probe on the client checks that one
# host at a time answered for the address.
# Usage: keepalived_test.sh SVCNFT SOURCE_DIR. Exit 77 (skip) without root or keepalived.
set -uo pipefail
svcnft=$1
root=$2
prefix=kad$$
# shellcheck source=cluster_lib.sh
source "$root/test/netns/cluster_lib.sh"
require nft ip curl nginx python3 keepalived
cluster=$root/scripts/netns-cluster
example=$root/examples/keepalived
tmp=$(mktemp -d)
declare -A agent_pid keepalived_pid
probe_pid=
cleanup() {
  exec 2>/dev/null
  [[ -n $probe_pid ]] && kill "$probe_pid"
  for n in "${!keepalived_pid[@]}"; do kill -KILL "${keepalived_pid[$n]}"; done
  for n in "${!agent_pid[@]}"; do kill -KILL "${agent_pid[$n]}"; done
  "$cluster" down "$prefix"
  rm -rf "$tmp"
}
trap cleanup EXIT
"$cluster" up "$prefix" 1 >/dev/null || { echo "FAIL: cluster did not come up"; exit 1; }

vip=198.18.0.210
declare -A priority=([1]=150 [2]=100 [3]=50)
for n in 1 2 3; do
  mkdir -p "$tmp/watch$n"
  cp "$example/manifests.yaml" "$tmp/watch$n/"
  sed -e "s/k8s-node01/k8s-node0$n/" -e "s/198.18.0.1\]/198.18.0.$n]/" \
    "$example/node-config.yaml" >"$tmp/node$n.yaml"
  sed -e "s/router_id svcnft-host1/router_id svcnft-host$n/" \
    -e "s/priority 150/priority ${priority[$n]}/" "$example/keepalived.conf" >"$tmp/keepalived$n.conf"
  # `ip netns exec` itself, so that $! is the process (see api_agent_test.sh).
  ip netns exec "$prefix-node$n" "$svcnft" agent --watch "$tmp/watch$n" --node-config "$tmp/node$n.yaml" \
    --healthz-bind "" --metrics-bind "" >>"$tmp/agent$n.log" 2>&1 &
  agent_pid[$n]=$!
  ip netns exec "$prefix-node$n" keepalived --dont-fork --log-console --vrrp \
    --use-file "$tmp/keepalived$n.conf" --pid "$tmp/keepalived$n.pid" \
    --vrrp_pid "$tmp/vrrp$n.pid" >>"$tmp/keepalived$n.log" 2>&1 &
  keepalived_pid[$n]=$!
done

on client python3 "$root/test/api/neighbour_probe.py" eth0 "$tmp/probe.log" "$vip" --seconds 120 &
probe_pid=$!

master() {
  local n
  for n in 1 2 3; do
    on "node$n" ip -4 addr show dev eth0 2>/dev/null | grep -q " $vip/" && echo "$n"
  done
}
connects() { on client curl -s --connect-timeout 0.2 -m 1 "http://$vip/" >/dev/null; }

if waited=$(until_ok 20 connects); then
  pass "the client connects to $vip through keepalived's master ($waited ms)"
else
  fail "the client cannot connect to $vip; masters: '$(master)'"
fi
m=$(master)
[[ $m == 1 ]] && pass "node1 (priority 150) is the only master" || fail "masters: '$m'"

# The master killed hard: keepalived SIGKILLed and its link down.
# Both processes at once: the VRRP child outlives its parent and would otherwise
# stop cleanly (a priority-0 advertisement hands over at once).
vrrp_child=$(cat "$tmp/vrrp$m.pid" 2>/dev/null)
t_kill=$(date +%s%N)
kill -KILL ${vrrp_child:+"$vrrp_child"} "${keepalived_pid[$m]}"
unset "keepalived_pid[$m]"
on "node$m" ip link set eth0 down
if ! gap=$(gap_since "$t_kill" connects); then
  fail "no connection after node$m was killed"
else
  # advert_int 1: master down after 3 intervals and a skew of (256 - priority) / 256 s.
  if (( gap <= 5000 )); then
    pass "node$m killed hard; new connections succeed again after $gap ms (master down interval ~3.6 s + 1 s: 5000 ms)"
  else
    fail "node$m killed hard; connections came back only after $gap ms (over 5000)"
  fi
fi
new=$(master | grep -v "^$m$")
mac=$(on "node${new:-0}" cat /sys/class/net/eth0/address 2>/dev/null)
seen=$(on client ip -4 neigh show "$vip" dev eth0 | awk '/lladdr/ {print $3}')
if [[ $new == 2 && -n $mac && $seen == "$mac" ]]; then
  pass "node2 (priority 100) took over, and the client's neighbour entry names its MAC"
else
  fail "after the kill: master '$new' (MAC '$mac'), client's entry '$seen'"
fi

sleep 3  # the probe goes on asking the new master
check_probe "$tmp/probe.log" 20 host

echo "$passes passed, $failures failed"
if (( failures > 0 )); then
  for n in 1 2 3; do echo "--- keepalived$n.log"; tail -8 "$tmp/keepalived$n.log"; done
fi
exit $((failures > 0))
