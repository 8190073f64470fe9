#!/usr/bin/env bash
# Our rule encoding must be nft's, expression for expression: for every example,
# the rules as `nft --debug=netlink -c -f` linearises the golden dump, and as our
# encoder builds them (test/tools/bytecode_dump), print the same. This is what makes
# `nft list` read back svcnft's kernel rules as the text of the dry-run dump.
# Usage: bytecode_check.sh BYTECODE_DUMP SOURCE_DIR. Exit 77 (skip) without root or nft.
set -uo pipefail
dump=$1
root=$2
source "$(dirname "$0")/../skip_lib.sh"
if [[ $(id -u) -ne 0 ]] || ! command -v nft >/dev/null; then skip "needs root and nft"; fi
ns=svcnft-bc-$$
tmp=$(mktemp -d)
trap 'ip netns del "$ns" 2>/dev/null; rm -rf "$tmp"' EXIT
ip netns add "$ns" || exit 1

rules_only() {  # keep "inet TABLE CHAIN" headers and their "  [ expr ]" lines
  awk '/^inet [^ (]+ [^ ]+$/ { keep = 1; print; next } keep && /^  \[/ { print; next } { keep = 0 }'
}
passes=0
failures=0
for dir in "$root"/examples/*/; do
  name=$(basename "$dir")
  ip netns exec "$ns" nft --debug=netlink -c -f "$root/test/golden/$name.nft" 2>/dev/null |
    rules_only >"$tmp/nft.txt"
  "$dump" "$dir/manifests.yaml" "$dir/node-config.yaml" | rules_only >"$tmp/ours.txt"
  if [[ -s $tmp/ours.txt ]] && cmp -s "$tmp/nft.txt" "$tmp/ours.txt"; then
    passes=$((passes + 1))
  else
    echo "FAIL: examples/$name: our rule bytecode differs from nft's (< nft, > ours):"
    diff "$tmp/nft.txt" "$tmp/ours.txt" | head -20
    failures=$((failures + 1))
  fi
done
echo "bytecode_check: $passes passed, $failures failed"
[[ $failures -eq 0 ]]
