#!/usr/bin/env bash
# Real packets prove what the rules mean. A three-node namespace cluster
# (scripts/netns-cluster), each node programmed by its own `svcnft apply` of
# test/netns/semantics.yaml (netlink, no nft); then real clients (curl, dig) check
# one semantic of docs/design.md each, as a user would.
# Usage: semantics_test.sh SVCNFT_BINARY SOURCE_DIR. Exit 77 (skip) without root.
set -uo pipefail
svcnft=$1
root=$2
prefix=sem$$
# shellcheck source=cluster_lib.sh
source "$root/test/netns/cluster_lib.sh"
require nft ip curl dig nginx dnsmasq

cluster=$root/scripts/netns-cluster
tmp=$(mktemp -d)
trap '"$cluster" down "$prefix"; rm -rf "$tmp"' EXIT
"$cluster" up "$prefix" 2 || { echo "FAIL: cluster did not come up"; exit 1; }
state=/tmp/netns-cluster-$prefix


for k in 1 2 3; do
  # node2 leaves nodeIPs out: its NodePorts answer on every local address but
  # loopback (fib daddr type local), the default.
  node_ips="nodeIPs: [198.18.0.$k, \"2001:db8::$k\"]"
  [[ $k == 2 ]] && node_ips=""
  cat >"$tmp/node$k.yaml" <<YAML
nodeName: k8s-node0$k
zone: zone-$k
$node_ips
clusterCIDRs: [198.18.1.0/24, 198.18.2.0/24, 198.18.3.0/24, "2001:db8:1::/64", "2001:db8:2::/64", "2001:db8:3::/64"]
externalIPAllow: [198.18.200.0/24]
serviceCIDRs: [198.18.100.0/24]
YAML
  on "node$k" "$svcnft" apply -f "$root/test/netns/semantics.yaml" --node-config "$tmp/node$k.yaml" 2>/dev/null \
    || { echo "FAIL: svcnft apply on node$k"; exit 1; }
done
# Warm neighbour caches (IPv6 DAD is off, but ND still takes a round trip).
for k in 1 2 3; do get client -o /dev/null "http://198.18.0.$k:30001/"; get client -6 -o /dev/null "http://[2001:db8::$k]:30060/"; done

# --- the seed: NodePort 30001 on every node's IP, all three nginx pods answer ---
for k in 1 2 3; do
  seen=$(for i in $(seq 30); do get client "http://198.18.0.$k:30001/"; done | sort -u | tr '\n' ' ')
  [[ $seen == "p1-1 p2-1 p3-1 " ]] && pass "NodePort 30001 on node$k reaches all 3 pods" \
    || fail "NodePort 30001 on node$k reached: '$seen'"
