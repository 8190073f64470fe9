#!/usr/bin/env bash
# The node agent with real packets: svcnft agent on node1 of the namespace cluster,
# watching a directory. Checks: traffic follows an endpoint change (programming
# latency printed); a malformed file keeps the old rules while other files still
# apply, and shows in the log and /metrics; an invalid object is left out alone
# while the rest of its file applies; nft flush ruleset, nft delete table and
# a flushed map are each repaired within 1 s; SIGTERM leaves the rules, a restart
# adopts them unchanged; /healthz, /livez, /metrics (parsed by prometheus_client);
# sd_notify READY=1 and STATUS= on a NOTIFY_SOCKET; a UDP flow moves when its
# endpoint leaves or stops serving, and stays while it is terminating but serving or
# draining (weight 0). Every wait is bounded.
# Usage: agent_test.sh SVCNFT SOURCE_DIR. Exit 77 (skip) without root.
set -uo pipefail
svcnft=$1
root=$2
prefix=agt$$
# shellcheck source=cluster_lib.sh
source "$root/test/netns/cluster_lib.sh"
require nft ip curl nginx python3
cluster=$root/scripts/netns-cluster
tmp=$(mktemp -d)
agent_pid=
cleanup() {
  [[ -n $agent_pid ]] && kill -KILL "$agent_pid" 2>/dev/null
  [[ -n ${notify_pid:-} ]] && kill "$notify_pid" 2>/dev/null
  "$cluster" down "$prefix"
  rm -rf "$tmp"
}
trap cleanup EXIT
"$cluster" up "$prefix" 2 >/dev/null || { echo "FAIL: cluster did not come up"; exit 1; }

watch=$tmp/watch
mkdir -p "$watch"
cat >"$tmp/node.yaml" <<YAML
nodeName: k8s-node01
nodeIPs: [198.18.0.1]
clusterCIDRs: [198.18.1.0/24, 198.18.2.0/24, 198.18.3.0/24]
YAML
web_yaml 198.18.1.11 198.18.2.11 >"$watch/web.yaml"
on node1 ip link set lo up

# A NOTIFY_SOCKET listener records what the agent tells systemd.
python3 - "$tmp/notify.sock" "$tmp/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(60)
with open(sys.argv[2], "a", buffering=1) as log:
    try:
        while True:
            log.write(s.recv(4096).decode() + "\n")
    except socket.timeout:
        pass
PY
notify_pid=$!
until_ok 10 test -S "$tmp/notify.sock" >/dev/null  # bound before the agent can speak

start_agent() {
  NOTIFY_SOCKET=$tmp/notify.sock WATCHDOG_USEC=400000 ip netns exec "$prefix-node1" "$svcnft" agent --watch "$watch" \
    --node-config "$tmp/node.yaml" "$@" >>"$tmp/agent.log" 2>&1 &
  agent_pid=$!
}
start_agent
waited=$(until_ok 5 on node1 nft list table inet svcnft) && pass "agent installed its table in ${waited} ms" \
  || fail "agent did not install its table"
