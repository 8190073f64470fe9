#!/usr/bin/env bash
# The command line contract (docs/design.md): exit 0 with the ruleset on stdout; exit 1
# with FILE:LINE:COL diagnostics on stderr and nothing on stdout; exit 2 on usage
# errors; warnings alone do not fail. Usage: cli_test.sh SVCNFT_BINARY SOURCE_DIR
set -uo pipefail
svcnft=$1
root=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passes=0
failures=0

expect() {  # expect NAME WANT_RC GREP_STDERR_OR_EMPTY -- COMMAND...
  local name=$1 want=$2 pattern=$3
  shift 4
  "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [[ $rc -ne $want ]]; then
    echo "FAIL: $name: exit $rc, want $want"; sed 's/^/    /' "$tmp/err" | head; failures=$((failures + 1)); return
  fi
  if [[ -n $pattern ]] && ! grep -qE -- "$pattern" "$tmp/err"; then
    echo "FAIL: $name: stderr lacks /$pattern/:"; sed 's/^/    /' "$tmp/err" | head; failures=$((failures + 1)); return
  fi
  passes=$((passes + 1))
}

seed=$root/examples/seed
expect "compile the seed" 0 "" -- "$svcnft" compile -f "$seed/manifests.yaml" --node-config "$seed/node-config.yaml"
grep -q 'tcp . 30001 comment "default/nginx-nodeport-service:http" : goto np-external-v4' "$tmp/out" \
  && passes=$((passes + 1)) || { echo "FAIL: seed ruleset lacks its NodePort element"; failures=$((failures + 1)); }

# A directory: every *.yaml, *.yml and *.json in it; node-config.yaml has no kind and
# is skipped with a warning.
expect "compile a directory" 0 "node-config.yaml:.*warning: .*kind: missing" -- "$svcnft" compile -f "$seed"

cat >"$tmp/bad.yaml" <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  type: NodePort
  ports: [{port: 80, nodePort: 80}]
YAML
expect "invalid input exits 1 naming file, object, field" 1 \
  "bad.yaml:6:32: error: Service shop/web: spec.ports\[0\].nodePort: 80 is outside nodePortRange" \
  -- "$svcnft" compile -f "$tmp/bad.yaml"
[[ ! -s $tmp/out ]] && passes=$((passes + 1)) || { echo "FAIL: stdout not empty on error"; failures=$((failures + 1)); }

expect "a missing file exits 1" 1 "nope.yaml: error: no such file" -- "$svcnft" compile -f "$tmp/nope.yaml"
expect "no subcommand is a usage error" 2 "" -- "$svcnft"
expect "an unknown flag is a usage error" 2 "" -- "$svcnft" compile --frobnicate
expect "compile without -f is a usage error" 2 "" -- "$svcnft" compile
expect "--help exits 0" 0 "" -- "$svcnft" compile --help

cat >"$tmp/ghost.yaml" <<'YAML'
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ghost-1, labels: {kubernetes.io/service-name: ghost}}
addressType: IPv4
endpoints: [{addresses: [198.18.1.10]}]
YAML
expect "warnings alone exit 0" 0 "ghost.yaml:1:1: warning: EndpointSlice default/ghost-1" \
  -- "$svcnft" compile -f "$tmp/ghost.yaml"

# Hostile input: an error naming the file, never a crash, a hang or a silent empty input.
printf 'a: &a [*a]\n' >"$tmp/alias.yaml"
expect "a self-referencing alias is refused" 1 "alias.yaml: error: malformed YAML/JSON: refused: anchors and aliases" \
  -- timeout 20 "$svcnft" compile -f "$tmp/alias.yaml"
{
  echo 'a: &a ["x","x","x","x","x","x","x","x","x"]'
  for l in b c d e f g h i j; do
    prev=$(printf '%s' "$l" | tr 'b-j' 'a-i')
    echo "$l: &$l [*$prev,*$prev,*$prev,*$prev,*$prev,*$prev,*$prev,*$prev,*$prev]"
  done
} >"$tmp/laughs.yaml"
expect "an alias expansion bomb is refused" 1 "laughs.yaml: error: malformed YAML/JSON: refused" \
  -- timeout 20 "$svcnft" compile -f "$tmp/laughs.yaml"
