#!/usr/bin/env bash
# Failures at the agent's kernel seams, against the real kernel (test/tools/
# fault_agent.cc): 10% of transactions refused, overruns of the event socket, half
# the UDP conntrack cleanups failing, until 10,000 were injected (FAULTS to change).
# The agent must go on (backing off), converge once failures stop, count each in its
# metrics, and keep its memory and descriptors flat: descriptors equal, resident
# memory within 1 MiB, between 1% and 100% of the failures.
# Usage: fault_injection_test.sh FAULT_AGENT SOURCE_DIR. Exit 77 (skip) without root.
set -uo pipefail
fault_agent=$1
root=$2
source "$root/test/skip_lib.sh"
[[ $(id -u) -eq 0 ]] || skip "needs root (network namespaces)"
ns=fault$$
tmp=$(mktemp -d)
trap 'ip netns del "$ns" 2>/dev/null; rm -rf "$tmp"' EXIT
ip netns add "$ns" && ip netns exec "$ns" ip link set lo up || { echo "FAIL: no namespace"; exit 1; }

ip netns exec "$ns" "$fault_agent" --services 100 --failures "${FAULTS:-10000}" --seed 7 \
  >"$tmp/out" 2>"$tmp/agent.log"
rc=$?
cat "$tmp/out"
eval "$(grep -hE '^[a-z_]+=' "$tmp/out" | tr ' ' '\n' | grep -E '^[a-z_]+=[A-Za-z0-9.]+$')"
passes=0
failures=0
check() { if eval "$2"; then passes=$((passes + 1)); echo "ok: $1"; else failures=$((failures + 1)); echo "FAIL: $1"; fi; }
check "fault_agent ran to the end" "[[ $rc -le 1 && -n \${total:-} ]]"
check "$total failures injected ($injected_refused refused transactions, $injected_overruns event socket overruns, $injected_conntrack failed conntrack cleanups)" \
  "[[ \${total:-0} -ge ${FAULTS:-10000} ]]"
check "converged once failures stopped (in ${converge_seconds:-?} s)" "[[ \${converged:-} == yes ]]"
check "metrics counted them (sync failures $metric_sync_failures, conntrack failures $metric_conntrack_failures, overruns $metric_overruns)" \
  "[[ \${counted:-} == yes ]]"
check "descriptors flat ($fds_start at 1% of the failures, $fds_end at the end)" "[[ \$fds_start -eq \$fds_end ]]"
check "memory flat (resident $rss_kb_start KiB at 1%, $rss_kb_end KiB at the end)" \
  "[[ \$((rss_kb_end - rss_kb_start)) -le 1024 ]]"
grep -q "trying again in" "$tmp/agent.log" && check "failures were retried with backoff" true ||
  check "failures were retried with backoff" false
echo "fault_injection: $passes passed, $failures failed"
[[ $failures -eq 0 ]]
