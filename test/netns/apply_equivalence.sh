#!/usr/bin/env bash
# Equivalence (issue: the kernel writer): in two fresh namespaces, `nft -f` of the
# dry-run dump and `svcnft apply` of the same input must give identical
# `nft list table` output, and identical sets attribute by attribute (nft_dump),
# for every example. Then one namespace applies every example in turn: each
# incremental (or, across node configs, replacing) apply must leave exactly what a
# fresh `nft -f` of that example gives, once diffing and once flushing and refilling
# (--refill). Each listing after apply re-loads as itself in a fresh namespace
# (`nft list ruleset > saved; nft -f saved`). Also: apply twice changes nothing the second
# time, and cleanup removes ours and nothing else.
# Usage: apply_equivalence.sh SVCNFT NFT_DUMP SOURCE_DIR. Exit 77 (skip) without root.
set -uo pipefail
svcnft=$1
dump=$2
root=$3
source "$(dirname "$0")/../skip_lib.sh"
if [[ $(id -u) -ne 0 ]] || ! command -v nft >/dev/null; then skip "needs root and nft"; fi
a=svcnft-eq-a-$$
b=svcnft-eq-b-$$
tmp=$(mktemp -d)
trap 'ip netns del "$a" 2>/dev/null; ip netns del "$b" 2>/dev/null; rm -rf "$tmp"' EXIT
passes=0
failures=0
ok() { passes=$((passes + 1)); }
# shellcheck source=cluster_lib.sh
source "$root/test/netns/cluster_lib.sh"  # listed
bad() { echo "FAIL: $1"; failures=$((failures + 1)); }

for dir in "$root"/examples/*/; do
  name=$(basename "$dir")
  ip netns del "$a" 2>/dev/null; ip netns del "$b" 2>/dev/null
  ip netns add "$a" && ip netns add "$b" || exit 1
  table=$(awk '/^table inet /{print $3; exit}' "$root/test/golden/$name.nft")
  ip netns exec "$a" nft -f "$root/test/golden/$name.nft" || { bad "$name: nft -f"; continue; }
  if ! ip netns exec "$b" "$svcnft" apply -f "$dir/manifests.yaml" \
      --node-config "$dir/node-config.yaml" 2>"$tmp/err"; then
    bad "$name: svcnft apply: $(cat "$tmp/err")"; continue
  fi
  ip netns exec "$a" nft list table inet "$table" >"$tmp/a.txt"
  ip netns exec "$b" nft list table inet "$table" >"$tmp/b.txt"
  if cmp -s "$tmp/a.txt" "$tmp/b.txt"; then ok; else
    bad "$name: nft list differs (< nft -f, > svcnft apply)"; diff "$tmp/a.txt" "$tmp/b.txt" | head -20
  fi
  # An operator's `nft list ruleset > saved; nft -f saved` works on what apply
  # installed (in a fresh namespace, with nft 1.0.6 on bookworm too).
  ip netns exec "$b" nft list ruleset >"$tmp/saved.nft"
  ip netns del "$a"; ip netns add "$a"
  if ip netns exec "$a" nft -f "$tmp/saved.nft" 2>"$tmp/err" &&
      cmp -s "$tmp/saved.nft" <(ip netns exec "$a" nft list ruleset); then ok; else
    bad "$name: the listing after apply does not re-load as itself: $(head -5 "$tmp/err")"
  fi
  ip netns del "$a"; ip netns add "$a"
  ip netns exec "$a" nft -f "$root/test/golden/$name.nft"
  ip netns exec "$a" "$dump" "$table" >"$tmp/a.sets"
  ip netns exec "$b" "$dump" "$table" >"$tmp/b.sets"
  if cmp -s "$tmp/a.sets" "$tmp/b.sets"; then ok; else
    bad "$name: set attributes differ"; diff "$tmp/a.sets" "$tmp/b.sets" | head -10
  fi
done

# One namespace walks through every example: incremental applies end where nft -f starts.
c=svcnft-eq-c-$$
ip netns add "$c" || exit 1
trap 'ip netns del "$a" 2>/dev/null; ip netns del "$b" 2>/dev/null; ip netns del "$c" 2>/dev/null; rm -rf "$tmp"' EXIT
refilled=0
for round in 1 2; do
  # Round 2 flushes and refills instead of reading back and diffing (what apply does
  # past writer::kReadBackLimit elements): it must end in the same place.
  mode=()
  [[ $round == 2 ]] && mode=(--refill)
  for dir in "$root"/examples/*/; do
    name=$(basename "$dir")
    table=$(awk '/^table inet /{print $3; exit}' "$root/test/golden/$name.nft")
    ip netns exec "$c" "$svcnft" apply -f "$dir/manifests.yaml" --node-config "$dir/node-config.yaml" \
      "${mode[@]}" 2>"$tmp/err" || { bad "walk $name: $(cat "$tmp/err")"; continue; }
    grep -q "^svcnft: refilled" "$tmp/err" && refilled=$((refilled + 1))
    ip netns del "$a"; ip netns add "$a"
    ip netns exec "$a" nft -f "$root/test/golden/$name.nft"
    if cmp -s <(listed "$a" "$table") <(listed "$c" "$table"); then ok; else
      bad "walk round $round, $name: after apply the table differs from nft -f ($(cat "$tmp/err"))"
      diff <(listed "$a" "$table") <(listed "$c" "$table") | head -10
    fi
  done
