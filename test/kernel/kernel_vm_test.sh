#!/usr/bin/env bash
# The kernel tests on the kernel operators run: Debian bookworm's own 6.1, booted
# in qemu over this machine's files (a kernel VM: KERNEL_VM_DIR, a folder with its
# `setup` and `run` scripts, or ../shared/kernel-vm beside this repository). Runs
# the listed ctest entries of BUILD_DIR inside the guest, where the session
# affinity, apply-equivalence and agent tests meet 6.1's nf_tables (no
# NFT_MSG_DESTROYSETELEM, among others), and the atomicity, rejected-transaction
# and nft oracle tests with them, and the kube-proxy configuration test (its
# conntrack sysctls). Software emulation: 25-30x slower.
# Usage: kernel_vm_test.sh BUILD_DIR SOURCE_DIR [CTEST_REGEX]. Exit 77 (skip)
# without root or without the kernel VM.
set -uo pipefail
build=$(cd "$1" && pwd)
root=$2
tests=${3:-'^(apply_equivalence|netns_agent|netns_agent_partial|netns_semantics|netns_atomicity|rejected_transaction|nft_check_goldens_and_examples|nft_bytecode_equivalence|netns_kube_proxy_config)$'}
source "$root/test/skip_lib.sh"
[[ $(id -u) -eq 0 ]] || skip "needs root"
vm=
for d in "${KERNEL_VM_DIR:-}" "$root/../shared/kernel-vm" /work/shared/kernel-vm; do
  [[ -n $d && -x $d/run && -x $d/setup ]] && { vm=$d; break; }
done
[[ -n $vm ]] || { echo "SKIP: no kernel VM (set KERNEL_VM_DIR to a folder with setup and run)"; exit 77; }
"$vm/setup" >/dev/null || { echo "FAIL: kernel VM setup"; exit 1; }
cd "$build" || exit 1
# Software emulation: bounded waits in the tests stretch by TIME_SCALE.
out=$(K61_TIMEOUT=${K61_TIMEOUT:-1500} "$vm/run" \
  "uname -r && TIME_SCALE=20 ctest --output-on-failure --timeout 900 -R '$tests'" 2>&1)
rc=$?
echo "$out" | grep -v '^\[ *[0-9.]*\] ' | tail -60
kernel=$(echo "$out" | grep -m1 -o '^[0-9][0-9.]*-[0-9]*-amd64')
echo "kernel_vm: ran on ${kernel:-an unknown kernel}, exit $rc"
exit $rc
