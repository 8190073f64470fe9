#!/usr/bin/env bash
# A transaction the kernel rejects changes nothing: the previous ruleset stays, byte
# for byte in `nft list`, and the error names the Service and the errno. Both for a
# first install and for an incremental change.
# Usage: rejected_transaction.sh SVCNFT REJECTING_APPLY SOURCE_DIR. Exit 77 without root.
set -uo pipefail
svcnft=$1
rejecting=$2
root=$3
source "$(dirname "$0")/../skip_lib.sh"
if [[ $(id -u) -ne 0 ]] || ! command -v nft >/dev/null; then skip "needs root and nft"; fi
ns=svcnft-rej-$$
tmp=$(mktemp -d)
trap 'ip netns del "$ns" 2>/dev/null; rm -rf "$tmp"' EXIT
ip netns add "$ns" || exit 1
passes=0
failures=0
ok() { passes=$((passes + 1)); }
bad() { echo "FAIL: $1"; failures=$((failures + 1)); }
seed=$root/examples/seed

# Nothing installed yet: the rejected install leaves nothing.
ip netns exec "$ns" "$rejecting" "$seed/manifests.yaml" "$seed/node-config.yaml" 2>"$tmp/err"
rc=$?
[[ $rc -eq 3 ]] && ok || bad "rejected install: exit $rc, want 3"
grep -q "nothing was changed" "$tmp/err" && grep -q "ENOENT" "$tmp/err" &&
  grep -q "default/nginx-nodeport-service:http" "$tmp/err" && ok ||
  bad "rejected install: error does not name the Service and errno: $(cat "$tmp/err")"
[[ -z $(ip netns exec "$ns" nft list tables) ]] && ok || bad "rejected install left a table"

# Installed, then a rejected change: the installed ruleset stays exactly as it was.
ip netns exec "$ns" "$svcnft" apply -f "$seed/manifests.yaml" --node-config "$seed/node-config.yaml" 2>/dev/null \
  || { echo "FAIL: the first apply"; exit 1; }
ip netns exec "$ns" nft list ruleset >"$tmp/before"
sed 's/198.18.3.10/198.18.3.99/' "$seed/manifests.yaml" >"$tmp/changed.yaml"
ip netns exec "$ns" "$rejecting" "$tmp/changed.yaml" "$seed/node-config.yaml" 2>"$tmp/err"
rc=$?
[[ $rc -eq 3 ]] && ok || bad "rejected change: exit $rc, want 3 ($(cat "$tmp/err"))"
grep -q "default/nginx-nodeport-service:http" "$tmp/err" && ok ||
  bad "rejected change: error does not name the Service: $(cat "$tmp/err")"
ip netns exec "$ns" nft list ruleset >"$tmp/after"
cmp -s "$tmp/before" "$tmp/after" && ok || { bad "rejected change altered the ruleset"; diff "$tmp/before" "$tmp/after" | head; }
# And the same change, not spoiled, goes through.
# (The listing is read whole before grep: with pipefail, `nft list | grep -q` fails
# whenever grep exits before nft has written everything and nft gets SIGPIPE.)
ip netns exec "$ns" "$svcnft" apply -f "$tmp/changed.yaml" --node-config "$seed/node-config.yaml" 2>"$tmp/err" &&
  grep -q 198.18.3.99 <<<"$(ip netns exec "$ns" nft list map inet svcnft np-backends-v4)" && ok ||
  bad "the unspoiled change did not apply: $(cat "$tmp/err")"

echo "rejected_transaction: $passes passed, $failures failed"
[[ $failures -eq 0 ]]