done

[[ $refilled -ge 3 ]] && ok || bad "round 2 refilled only $refilled times"

# show reads the kernel back as a table a person reads.
ip netns exec "$c" "$svcnft" apply -f "$root/examples/weighted/manifests.yaml" \
  --node-config "$root/examples/weighted/node-config.yaml" 2>"$tmp/err" || bad "apply weighted: $(cat "$tmp/err")"
shown=$(ip netns exec "$c" "$svcnft" show)
want=$'default/canary:http\tnodePort 30050/tcp ipv4\texternal\t198.18.1.50:80 (1), 198.18.2.50:80 (1), 198.18.3.50:80 (2)'
grep -qF "$want" <<<"$shown" && ok || { bad "show lacks the weighted NodePort:"; echo "$shown"; }
# ... and names the externalIPs a Service asked for and did not get.
ip netns exec "$c" "$svcnft" apply -f "$root/examples/externalips/manifests.yaml" \
  --node-config "$root/examples/externalips/node-config.yaml" 2>"$tmp/err" || bad "apply externalips: $(cat "$tmp/err")"
shown=$(ip netns exec "$c" "$svcnft" show)
grep -q "^REFUSED: spec.externalIPs outside" <<<"$shown" &&
  grep -qF $'default/legacy:http\t198.19.250.30:8000/tcp' <<<"$shown" && ok ||
  { bad "show does not list the refused externalIP:"; echo "$shown"; }

# Twice: the second apply finds nothing to do; cleanup leaves a foreign table alone.
seed=$root/examples/seed
ip netns exec "$b" nft add table ip someone-else
ip netns exec "$b" "$svcnft" apply -f "$seed/manifests.yaml" --node-config "$seed/node-config.yaml" 2>"$tmp/err" \
  || bad "first apply of the seed: $(cat "$tmp/err")"