mkdir -p "$tmp/loop"
ln -s b.yaml "$tmp/loop/a.yaml"
ln -s a.yaml "$tmp/loop/b.yaml"
expect "a symlink loop in a directory is an error" 1 "loop/a.yaml: error: cannot read file: Too many levels" \
  -- timeout 20 "$svcnft" compile -f "$tmp/loop"
mkfifo "$tmp/fifo.yaml"
expect "a FIFO as -f is an error, not a hang" 1 "fifo.yaml: error: not a regular file" \
  -- timeout 20 "$svcnft" compile -f "$tmp/fifo.yaml"
expect "a FIFO as --node-config is an error, not a hang" 1 "fifo.yaml: error: not a regular file" \
  -- timeout 20 "$svcnft" compile -f "$seed/manifests.yaml" --node-config "$tmp/fifo.yaml"
cat >"$tmp/dupkey.yaml" <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  clusterIP: 198.18.100.10
  ports: [{port: 80}]
  clusterIP: 198.18.100.11
YAML
expect "a duplicate key is refused, naming both" 1 \
  'dupkey.yaml:7:14: error: malformed YAML/JSON: duplicate key "clusterIP" \(first given 2 lines above\)' \
  -- "$svcnft" compile -f "$tmp/dupkey.yaml"
printf 'apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec: {clusterIP: "198.18.100.10\\u0000junk", ports: [{port: 80}]}\n' >"$tmp/nul.yaml"
expect "an escaped NUL in a value is refused" 1 'nul.yaml:4:.*error: .*NUL character: "198.18.100.10\\0junk"' \
  -- "$svcnft" compile -f "$tmp/nul.yaml"
printf 'apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec: {clusterIP: 198.18.100.10\0junk, ports: [{port: 80}]}\n' >"$tmp/rawnul.yaml"
expect "a raw NUL byte in a value is refused" 1 'rawnul.yaml:4:32: error: malformed YAML/JSON: a NUL byte in the text' \
  -- "$svcnft" compile -f "$tmp/rawnul.yaml"
# Typed values as Kubernetes reads them.
printf 'apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec: {clusterIP: 198.18.100.10, ports: [{port: !!str 80}]}\n' >"$tmp/strport.yaml"
expect "!!str 80 is not a port" 1 'strport.yaml:4:.*error: Service shop/web: spec.ports\[0\].port' \
  -- "$svcnft" compile -f "$tmp/strport.yaml"
printf 'apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec: {clusterIP: "::ffff:198.18.100.10", ports: [{port: 80}]}\n' >"$tmp/mapped.yaml"
expect "an IPv4-mapped IPv6 address is refused" 1 'mapped.yaml:4:.*IPv4-mapped IPv6 address' \
  -- "$svcnft" compile -f "$tmp/mapped.yaml"
