#!/usr/bin/env bash
# The kernel is the oracle: every golden dump, the skeleton and the fresh compile of
# every example must pass `nft -c -f` in a throwaway network namespace; applying one
# twice leaves one copy of our table, and a table of someone else's survives.
# Usage: nft_check.sh SVCNFT_BINARY SOURCE_DIR. Exit 77 (skip) without root or nft.
set -uo pipefail
svcnft=$1
root=$2

source "$root/test/skip_lib.sh"
if [[ $(id -u) -ne 0 ]] || ! command -v nft >/dev/null || ! command -v ip >/dev/null; then
  skip "needs root, nft and ip (network namespaces)"
fi

ns=svcnft-check-$$
tmp=$(mktemp -d)
cleanup() {
  ip netns del "$ns" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$ns" || exit 1
in_ns() { ip netns exec "$ns" "$@"; }

failures=0
passes=0
check() {  # check NAME FILE
  if in_ns nft -c -f "$2" 2>"$tmp/err"; then
    passes=$((passes + 1))
  else
    echo "FAIL: nft -c -f rejects $1:"
    sed 's/^/    /' "$tmp/err" | head -20
    failures=$((failures + 1))
  fi
}

for golden in "$root"/test/golden/*.nft "$root"/rules/skeleton.nft; do
  check "${golden#"$root"/}" "$golden"
done
for dir in "$root"/examples/*/; do
  name=$(basename "$dir")
  if ! "$svcnft" compile -f "$dir/manifests.yaml" --node-config "$dir/node-config.yaml" \
      >"$tmp/$name.nft" 2>"$tmp/err"; then
    echo "FAIL: svcnft compile examples/$name:"; sed 's/^/    /' "$tmp/err"
    failures=$((failures + 1))
    continue
  fi
  check "examples/$name" "$tmp/$name.nft"
done

# Re-applicable and polite: twice gives one table; the foreign table stays.
in_ns nft add table ip someone-else
in_ns nft add chain ip someone-else keep
for name in seed dual-stack; do
  in_ns nft -f "$tmp/$name.nft" && in_ns nft -f "$tmp/$name.nft"
  tables=$(in_ns nft list tables | sort | tr '\n' ' ')
  if [[ $tables == "table inet svcnft table ip someone-else " ]]; then
    passes=$((passes + 1))
  else
    echo "FAIL: after applying $name twice, tables are: $tables"
    failures=$((failures + 1))
  fi
done

echo "nft_check: $passes passed, $failures failed"
[[ $failures -eq 0 ]]