done
# Never on loopback (no route_localnet, CVE-2020-8558): 127.0.0.1:30001 is not DNATed.
out=$(get node2 http://127.0.0.1:30001/); rc=$?
[[ $rc -eq 7 && -z $out ]] && pass "NodePort is not served on 127.0.0.1" || fail "127.0.0.1:30001 gave '$out' (curl exit $rc)"

# externalTrafficPolicy Cluster: masqueraded, so the backend sees a node, not the client.
sources=$(sort -u "$state/p2-1/access.log" | tr '\n' ' ')
if grep -q 198.18.0.100 "$state/p2-1/access.log" || ! grep -qE '^198\.18\.(0\.[123]|[123]\.1)$' "$state/p2-1/access.log"; then
  fail "Cluster policy: p2-1 saw '$sources', not only node addresses"
else pass "Cluster policy: backends see node addresses ($sources), not the client"; fi

# --- externalIPs: like a ClusterIP reached from outside ---
out=$(get client http://198.18.200.30:8000/)
[[ $out == p3-2 ]] && pass "externalIP 198.18.200.30:8000 reaches its endpoint" \
  || fail "externalIP got '$out'"

# --- internalTrafficPolicy Local: the node's own endpoint, or nothing ---
seen=$(for i in $(seq 10); do get p1-1 http://198.18.100.40/; done | sort -u | tr '\n' ' ')
[[ $seen == "p1-2 " ]] && pass "internalTrafficPolicy Local: node1's pods reach only p1-2" \
  || fail "internalTrafficPolicy Local: node1 reached '$seen'"
get p3-1 -o /dev/null http://198.18.100.40/; rc=$?
[[ $rc -eq 28 ]] && pass "internalTrafficPolicy Local: node3 (no local endpoint) drops" \
  || fail "internalTrafficPolicy Local: node3 gave curl exit $rc (want 28)"

# --- serviceCIDRs: a ClusterIP on a port it does not serve rejects; a free address drops ---
get p2-1 -o /dev/null http://198.18.100.10:81/; rc=$?
[[ $rc -eq 7 ]] && pass "serviceCIDRs: ClusterIP on an unserved port refused" \
  || fail "serviceCIDRs: unserved port gave curl exit $rc (want 7)"
get p2-1 -o /dev/null http://198.18.100.99/; rc=$?
[[ $rc -eq 28 ]] && pass "serviceCIDRs: an unallocated address is dropped" \
  || fail "serviceCIDRs: unallocated address gave curl exit $rc (want 28)"

# --- ClusterIP from a pod ---
seen=$(for i in $(seq 20); do get p3-2 http://198.18.100.10/; done | sort -u | tr '\n' ' ')
[[ $seen == "p1-2 p2-2 " ]] && pass "ClusterIP from a pod reaches both endpoints (targetPort 8080)" \
  || fail "ClusterIP from a pod reached: '$seen'"

# --- no endpoints: refused at once ---
start=$(date +%s%N)
get client -o /dev/null http://198.18.0.1:30080/; rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[[ $rc -eq 7 && $ms -lt 1000 ]] && pass "no endpoints: NodePort refused in ${ms} ms" \
  || fail "no endpoints: curl exit $rc after ${ms} ms (want 7, refused, under 1 s)"
get p2-1 -o /dev/null http://198.18.100.80/; rc=$?
[[ $rc -eq 7 ]] && pass "no endpoints: ClusterIP refused" || fail "no endpoints: ClusterIP curl exit $rc"

# --- externalTrafficPolicy Local ---
: >"$state/p1-2/access.log"
seen=$(for i in $(seq 10); do get client http://198.18.0.1:30011/; done | sort -u | tr '\n' ' ')
[[ $seen == "p1-2 " ]] && pass "Local policy: node1 answers only with its local endpoint" \
  || fail "Local policy: node1 answered with '$seen'"
grep -qx 198.18.0.100 "$state/p1-2/access.log" && pass "Local policy: the backend sees the real client" \
  || fail "Local policy: p1-2 log has $(sort -u "$state/p1-2/access.log" | tr '\n' ' ')"
get client -o /dev/null http://198.18.0.3:30011/; rc=$?
[[ $rc -eq 28 ]] && pass "Local policy: node3 (no local endpoint) drops" \
  || fail "Local policy: node3 gave curl exit $rc (want 28, timeout)"
seen=$(for i in $(seq 10); do get p3-1 http://198.18.0.3:30011/; done | sort -u | tr '\n' ' ')
[[ -n $seen ]] && pass "Local policy: a pod on node3 still reaches the Service ($seen)" \
  || fail "Local policy: pod short-circuit failed"
# A pod of node2 through node1's Local NodePort: pod traffic goes to every endpoint,
# itself included, so node1 must hairpin-masquerade an endpoint of another node here.
seen=$(for i in $(seq 20); do get p2-2 http://198.18.0.1:30011/ || echo failed; done | sort -u | tr '\n' ' ')
[[ $seen == "p1-2 p2-2 " ]] && pass "Local policy: node2's pod via node1 reaches both endpoints, itself too (hairpin)" \
  || fail "Local policy: node2's pod via node1 got '$seen'"

# --- topology hints: each node's pods reach only their zone's endpoint ---
for k in 1 2 3; do
  seen=$(for i in $(seq 10); do get "p$k-2" http://198.18.100.60/; done | sort -u | tr '\n' ' ')
  [[ $seen == "p$k-1 " ]] && pass "topology hints: node$k's pod reaches only its zone's endpoint" ||
    fail "topology hints: node$k's pod reached '$seen'"
done

# --- masqueradeAll: cluster traffic masqueraded, externalTrafficPolicy Local still not ---
sed 's/^serviceCIDRs:/masqueradeAll: true\nserviceCIDRs:/' "$tmp/node1.yaml" >"$tmp/node1-masq.yaml"
on node1 "$svcnft" apply -f "$root/test/netns/semantics.yaml" --node-config "$tmp/node1-masq.yaml" 2>/dev/null \
  || fail "svcnft apply with masqueradeAll on node1"
: >"$state/p1-2/access.log"
seen=$(for i in $(seq 5); do get client http://198.18.0.1:30011/; done | sort -u | tr '\n' ' ')
[[ $seen == "p1-2 " ]] && grep -qx 198.18.0.100 "$state/p1-2/access.log" &&
  ! grep -vqx 198.18.0.100 "$state/p1-2/access.log" &&
  pass "masqueradeAll: the Local policy's backend still sees the real client" ||
  fail "masqueradeAll: Local policy answered '$seen', backend saw $(sort -u "$state/p1-2/access.log" | tr '\n' ' ')"
for p in p2-1 p3-1 p3-2; do : >"$state/$p/access.log"; done
for i in $(seq 20); do get p1-2 -o /dev/null http://198.18.100.50/; done
sources=$(cat "$state"/p2-1/access.log "$state"/p3-1/access.log "$state"/p3-2/access.log | sort -u | tr '\n' ' ')
[[ -n $sources && $sources != *198.18.1.12* ]] &&
  pass "masqueradeAll: a pod's ClusterIP traffic reaches other nodes' pods masqueraded ($sources)" ||
  fail "masqueradeAll: other nodes' pods saw '$sources' (the pod's own 198.18.1.12 means not masqueraded)"
on node1 "$svcnft" apply -f "$root/test/netns/semantics.yaml" --node-config "$tmp/node1.yaml" 2>/dev/null \
  || fail "svcnft apply of node1's own config again"

# --- weights 1:1:2, and 0 takes nothing: 1,000 connections, chi-square ---
urls=$(for i in $(seq 1000); do printf 'http://198.18.100.50/ '; done)
on p2-2 curl -s -m 60 -H 'Connection: close' $urls >"$tmp/weights"
read -r a b c z <<<"$(for p in p1-1 p2-1 p3-1 p3-2; do grep -cx "$p" "$tmp/weights"; done | tr '\n' ' ')"
chi=$(awk -v a="$a" -v b="$b" -v c="$c" 'BEGIN { n = a + b + c;
  e1 = n / 4; e3 = n / 2; printf "%.2f", (a-e1)^2/e1 + (b-e1)^2/e1 + (c-e3)^2/e3 }')
# chi-square, 2 degrees of freedom: p > 0.001 while the statistic is under 13.82.
if [[ $((a + b + c)) -eq 1000 && $z -eq 0 ]] && awk -v x="$chi" 'BEGIN { exit !(x < 13.82) }'; then
  pass "weights 1:1:2 gave $a/$b/$c of 1000 (chi-square $chi), weight 0 got $z"
else fail "weights: $a/$b/$c, weight 0 got $z, chi-square $chi"; fi

# semantics.yaml with ADDRESS gone from the EndpointSlice named NAME.
without_endpoint() {  # without_endpoint NAME ADDRESS
  python3 - "$root/test/netns/semantics.yaml" "$1" "$2" <<'PY'
import sys
docs = open(sys.argv[1]).read().split("\n---\n")
out = []
for d in docs:
    if "name: %s," % sys.argv[2] in d and "EndpointSlice" in d:
        d = "\n".join(l for l in d.split("\n") if sys.argv[3] not in l)
    out.append(d)
print("\n---\n".join(out))
PY
}

# --- sessionAffinity ClientIP: 50 connections, one endpoint ---
seen=$(for i in $(seq 50); do get client http://198.18.0.1:30070/; done | sort -u | tr '\n' ' ')
[[ $(wc -w <<<"$seen") -eq 1 ]] && pass "affinity: 50 connections from one client hit $seen" \
  || fail "affinity: hits spread over '$seen'"
# Its endpoint leaves: the client moves at once, not after the affinity timeout.
gone=${seen%% *}
gone_ip=198.18.${gone:1:1}.11
without_endpoint sticky "$gone_ip" >"$tmp/sticky-less.yaml"
on node1 "$svcnft" apply -f "$tmp/sticky-less.yaml" --node-config "$tmp/node1.yaml" 2>/dev/null \
  || fail "svcnft apply of sticky-less.yaml"
seen=$(for i in $(seq 10); do get client http://198.18.0.1:30070/; done | sort -u | tr '\n' ' ')
if [[ $(wc -w <<<"$seen") -eq 1 && $seen != "$gone " ]]; then
  pass "affinity: with $gone removed the client moved at once to $seen"
else fail "affinity: after removing $gone the client reached '$seen'"; fi
on node1 "$svcnft" apply -f "$root/test/netns/semantics.yaml" --node-config "$tmp/node1.yaml" 2>/dev/null \
  || fail "svcnft apply of semantics.yaml again"

# --- sessionAffinity over IPv6 (keyed by hashes of client and front, for nft 1.0.6) ---
seen=$(for i in $(seq 50); do get client -6 "http://[2001:db8::1]:30071/"; done | sort -u | tr '\n' ' ')
[[ $(wc -w <<<"$seen") -eq 1 ]] && pass "IPv6 affinity: 50 NodePort connections from one client hit $seen" \
  || fail "IPv6 affinity: NodePort hits spread over '$seen'"
seen_pod=$(for i in $(seq 30); do get p2-2 -6 "http://[2001:db8:100::70]/"; done | sort -u | tr '\n' ' ')
[[ $(wc -w <<<"$seen_pod") -eq 1 ]] && pass "IPv6 affinity: 30 ClusterIP connections from a pod hit $seen_pod" \
  || fail "IPv6 affinity: ClusterIP hits spread over '$seen_pod'"
gone=${seen%% *}
gone_ip=2001:db8:${gone:1:1}::11
without_endpoint sticky6 "$gone_ip" >"$tmp/sticky6-less.yaml"
on node1 "$svcnft" apply -f "$tmp/sticky6-less.yaml" --node-config "$tmp/node1.yaml" 2>/dev/null \
  || fail "svcnft apply of sticky6-less.yaml"
seen=$(for i in $(seq 10); do get client -6 "http://[2001:db8::1]:30071/"; done | sort -u | tr '\n' ' ')
if [[ $(wc -w <<<"$seen") -eq 1 && $seen != "$gone " ]]; then
  pass "IPv6 affinity: with $gone removed the client moved at once to $seen"
else fail "IPv6 affinity: after removing $gone the client reached '$seen'"; fi
on node1 "$svcnft" apply -f "$root/test/netns/semantics.yaml" --node-config "$tmp/node1.yaml" 2>/dev/null \
  || fail "svcnft apply of semantics.yaml again"
on node1 nft list ruleset >"$tmp/node1-saved.nft"
ip netns add "$prefix-reload" && ip netns exec "$prefix-reload" nft -f "$tmp/node1-saved.nft" 2>"$tmp/reload.err" &&
  pass "node1's ruleset, IPv6 affinity entries included, re-loads with nft -f" ||
  fail "node1's listing does not re-load: $(head -3 "$tmp/reload.err")"
ip netns del "$prefix-reload" 2>/dev/null

# --- hairpin: a pod reaches itself through its own Service ---
out=$(get p1-1 http://198.18.100.90/)
[[ $out == p1-1 ]] && pass "hairpin: p1-1 reaches itself through its Service" \
  || fail "hairpin: p1-1 got '$out'"

# --- UDP: dig through a ClusterIP to dnsmasq ---
ans=$(on p1-2 dig +short +time=2 +tries=1 @198.18.100.53 whoami.test)
[[ $ans == 198.18.2.11 || $ans == 198.18.3.11 ]] && pass "UDP: dig via ClusterIP answered by $ans" \
  || fail "UDP: dig got '$ans'"

# --- IPv6: a dual-stack NodePort over IPv6 ---
seen=$(for i in $(seq 20); do get client -6 "http://[2001:db8::1]:30060/"; done | sort -u | tr '\n' ' ')
[[ $seen == "p1-1 p2-1 " ]] && pass "IPv6: NodePort on [2001:db8::1] reaches both v6 endpoints" \
  || fail "IPv6: reached '$seen'"

# --- loadBalancerSourceRanges: one client admitted, the other refused ---
out=$(get client --interface 198.18.0.100 http://198.18.200.20/)
[[ $out == p2-2 ]] && pass "sourceRanges: 198.18.0.100 admitted" || fail "sourceRanges: admitted client got '$out'"
get client --interface 198.18.0.101 -o /dev/null http://198.18.200.20/; rc=$?
[[ $rc -eq 28 ]] && pass "sourceRanges: 198.18.0.101 dropped" || fail "sourceRanges: other client curl exit $rc"
# Checked on new connections only: 198.18.0.100 keeps its open connection when the
# ranges change to leave it out, while its next new connection is dropped.
sed 's|loadBalancerSourceRanges: \[198.18.0.100/32\]|loadBalancerSourceRanges: [198.18.0.101/32]|' \
  "$root/test/netns/semantics.yaml" >"$tmp/ranges-changed.yaml"
cat >"$tmp/keepalive.py" <<'PY'
import socket, subprocess, sys
s = socket.create_connection(("198.18.200.20", 80), timeout=3, source_address=("198.18.0.100", 0))
ask = b"GET / HTTP/1.1\r\nHost: lb\r\n\r\n"
def answer():
    s.sendall(ask)
    data = b""
    while not data.endswith(b"\n\n") and b"p2-2" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    return b"p2-2" in data
first = answer()
changed = subprocess.run(sys.argv[1:]).returncode == 0
print("first=%s changed=%s second=%s" % (first, changed, answer()))
PY
apply_all() {  # apply_all MANIFESTS: every node, as at the start
  for k in 1 2 3; do
    ip netns exec "$prefix-node$k" "$svcnft" apply -f "$1" --node-config "$tmp/node$k.yaml" 2>/dev/null || return 1
  done
}
export -f apply_all; export prefix svcnft tmp
out=$(on client python3 "$tmp/keepalive.py" bash -c "apply_all $tmp/ranges-changed.yaml" 2>&1)
[[ $out == "first=True changed=True second=True" ]] &&
  pass "sourceRanges: an open connection survives a change of ranges that leaves its client out" ||
  fail "sourceRanges: open connection across a change of ranges: $out"
get client --interface 198.18.0.100 -o /dev/null http://198.18.200.20/; rc=$?
[[ $rc -eq 28 ]] && pass "sourceRanges: the changed ranges drop the client's new connections" ||
  fail "sourceRanges: a new connection after the change gave curl exit $rc"
apply_all "$root/test/netns/semantics.yaml" || fail "applying the original manifests again"

echo "SKIP: SCTP traffic (this kernel has no sctp module; SCTP rules are checked by nft -c)"
echo "semantics: $passes passed, $failures failed"
[[ $failures -eq 0 ]]
