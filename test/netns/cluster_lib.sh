# Shared by the namespace-cluster tests (sourced, not run). Before sourcing, set
# `prefix` (the cluster's namespace prefix). Gives:
#   require TOOL...      skip (exit 77; a failure under CI=true) unless root and every
#                        TOOL is installed
#   on NAME CMD...       run CMD in the cluster's namespace NAME (client, node1, p2-1, ...)
#   get NAME ARGS...     curl from NAME, bounded to 2 s
#   pass MSG / fail MSG  count and print a result (passes, failures)
#   until_ok SECONDS CMD...  retry CMD every 20 ms for at most SECONDS (times TIME_SCALE,
#                            set on slow machines: the kernel VM); print the wait in ms
#   listed NETNS TABLE   `nft list table inet TABLE` with its sets and chains sorted
#   gap_since START_NS CMD...  retry CMD every 50 ms, at most 200 times; print the ms
#                        from START_NS (date +%s%N) to its first success
#   find_kube_apiserver  set kas_tools to the real API server's folder (KUBE_APISERVER_DIR
#                        or ../shared/kube-apiserver), or skip (exit 77)
#   check_probe LOG MIN WHO  stop the neighbour probe ($probe_pid) and check its LOG:
#                        at least MIN rounds answered, one WHO ("node", "host") at a time
#   sa_kubeconfig KAS_DIR DIR  a kubeconfig for deploy/'s ServiceAccount at
#                        DIR/sa-kubeconfig (its token, made with the test's `k`,
#                        in DIR/sa-token); sources KAS_DIR/env
passes=0
failures=0
# shellcheck source=../skip_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../skip_lib.sh"

require() {
  if [[ $(id -u) -ne 0 ]]; then skip "needs root for network namespaces"; fi
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || skip "$tool missing (scripts/install-deps)"
  done
}
on() { local name=$1; shift; ip netns exec "$prefix-$name" "$@"; }
get() { local from=$1; shift; on "$from" curl -s -m 2 "$@"; }
pass() { passes=$((passes + 1)); echo "ok: $1"; }
fail() { failures=$((failures + 1)); echo "FAIL: $1"; }
until_ok() {
  local limit=$1; shift
  local start
  start=$(date +%s%N)
  while ! "$@" >/dev/null 2>&1; do
    (( ($(date +%s%N) - start) / 1000000 > limit * 1000 * ${TIME_SCALE:-1} )) && return 1
    sleep 0.02
  done
  echo $(( ($(date +%s%N) - start) / 1000000 ))
}

gap_since() {
  local start=$1; shift
  for _ in $(seq 1 200); do
    if "$@" >/dev/null 2>&1; then
      echo $(( ($(date +%s%N) - start) / 1000000 ))
      return 0
    fi
    sleep 0.05
  done
  return 1
}

find_kube_apiserver() {
  kas_tools=
  local d
  for d in "${KUBE_APISERVER_DIR:-}" "$root/../shared/kube-apiserver" /work/shared/kube-apiserver; do
    [[ -n $d && -x $d/start ]] && { kas_tools=$d; return 0; }
  done
  echo "SKIP: no kube-apiserver (set KUBE_APISERVER_DIR to a folder with start/stop)"
  exit 77
}

check_probe() {
  local log=$1 min=$2 who=$3 rounds answered broken
  kill "$probe_pid" 2>/dev/null
  wait "$probe_pid" 2>/dev/null
  probe_pid=
  rounds=$(grep -vc EVENT "$log")
  answered=$(awk '$2 != "EVENT" && $3 != "-"' "$log" | wc -l)
  if broken=$(python3 "$(dirname "${BASH_SOURCE[0]}")/../api/neighbour_probe.py" --check "$log") &&
     (( answered > min )); then
    pass "the probe's $rounds rounds ($answered answered): one $who at a time answered"
  else
    fail "one $who at a time (rounds $rounds, answered $answered): $(head -5 <<<"$broken"); events: $(grep EVENT "$log" | tr '\n' ';')"
    cp "$log" "${TMPDIR:-/tmp}/neighbour_probe_failed.log"
  fi
}

sa_kubeconfig() {
  k create token svcnft -n kube-system --duration 1h >"$2/sa-token"
  # shellcheck source=/dev/null
  source "$1/env"
  cat >"$2/sa-kubeconfig" <<YAML
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "$KUBE_APISERVER_URL", certificate-authority: $1/pki/ca.crt}}]
users: [{name: svcnft, user: {tokenFile: sa-token}}]
contexts: [{name: c, context: {cluster: c, user: svcnft}}]
current-context: c
YAML
}

# nft list with its top-level blocks (sets, chains) sorted: chains added by an
# incremental apply are listed after the older ones, which is no difference.
listed() {
  ip netns exec "$1" nft list table inet "$2" | python3 -c '
import sys
text = sys.stdin.read()
body = text[text.index("{") + 1:text.rindex("}")]
blocks = [b.strip("\n") for b in body.split("\n\n") if b.strip()]
print("\n\n".join(sorted(blocks)))'
}

# Manifests the agent tests write into a watched directory.
# web_yaml ENDPOINT...: the seed NodePort Service (30001) with these pod addresses.
web_yaml() {
  cat <<YAML
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec: {type: NodePort, ports: [{name: http, port: 80, nodePort: 30001}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web, namespace: default, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 80}]
endpoints:
YAML
  for a in "$@"; do echo "  - {addresses: [$a], nodeName: k8s-node0${a:7:1}}"; done
}
# dns_yaml ANNOTATIONS ENDPOINT_LINES: the UDP Service 198.18.100.53:53 and its slice.
dns_yaml() {
  cat <<YAML
apiVersion: v1
kind: Service
metadata: {name: dns, namespace: kube-system}
spec: {clusterIP: 198.18.100.53, ports: [{name: dns, port: 53, protocol: UDP}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: dns, namespace: kube-system, labels: {kubernetes.io/service-name: dns}, annotations: {$1}}
addressType: IPv4
ports: [{name: dns, port: 53, protocol: UDP}]
endpoints:
$2
YAML
}
# dns_one ENDPOINT: dns_yaml with one ready endpoint on its node.
dns_one() { dns_yaml "" "  - {addresses: [$1], nodeName: k8s-node0${1:7:1}}"; }