ip netns exec "$b" "$svcnft" apply -f "$seed/manifests.yaml" --node-config "$seed/node-config.yaml" 2>"$tmp/err"
grep -q "unchanged table inet svcnft" "$tmp/err" && ok || bad "second apply was not a no-op: $(cat "$tmp/err")"
# ... from its state record, read nothing back; a table edited behind its back is
# never taken from a stale record: it is read back and repaired.
grep -q "read back nothing (the state record)" "$tmp/err" && ok || bad "the second apply read the table back: $(cat "$tmp/err")"
ip netns exec "$b" nft flush map inet svcnft nodeports-v4
ip netns exec "$b" "$svcnft" diff -f "$seed/manifests.yaml" --node-config "$seed/node-config.yaml" >"$tmp/diff" 2>&1
grep -q "^+ nodeports-v4" "$tmp/diff" && ok || bad "diff trusted a stale state record: $(cat "$tmp/diff")"
ip netns exec "$b" "$svcnft" apply -f "$seed/manifests.yaml" --node-config "$seed/node-config.yaml" 2>"$tmp/err"
grep -q "updated table inet svcnft.*read back [0-9.]* ms" "$tmp/err" && ok || bad "apply after an edit behind its back: $(cat "$tmp/err")"
ip netns del "$a"; ip netns add "$a"
ip netns exec "$a" nft -f "$root/test/golden/seed.nft"
cmp -s <(listed "$a" svcnft) <(listed "$b" svcnft) && ok || bad "the edited table was not repaired"

# Past --record-element-limit the record keeps only the table's digest: the same
# inputs again need nothing read back nor sent; an edit behind its back and other
# inputs are read back and diffed as without a record.
small=(--record-element-limit 5)
apply_seed() {
  ip netns exec "$b" "$svcnft" apply -f "$1" --node-config "$seed/node-config.yaml" "${small[@]}" 2>"$tmp/err"
}
ip netns exec "$b" "$svcnft" cleanup 2>/dev/null
apply_seed "$seed/manifests.yaml" || bad "apply with a digest record: $(cat "$tmp/err")"
apply_seed "$seed/manifests.yaml"
grep -q "unchanged table inet svcnft.*read back nothing (the state record's digest)" "$tmp/err" && ok ||
  bad "the digest record did not spare the second apply: $(cat "$tmp/err")"
ip netns exec "$b" nft flush map inet svcnft nodeports-v4
apply_seed "$seed/manifests.yaml"
grep -q "updated table inet svcnft.*read back [0-9.]* ms" "$tmp/err" && ok ||
  bad "a digest record was trusted after an edit behind its back: $(cat "$tmp/err")"
cmp -s <(listed "$a" svcnft) <(listed "$b" svcnft) && ok || bad "the edited table was not repaired (digest record)"
sed 's/198\.18\.2\.10/198.18.2.11/' "$seed/manifests.yaml" >"$tmp/moved.yaml"
grep -q 198.18.2.11 "$tmp/moved.yaml" || bad "the moved endpoint is not in the copy"
apply_seed "$tmp/moved.yaml"
grep -q "updated table inet svcnft.*read back [0-9.]* ms" "$tmp/err" && ok ||
  bad "other inputs under a digest record were not read back and diffed: $(cat "$tmp/err")"
ip netns del "$a"; ip netns add "$a"
"$svcnft" compile -f "$tmp/moved.yaml" --node-config "$seed/node-config.yaml" | ip netns exec "$a" nft -f -
cmp -s <(listed "$a" svcnft) <(listed "$b" svcnft) && ok ||
  bad "after a change under a digest record the table differs from the compiled one"
[[ $(ip netns exec "$b" nft list tables | grep -c "table inet svcnft") -eq 1 ]] && ok || bad "not one table"
ip netns exec "$b" "$svcnft" cleanup 2>/dev/null
[[ $(ip netns exec "$b" nft list tables | tr '\n' ' ') == "table ip someone-else " ]] && ok \
  || bad "cleanup left: $(ip netns exec "$b" nft list tables | tr '\n' ' ')"
ip netns exec "$b" "$svcnft" cleanup 2>"$tmp/err" && grep -q "no table" "$tmp/err" && ok \
  || bad "cleanup of nothing should succeed"

echo "apply_equivalence: $passes passed, $failures failed"
[[ $failures -eq 0 ]]
