#!/usr/bin/env bash
# svcnft agent against an API server that misbehaves on purpose
# (test/api/fake_apiserver.py), in a network namespace of its own. First kubectl
# and Debian's python3-kubernetes read the fake, which shows it speaks the real
# wire format; then the agent follows it through: a watch cut mid-line, a 410
# Expired, a line that is not JSON, a 500 on a new watch, a 429 with Retry-After
# on a relist, a slow trickle, a list that hangs, and an expired token replaced by
# a rotated one in the token file. After each, a change made on the server must
# reach the kernel, and the installed rules must never go away meanwhile.
# Usage: fake_api_test.sh SVCNFT SOURCE_DIR. Exit 77 (skip) without root.
set -uo pipefail
svcnft=$1
root=$2
prefix=fk$$
# shellcheck source=../netns/cluster_lib.sh
source "$root/test/netns/cluster_lib.sh"
require nft ip curl python3 openssl kubectl
/usr/bin/python3 -c 'import kubernetes' 2>/dev/null || skip "python3-kubernetes missing (scripts/install-deps)"
ns=$prefix-node
tmp=$(mktemp -d)
agent_pid= fake_pid=
cleanup() {
  exec 2>/dev/null
  [[ -n $agent_pid ]] && kill -KILL "$agent_pid"
  [[ -n $fake_pid ]] && kill -KILL "$fake_pid"
  ip netns del "$ns"
  rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up

# A CA and a serving certificate for 127.0.0.1.
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -keyout "$tmp/ca.key" -out "$tmp/ca.crt" \
  -subj /CN=fake-ca -addext basicConstraints=critical,CA:TRUE 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout "$tmp/server.key" -out "$tmp/server.csr" -subj /CN=fake 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$tmp/ext"
openssl x509 -req -in "$tmp/server.csr" -CA "$tmp/ca.crt" -CAkey "$tmp/ca.key" -CAcreateserial \
  -days 1 -extfile "$tmp/ext" -out "$tmp/server.crt" 2>/dev/null
ip netns exec "$ns" /usr/bin/python3 "$root/test/api/fake_apiserver.py" "$tmp/server.crt" "$tmp/server.key" \
  "$tmp/port" 2>"$tmp/fake.log" &
fake_pid=$!
until_ok 10 test -s "$tmp/port" >/dev/null || { echo "FAIL: the fake API server did not start"; exit 1; }
port=$(cat "$tmp/port")
printf token-a >"$tmp/token"  # no newline: python3-kubernetes sends the file as is
cat >"$tmp/kubeconfig" <<YAML
apiVersion: v1
kind: Config
clusters: [{name: fake, cluster: {server: "https://127.0.0.1:$port", certificate-authority: ca.crt}}]
users: [{name: svcnft, user: {tokenFile: token}}]
contexts: [{name: fake, context: {cluster: fake, user: svcnft}}]
current-context: fake
YAML
ctl() {  # ctl PATH JSON: tell the fake
  ip netns exec "$ns" curl -sf --cacert "$tmp/ca.crt" -X POST -H 'Content-Type: application/json' \
    --data "$2" "https://127.0.0.1:$port/_test/$1" >/dev/null || fail "control $1 $2"
}
svc='{"path":"/api/v1/services","object":{"metadata":{"name":"web","namespace":"default"},"spec":{"type":"NodePort","clusterIP":"198.18.100.10","ports":[{"name":"http","port":80,"protocol":"TCP","targetPort":80,"nodePort":30001}]}}}'
slice() {  # slice LAST-OCTET...: the slice of web with these endpoints 198.18.1.N
  local eps= n
  for n in "$@"; do eps+="${eps:+,}{\"addresses\":[\"198.18.1.$n\"],\"conditions\":{\"ready\":true}}"; done
  echo '{"path":"/apis/discovery.k8s.io/v1/endpointslices","object":{"metadata":{"name":"web-1","namespace":"default","labels":{"kubernetes.io/service-name":"web"}},"addressType":"IPv4","ports":[{"name":"http","port":80,"protocol":"TCP"}],"endpoints":['"$eps"']}}'
}
ctl apply "$svc"
ctl apply "$(slice 11)"
ctl apply '{"path":"/api/v1/nodes","object":{"metadata":{"name":"node1"},"spec":{"podCIDRs":["198.18.1.0/24"]},"status":{"addresses":[{"type":"InternalIP","address":"198.18.0.1"}]}}}'

# Real clients read it.
out=$(ip netns exec "$ns" env KUBECONFIG="$tmp/kubeconfig" kubectl get services -A -o name 2>&1)
[[ $out == service/web ]] && pass "kubectl get services reads the fake" || fail "kubectl: $out"
out=$(ip netns exec "$ns" env KUBECONFIG="$tmp/kubeconfig" kubectl get endpointslices -A \
  -o jsonpath='{.items[0].endpoints[0].addresses[0]}' 2>&1)
[[ $out == 198.18.1.11 ]] && pass "kubectl get endpointslices reads the fake" || fail "kubectl: $out"
out=$(ip netns exec "$ns" /usr/bin/python3 - "$tmp/kubeconfig" <<'PY' 2>&1
import sys
from kubernetes import client, config, watch
config.load_kube_config(sys.argv[1])
v1 = client.CoreV1Api()
listed = v1.list_service_for_all_namespaces(limit=500)
names = [s.metadata.name for s in listed.items]
seen = [e["object"].metadata.name for e in watch.Watch().stream(
    v1.list_service_for_all_namespaces, resource_version="0", timeout_seconds=1)]
nodes = [a.address for n in v1.list_node().items for a in n.status.addresses]
print(names, listed.metadata.resource_version is not None, "web" in seen, nodes)
PY
)
[[ $out == "['web'] True True ['198.18.0.1']" ]] && pass "python3-kubernetes lists, watches and decodes the fake" \
  || fail "python3-kubernetes: $out"

ip netns exec "$ns" "$svcnft" agent --kubeconfig "$tmp/kubeconfig" --hostname-override node1 \
  --min-sync-interval 20ms --healthz-bind 127.0.0.1:10256 --metrics-bind 127.0.0.1:10249 \
  >"$tmp/agent.log" 2>&1 &
agent_pid=$!

backends() {
  ip netns exec "$ns" nft list map inet svcnft backends-v4 2>/dev/null |
    grep -o '198\.18\.1\.[0-9]*' | sort -u | tr '\n' ' ' | sed 's/ $//'
}
expect_backends() {  # expect_backends SECONDS "ADDRS" MESSAGE
  local waited
  if waited=$(until_ok "$1" bash -c "[[ \"\$(ip netns exec $ns nft list map inet svcnft backends-v4 2>/dev/null | grep -o '198\\.18\\.1\\.[0-9]*' | sort -u | tr '\\n' ' ' | sed 's/ \$//')\" == \"$2\" ]]"); then
    pass "$3 (${waited} ms)"
  else
    fail "$3: backends '$(backends)', wanted '$2'"
  fi
}
expect_backends 10 "198.18.1.11" "the agent installs what the fake lists"
ips=$(ip netns exec "$ns" nft list set inet svcnft nodeport-ips-v4 2>/dev/null)
[[ $ips == *198.18.0.1* ]] && pass "the Node's address takes NodePorts" || fail "nodeport-ips: $ips"

ctl fault '{"on":"watch","resource":"endpointslices","cut":true}'
ctl apply "$(slice 11 12)"
expect_backends 10 "198.18.1.11 198.18.1.12" "a watch cut mid-line: watched again, the change arrives"

ctl fault '{"on":"watch","resource":"endpointslices","expired":true}'
sleep 0.5
ctl apply "$(slice 12)"
expect_backends 10 "198.18.1.12" "410 Expired on the watch: listed again, the change arrives"
grep -q "endpointslices: watch expired" "$tmp/agent.log" && pass "the log says the watch expired" \
  || fail "no 'watch expired' in the log"

ctl fault '{"on":"watch","resource":"endpointslices","garbage":true}'
sleep 0.5
ctl apply "$(slice 12 13)"
expect_backends 10 "198.18.1.12 198.18.1.13" "a line that is not JSON: listed again, the change arrives"

ctl fault '{"on":"watch-start","resource":"endpointslices","status":500}'
ctl fault '{"on":"watch","resource":"endpointslices","end":true}'
sleep 0.5
ctl apply "$(slice 13)"
expect_backends 10 "198.18.1.13" "a 500 on the next watch: tried again, the change arrives"

ctl fault '{"on":"list","resource":"endpointslices","status":429,"retryAfter":2}'
ctl fault '{"on":"watch","resource":"endpointslices","expired":true}'
t0=$(date +%s%N)
ctl apply "$(slice 13 14)"
expect_backends 15 "198.18.1.13 198.18.1.14" "a 429 on the relist: the change arrives after it"
waited=$(( ($(date +%s%N) - t0) / 1000000 ))
(( waited >= 2000 )) && pass "Retry-After 2 s was honoured (${waited} ms)" || fail "Retry-After not honoured: ${waited} ms"

ctl fault '{"on":"watch","resource":"endpointslices","trickle":true}'
ctl apply "$(slice 14)"
expect_backends 30 "198.18.1.14" "an event trickled a byte at a time still arrives"

ctl fault '{"on":"list","resource":"endpointslices","hang":3}'
ctl fault '{"on":"watch","resource":"endpointslices","expired":true}'
sleep 0.5
[[ $(backends) == 198.18.1.14 ]] && pass "while a relist hangs, the rules stay" || fail "rules changed while the list hung: $(backends)"
ctl apply "$(slice 14 15)"
expect_backends 15 "198.18.1.14 198.18.1.15" "after the hanging list, the change arrives"

# The token expires (the server takes only a new one); until the token file has
# the rotated token, requests fail and the rules stay; then everything resumes.
ctl tokens '{"tokens":["token-b"]}'
ctl fault '{"on":"watch","resource":"endpointslices","end":true}'
ctl apply "$(slice 15)"
sleep 2
[[ $(backends) == "198.18.1.14 198.18.1.15" ]] && pass "with an expired token nothing is taken for deleted" \
  || fail "rules changed without a valid token: $(backends)"
grep -q "HTTP 401" "$tmp/agent.log" && pass "the log names the 401" || fail "no 401 in the log"
printf token-b >"$tmp/token"
expect_backends 35 "198.18.1.15" "the rotated token is read from the file and the change arrives"

metrics=$(ip netns exec "$ns" curl -s -m 2 http://127.0.0.1:10249/metrics)
lists=$(echo "$metrics" | awk '/^svcnft_api_lists_total\{resource="endpointslices"\}/ {print $2}')
errors=$(echo "$metrics" | awk '/^svcnft_api_errors_total\{resource="endpointslices"\}/ {print $2}')
restarts=$(echo "$metrics" | awk '/^svcnft_api_watch_restarts_total\{resource="endpointslices"\}/ {print $2}')
[[ ${lists:-0} -ge 5 && ${errors:-0} -ge 4 && ${restarts:-0} -ge 5 ]] \
  && pass "/metrics: endpointslices listed $lists times, $errors errors, $restarts watch restarts" \
  || fail "/metrics: lists '$lists' errors '$errors' restarts '$restarts'"
kill -0 "$agent_pid" && pass "the agent is still running" || fail "the agent died"

echo "passed $passes, failed $failures"
(( failures == 0 ))