seen=$(for i in $(seq 20); do get client http://198.18.0.1:30001/; done | sort -u | tr '\n' ' ')
[[ $seen == "p1-1 p2-1 " ]] && pass "NodePort reaches the endpoints of web.yaml" || fail "reached '$seen'"
until_ok 2 grep -q READY=1 "$tmp/notify.log" >/dev/null && grep -q "STATUS=synced" "$tmp/notify.log" &&
  pass "sd_notify: READY=1 with STATUS after the first sync" || fail "no READY=1 on NOTIFY_SOCKET"
until_ok 3 bash -c "[[ \$(grep -c WATCHDOG=1 $tmp/notify.log) -ge 2 ]]" >/dev/null &&
  pass "sd_notify: WATCHDOG=1 pings every half WATCHDOG_USEC" || fail "no WATCHDOG=1 pings"

# Endpoint change in the watched directory: traffic follows.
web_yaml 198.18.3.11 198.18.3.12 >"$watch/web.yaml.tmp" && mv "$watch/web.yaml.tmp" "$watch/web.yaml"
# Every answer from node3's pods (which of the two is random, so not both are required).
only_node3() {
  local seen
  seen=$(for i in 1 2 3 4 5 6; do get client http://198.18.0.1:30001/; done | sort -u | tr '\n' ' ')
  [[ $seen == "p3-1 p3-2 " || $seen == "p3-1 " || $seen == "p3-2 " ]]
}
waited=$(until_ok 3 only_node3) && pass "endpoint change followed within ${waited} ms ($(grep -o 'programming latency [0-9.]* ms' "$tmp/agent.log" | tail -1))" \
  || fail "traffic did not follow the endpoint change"

# A malformed file: the old rules stay, another file still applies, the error is shown.
echo "apiVersion: v1
kind: Service
metadata: {name: broken
" >"$watch/broken.yaml"
cat >"$watch/api.yaml" <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: api, namespace: default}
spec: {type: NodePort, ports: [{name: http, port: 80, nodePort: 30002}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: api, namespace: default, labels: {kubernetes.io/service-name: api}}
addressType: IPv4
ports: [{name: http, port: 80}]
endpoints: [{addresses: [198.18.2.12], nodeName: k8s-node02}]
YAML
waited=$(until_ok 3 bash -c "[[ \$(ip netns exec $prefix-client curl -s -m 1 http://198.18.0.1:30002/) == p2-2 ]]") &&
  pass "with a malformed file present, another file still applied (${waited} ms)" || fail "api.yaml did not apply"
only_node3 && pass "the malformed file left the running rules alone" || fail "web changed"
grep -q "broken.yaml:.*error: malformed" "$tmp/agent.log" && pass "the malformed file is in the log with its position" \
  || fail "no error for broken.yaml in the log"
errors=$(get node1 http://127.0.0.1:10249/metrics | /usr/bin/python3 -c '
import sys
from prometheus_client.parser import text_string_to_metric_families
v = {s.name: s.value for f in text_string_to_metric_families(sys.stdin.read()) for s in f.samples}
print(int(v["svcnft_input_errors_total"]), int(v["svcnft_services_programmed"]),
      int(v["svcnft_input_to_commit_duration_seconds_count"]))')
read -r nerr nsvc nprog <<<"$errors"
[[ $nerr -ge 1 && $nsvc -eq 2 && $nprog -ge 2 ]] && pass "/metrics parses: input errors $nerr, services $nsvc, programming samples $nprog" \
  || fail "/metrics: '$errors'"
rm -f "$watch/broken.yaml"
# An object invalid for this node (nodePort outside the range) is left out alone:
# the other objects of its file still apply.
{ cat <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: wrong, namespace: default}
spec: {type: NodePort, ports: [{name: http, port: 80, nodePort: 80}]}
---
YAML
  sed 's/30002/30003/; s/name: api,/name: api2,/; s/service-name: api}/service-name: api2}/' "$watch/api.yaml"
} >"$watch/mixed.yaml"
waited=$(until_ok 3 bash -c "[[ \$(ip netns exec $prefix-client curl -s -m 1 http://198.18.0.1:30003/) == p2-2 ]]") &&
  pass "an invalid Service is left out alone; the rest of its file applied (${waited} ms)" || fail "api2 did not apply next to the invalid Service in mixed.yaml"
grep -q "mixed.yaml:.*nodePort: 80 is outside nodePortRange" "$tmp/agent.log" && pass "the validation error names file, line and field" \
  || fail "no validation error for mixed.yaml in the log"
grep -q "mixed.yaml:.*Service default/wrong: left out until it is fixed; the rest of the file applies" "$tmp/agent.log" &&
  pass "the log says the invalid Service is left out and the rest applies" || fail "no left-out warning for default/wrong"
rm -f "$watch/mixed.yaml"

# Drift: someone else flushes, deletes, empties; each is repaired within 1 s.
repaired() { on node1 nft list map inet svcnft nodeports-v4 | grep -q 30001; }
for what in "flush ruleset" "delete table inet svcnft" "flush map inet svcnft nodeports-v4"; do
  on node1 nft $what
  waited=$(until_ok 1 repaired) && pass "nft $what repaired in ${waited} ms" || fail "nft $what not repaired within 1 s"
done

# UDP: a client on a fixed source port keeps asking while its only DNS endpoint is
# replaced; without the conntrack cleanup its flow would stay on the old pod.
dns_one 198.18.2.11 >"$watch/dns.yaml"
# Ask only once the Service is installed: a query sent before would make a flow that
# was never DNATed, and one made just as the rules commit would escape this sync's
# cleanup (the next sync would catch it, but this test has no next sync to wait for).
until_ok 3 bash -c "ip netns exec $prefix-node1 nft list map inet svcnft service-ips-v4 | grep -q 198.18.100.53" >/dev/null
ask() { on p1-2 dig +short +time=1 +tries=1 -b 198.18.1.12#5353 @198.18.100.53 whoami.test; }
until_ok 2 bash -c "[[ \$(ip netns exec $prefix-p1-2 dig +short +time=1 +tries=1 -b 198.18.1.12#5353 @198.18.100.53 whoami.test) == 198.18.2.11 ]]" >/dev/null
first=$(ask)
dns_one 198.18.3.11 >"$watch/dns.yaml.tmp" && mv "$watch/dns.yaml.tmp" "$watch/dns.yaml"
moved=
for i in $(seq 10); do  # 5 Hz for at most 2 s
  sleep 0.2
  [[ $(ask) == 198.18.3.11 ]] && { moved=$((i * 200)); break; }
done
if [[ $first == 198.18.2.11 && -n $moved ]]; then
  pass "UDP flow on a fixed source port moved to the new endpoint within ${moved} ms ($(grep -o 'deleted [0-9]* UDP conntrack entries' "$tmp/agent.log" | tail -1))"
else fail "UDP flow: first answer '$first', never moved to 198.18.3.11"; fi

# Flows to an endpoint that still serves stay on it, as kube-proxy keeps them: the
# flow on 198.18.3.11 survives its pod terminating (serving, while 198.18.2.11 takes
# new flows) and then its draining (weight 0); once it stops serving, it moves.
synced_after() {  # synced_after N: a sync logged after the first N
  until_ok 3 bash -c "[[ \$(grep -c 'programming latency' $tmp/agent.log) -gt $1 ]]" >/dev/null
}
stays_on_3_11() {  # the flow answers from 198.18.3.11, five times over a second
  local i
  for i in 1 2 3 4 5; do [[ $(ask) == 198.18.3.11 ]] || return 1; sleep 0.2; done
}
n=$(grep -c 'programming latency' "$tmp/agent.log")
dns_yaml "" "  - {addresses: [198.18.3.11], conditions: {ready: false, serving: true, terminating: true}}
  - {addresses: [198.18.2.11]}" >"$watch/dns.yaml.tmp" && mv "$watch/dns.yaml.tmp" "$watch/dns.yaml"
synced_after "$n" && stays_on_3_11 && [[ $(on p1-2 dig +short +time=1 +tries=1 -b 198.18.1.12#5354 @198.18.100.53 whoami.test) == 198.18.2.11 ]] &&
  pass "a UDP flow stays on its terminating but serving endpoint; a new flow goes to the ready one" ||
  fail "the flow to a terminating, serving endpoint was cut (or new flows did not move)"
n=$(grep -c 'programming latency' "$tmp/agent.log")
dns_yaml "svcnft.io/weights: '{\"198.18.3.11\": 0}'" "  - {addresses: [198.18.3.11]}
  - {addresses: [198.18.2.11]}" >"$watch/dns.yaml.tmp" && mv "$watch/dns.yaml.tmp" "$watch/dns.yaml"
synced_after "$n" && stays_on_3_11 && pass "a UDP flow stays on its draining (weight 0) endpoint" ||
  fail "the flow to a draining endpoint was cut"
n=$(grep -c 'programming latency' "$tmp/agent.log")
dns_yaml "" "  - {addresses: [198.18.3.11], conditions: {ready: false, serving: false, terminating: true}}
  - {addresses: [198.18.2.11]}" >"$watch/dns.yaml.tmp" && mv "$watch/dns.yaml.tmp" "$watch/dns.yaml"
moved=
if synced_after "$n"; then
  for i in $(seq 10); do
    [[ $(ask) == 198.18.2.11 ]] && { moved=$((i * 200)); break; }
    sleep 0.2
  done
fi
[[ -n $moved ]] && pass "once its endpoint stops serving, the flow moves (within ${moved} ms)" ||
  fail "the flow stayed on an endpoint that stopped serving"

# healthCheckNodePort of a LoadBalancer with externalTrafficPolicy Local.
lb() {  # lb ENDPOINT
  cat <<YAML
apiVersion: v1
kind: Service
metadata: {name: shop, namespace: prod}
spec: {type: LoadBalancer, externalTrafficPolicy: Local, healthCheckNodePort: 32100, ports: [{name: http, port: 80, nodePort: 30080}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: shop, namespace: prod, labels: {kubernetes.io/service-name: shop}}
addressType: IPv4
ports: [{name: http, port: 80}]
endpoints: [{addresses: [$1], nodeName: k8s-node0${1:7:1}}]
YAML
}
hc() { get client -o "$tmp/hc.body" -w '%{http_code}' http://198.18.0.1:32100/; }
lb 198.18.1.12 >"$watch/lb.yaml"
until_ok 2 bash -c "[[ \$(ip netns exec $prefix-client curl -s -m 1 -o /dev/null -w '%{http_code}' http://198.18.0.1:32100/) == 200 ]]" >/dev/null
code=$(hc)
[[ $code == 200 ]] && grep -q '"localEndpoints":1' "$tmp/hc.body" && grep -q '"name":"shop"' "$tmp/hc.body" &&
  grep -q '"serviceProxyHealthy":true' "$tmp/hc.body" &&
  pass "healthCheckNodePort 32100: 200 with the local endpoint ($(cat "$tmp/hc.body"))" || fail "health check: $code $(cat "$tmp/hc.body" 2>/dev/null)"
weight=$(get client -D - -o /dev/null http://198.18.0.1:32100/ | tr -d '\r' | awk -F': ' 'tolower($1) == "x-load-balancing-endpoint-weight" {print $2}')
[[ $weight == 1 ]] && pass "healthCheckNodePort: X-Load-Balancing-Endpoint-Weight: 1, as kube-proxy sends" ||
  fail "healthCheckNodePort: endpoint weight header '$weight'"
lb 198.18.2.12 >"$watch/lb.yaml.tmp" && mv "$watch/lb.yaml.tmp" "$watch/lb.yaml"
until_ok 2 bash -c "[[ \$(ip netns exec $prefix-client curl -s -m 1 -o /dev/null -w '%{http_code}' http://198.18.0.1:32100/) == 503 ]]" >/dev/null
code=$(hc)
[[ $code == 503 ]] && grep -q '"localEndpoints":0' "$tmp/hc.body" &&
  pass "healthCheckNodePort 32100: 503 once the endpoint moved to node2" || fail "health check after move: $code $(cat "$tmp/hc.body" 2>/dev/null)"

# Health.
code=$(get node1 -o /dev/null -w '%{http_code}' http://127.0.0.1:10256/healthz)
body=$(get node1 http://127.0.0.1:10256/livez)
[[ $code == 200 && $body == *lastUpdated* ]] && pass "/healthz 200, /livez $body" || fail "/healthz $code, /livez '$body'"
# kube-proxy's metric names, prefixed svcnft_, parse as Prometheus text and count.
ported=$(get node1 http://127.0.0.1:10249/metrics | /usr/bin/python3 -c '
import sys
from prometheus_client.parser import text_string_to_metric_families
v = {(s.name, tuple(sorted(s.labels.items()))): s.value
     for f in text_string_to_metric_families(sys.stdin.read()) for s in f.samples}
print(int(v[("svcnft_sync_proxy_rules_duration_seconds_count", ())]),
      int(v[("svcnft_sync_proxy_rules_last_queued_timestamp_seconds", ())] > 0),
      int(v.get(("svcnft_proxy_healthz_total", (("code", "200"),)), 0)),
      int(v.get(("svcnft_proxy_livez_total", (("code", "200"),)), 0)))')
read -r nsync queued nhealthz nlivez <<<"$ported"
[[ $nsync -ge 3 && $queued == 1 && $nhealthz -ge 1 && $nlivez -ge 1 ]] &&
  pass "kube-proxy's metrics: $nsync syncs, a last queued time, healthz/livez probes $nhealthz/$nlivez" ||
  fail "kube-proxy's metrics: '$ported'"

# SIGTERM: the rules stay; a restart adopts them without a change.
on node1 nft list table inet svcnft >"$tmp/before"
kill -TERM "$agent_pid"; wait "$agent_pid" 2>/dev/null; agent_pid=
on node1 nft list table inet svcnft >"$tmp/stopped" 2>/dev/null
cmp -s "$tmp/before" "$tmp/stopped" && pass "after SIGTERM the rules are still installed" || fail "SIGTERM changed the rules"
get client -o /dev/null http://198.18.0.1:30001/ && pass "traffic flows with no agent running" || fail "no traffic without the agent"
lines=$(wc -l <"$tmp/agent.log")
start_agent
# Ready again: the restarted agent has logged its first sync and /healthz says 200.
until_ok 3 bash -c "tail -n +$((lines + 1)) $tmp/agent.log | grep -q 'first sync:' && ip netns exec $prefix-node1 curl -sf -o /dev/null http://127.0.0.1:10256/healthz" >/dev/null \
  && pass "the restarted agent synced and is healthy" || fail "the restarted agent did not come back"
on node1 nft list table inet svcnft >"$tmp/after"
cmp -s "$tmp/before" "$tmp/after" && pass "restarted agent adopted the installed table unchanged" || fail "restart changed the table"
tail -n +$((lines + 1)) "$tmp/agent.log" | grep -q "state record says: read nothing back" &&
  pass "the restart read nothing back: the state record of the clean stop stood" ||
  fail "the restart did not use the state record"

# A record is never trusted once the table changed behind it: stop cleanly (a
# record is kept), delete an element by hand, start again: read back and repaired.
kill -TERM "$agent_pid"; wait "$agent_pid" 2>/dev/null; agent_pid=
grep -q "state record kept for the next start" "$tmp/agent.log" && pass "a clean stop keeps a state record" ||
  fail "no state record at the clean stop"
on node1 nft delete element inet svcnft nodeports-v4 '{ tcp . 30001 }'
lines=$(wc -l <"$tmp/agent.log")
start_agent
until_ok 3 bash -c "tail -n +$((lines + 1)) $tmp/agent.log | grep -q 'first sync:'" >/dev/null
on node1 nft list table inet svcnft >"$tmp/repaired"
if cmp -s "$tmp/before" "$tmp/repaired" && ! tail -n +$((lines + 1)) "$tmp/agent.log" | grep -q "read nothing back"; then
  pass "an element deleted while the agent was stopped: the record is not trusted, the table repaired at start"
else
  fail "stale state record: $(tail -n +$((lines + 1)) "$tmp/agent.log" | head -3 | tr '\n' ' ')"
fi
get client -o /dev/null http://198.18.0.1:30001/ && pass "NodePort 30001 answers again" || fail "NodePort 30001 not repaired"

# Past --record-element-limit a clean stop keeps only the table's digest: a restart
# with the same inputs sends nothing; one after an edit behind its back repairs.
kill -TERM "$agent_pid"; wait "$agent_pid" 2>/dev/null; agent_pid=
lines=$(wc -l <"$tmp/agent.log")
start_agent --record-element-limit 5
until_ok 3 bash -c "tail -n +$((lines + 1)) $tmp/agent.log | grep -q 'first sync:'" >/dev/null
kill -TERM "$agent_pid"; wait "$agent_pid" 2>/dev/null; agent_pid=
tail -n +$((lines + 1)) "$tmp/agent.log" | grep -q "state record (the table's digest: past 5 elements) kept" &&
  pass "past the record limit a clean stop keeps the table's digest" ||
  fail "no digest record at the clean stop: $(tail -n +$((lines + 1)) "$tmp/agent.log" | tail -3 | tr '\n' ' ')"
lines=$(wc -l <"$tmp/agent.log")
start_agent --record-element-limit 5
until_ok 3 bash -c "tail -n +$((lines + 1)) $tmp/agent.log | grep -q 'first sync:'" >/dev/null
on node1 nft list table inet svcnft >"$tmp/after-digest"
if cmp -s "$tmp/before" "$tmp/after-digest" &&
   tail -n +$((lines + 1)) "$tmp/agent.log" | grep -q "state record's digest says: nothing to compile, read back or send"; then
  pass "a restart under a digest record read nothing back and sent nothing"
else
  fail "the restart did not use the digest record: $(tail -n +$((lines + 1)) "$tmp/agent.log" | head -4 | tr '\n' ' ')"
fi
kill -TERM "$agent_pid"; wait "$agent_pid" 2>/dev/null; agent_pid=
on node1 nft delete element inet svcnft nodeports-v4 '{ tcp . 30001 }'
lines=$(wc -l <"$tmp/agent.log")
start_agent --record-element-limit 5
until_ok 3 bash -c "tail -n +$((lines + 1)) $tmp/agent.log | grep -q 'first sync:'" >/dev/null
on node1 nft list table inet svcnft >"$tmp/repaired-digest"
if cmp -s "$tmp/before" "$tmp/repaired-digest" && ! tail -n +$((lines + 1)) "$tmp/agent.log" | grep -q "digest says"; then
  pass "an element deleted under a digest record: not trusted, repaired at start"
else
  fail "stale digest record: $(tail -n +$((lines + 1)) "$tmp/agent.log" | head -3 | tr '\n' ' ')"
fi
# Inputs changed while the agent was stopped: the kernel is still at the recorded
# generation, but the inputs no longer make what the digest describes: the start
# compiles and sends the difference.
kill -TERM "$agent_pid"; wait "$agent_pid" 2>/dev/null; agent_pid=
web_yaml 198.18.1.11 198.18.2.11 >"$watch/web.yaml.tmp" && mv "$watch/web.yaml.tmp" "$watch/web.yaml"
lines=$(wc -l <"$tmp/agent.log")
start_agent --record-element-limit 5
until_ok 3 bash -c "tail -n +$((lines + 1)) $tmp/agent.log | grep -q 'first sync:'" >/dev/null
# Captured whole, not piped into grep -q: under pipefail, grep leaving early can
# fail the pipeline with nft's SIGPIPE.
backends=$(on node1 nft list map inet svcnft np-backends-v4 2>&1)
since=$(tail -n +$((lines + 1)) "$tmp/agent.log")
if [[ $backends == *198.18.1.11* && $since != *"digest says"* ]]; then
  pass "inputs changed while stopped: the digest record did not match, the change was sent at start"
else
  fail "inputs changed while stopped: $(head -3 <<<"$since" | tr '\n' ' '); np-backends-v4: $(tr '\n\t' '  ' <<<"$backends")"
fi
seen=$(for i in 1 2 3 4 5 6 7 8; do get client http://198.18.0.1:30001/; done | sort -u | tr '\n' ' ')
[[ $seen == *p1-1* || $seen == *p2-1* ]] && pass "NodePort 30001 answers from the endpoints changed while stopped ($seen)" ||
  fail "NodePort 30001 after a change while stopped: '$seen'"

if [[ $failures -gt 0 ]]; then
  echo "--- agent log (last 40 lines):"
  tail -40 "$tmp/agent.log"
fi
echo "agent: $passes passed, $failures failed"
[[ $failures -eq 0 ]]