cat >"$tmp/bools.yaml" <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {clusterIP: 198.18.100.10, ports: [{port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, namespace: shop, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{port: 80}]
endpoints:
- {addresses: [198.18.1.10], conditions: {ready: True}}
- {addresses: [198.18.1.11], conditions: {ready: FALSE, serving: TRUE, terminating: True}}
YAML
expect "True, TRUE and FALSE are booleans" 0 "" -- "$svcnft" compile -f "$tmp/bools.yaml"
# Names as Kubernetes has them: ASCII DNS labels, so comments never hold a multi-byte character.
long=$(printf 'é%.0s' $(seq 70))
printf 'apiVersion: v1\nkind: Service\nmetadata: {name: "%s", namespace: shopx}\nspec: {clusterIP: 198.18.100.10, ports: [{port: 80}]}\n' "$long" >"$tmp/utf8.yaml"
expect "a name outside Kubernetes' rules is refused" 1 'utf8.yaml:3:.*error: Service: metadata.name: ".* is not a DNS-1035 label' \
  -- "$svcnft" compile -f "$tmp/utf8.yaml"
# Input size: 3,000 unnamed ports and a 3,000-endpoint slice asked for 9 million kernel
# elements (134 KB in, 769 MB of ruleset out, 5 GB of memory); now each is an error.
python3 - "$tmp/bomb.yaml" <<'PY'
import sys
ports = "".join("  - {port: %d}\n" % (1000 + i) for i in range(3000))
eps = "".join("- addresses: [198.18.%d.%d]\n" % (i // 250, i % 250 + 1) for i in range(3000))
open(sys.argv[1], "w").write(
    "apiVersion: v1\nkind: Service\nmetadata: {name: boom}\nspec:\n  clusterIP: 198.18.100.10\n"
    "  ports:\n" + ports + "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
    "metadata: {name: boom-1, labels: {kubernetes.io/service-name: boom}}\naddressType: IPv4\n"
    "ports: [{port: 80}]\nendpoints:\n" + eps)
PY
expect "a Service with more ports than svcnft takes is refused" 1 \
  'bomb.yaml:7:3: error: Service default/boom: spec.ports: 3000 ports; svcnft takes at most 100' \
  -- timeout 20 "$svcnft" compile -f "$tmp/bomb.yaml"
grep -qE 'bomb.yaml:[0-9]+:1: error: EndpointSlice default/boom-1: endpoints: 3000 endpoints; Kubernetes allows at most 1000' "$tmp/err" \
  && passes=$((passes + 1)) || { echo "FAIL: a 3000-endpoint slice was not refused"; failures=$((failures + 1)); }
if [[ $(id -u) -eq 0 ]] && command -v setpriv >/dev/null; then
  # Root reads anything: the unreadable directory is tried as nobody.
  mkdir -p "$tmp/closed" && cp "$seed/manifests.yaml" "$tmp/closed/" && chmod 000 "$tmp/closed"
  chmod 755 "$tmp"
  expect "an unreadable directory is an error, not an empty input" 1 "closed: error: cannot read directory" \
    -- setpriv --reuid=65534 --regid=65534 --clear-groups "$svcnft" compile -f "$tmp/closed"
fi

# CVE-2020-8554 guard: an externalIP outside externalIPAllow is left out with a
# warning; its Service, the other address and the rest of the file still compile.
cat >"$tmp/extip.yaml" <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {clusterIP: 198.18.100.10, externalIPs: [198.18.200.30, 198.18.201.9], ports: [{port: 80}]}
YAML
printf 'externalIPAllow: [198.18.200.0/24]\n' >"$tmp/extip-node.yaml"
expect "a refused externalIP is a warning, not an error" 0 \
  'extip.yaml:4:.*warning: Service shop/web: spec.externalIPs\[1\]: 198.18.201.9 is outside externalIPAllow.*left out' \
  -- "$svcnft" compile -f "$tmp/extip.yaml" --node-config "$tmp/extip-node.yaml"
# The refused one is only listed, in external-ips-refused-v4, which no rule reads.
grep -q '198.18.200.30 . tcp . 80' "$tmp/out" &&
  [[ $(grep -c '198.18.201.9' "$tmp/out") == 1 ]] &&
  grep -q '198.18.201.9 . tcp . 80 comment "shop/web:80"' "$tmp/out" &&
  [[ $(sed -n '/set external-ips-refused-v4 {/,/^	}/p' "$tmp/out" | grep -c 198.18.201.9) == 1 ]] &&
  passes=$((passes + 1)) ||
  { echo "FAIL: the allowed externalIP should be in the ruleset, the refused one only listed as refused"; failures=$((failures + 1)); }

# Deterministic: the same input twice gives the same bytes.
"$svcnft" compile -f "$root/examples/dual-stack/manifests.yaml" >"$tmp/a" 2>/dev/null; rc_a=$?
"$svcnft" compile -f "$root/examples/dual-stack/manifests.yaml" >"$tmp/b" 2>/dev/null; rc_b=$?
[[ $rc_a -eq 0 && $rc_b -eq 0 && -s $tmp/a ]] && cmp -s "$tmp/a" "$tmp/b" && passes=$((passes + 1)) || { echo "FAIL: output not deterministic"; failures=$((failures + 1)); }

echo "cli_test: $passes passed, $failures failed"
[[ $failures -eq 0 ]]
