#!/usr/bin/env bash
# The systemd unit: `systemd-analyze verify` accepts it (pointed at the built
# binary) without a warning, it is Type=notify with only CAP_NET_ADMIN and never
# PrivateNetwork, and `cmake --install` places binary, unit and example config.
# Usage: systemd_unit_test.sh SVCNFT SOURCE_DIR BUILD_DIR. Exit 77 without systemd-analyze.
set -uo pipefail
svcnft=$(realpath "$1")
root=$2
build=$3
source "$root/test/skip_lib.sh"
command -v systemd-analyze >/dev/null || skip "systemd-analyze missing"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passes=0
failures=0
ok() { passes=$((passes + 1)); }
bad() { echo "FAIL: $1"; failures=$((failures + 1)); }
unit=$root/cmd/svcnft/svcnft.service

sed "s|/usr/sbin/svcnft|$svcnft|" "$unit" >"$tmp/svcnft.service"
out=$(systemd-analyze verify "$tmp/svcnft.service" 2>&1)
[[ $? -eq 0 && -z $out ]] && ok || bad "systemd-analyze verify: $out"
for line in "Type=notify" "AmbientCapabilities=CAP_NET_ADMIN" "CapabilityBoundingSet=CAP_NET_ADMIN" \
            "NoNewPrivileges=yes" "ProtectSystem=strict" "ProtectHome=yes" "Restart=on-failure"; do
  grep -qx "$line" "$unit" && ok || bad "unit lacks $line"
done
grep -q "^PrivateNetwork" "$unit" && bad "the unit must not use PrivateNetwork" || ok

DESTDIR=$tmp/root cmake --install "$build" >/dev/null 2>&1 || bad "cmake --install failed"
for f in usr/local/sbin/svcnft usr/local/lib/systemd/system/svcnft.service \
         usr/local/share/doc/svcnft/examples/node-config.yaml.example; do
  [[ -e $tmp/root/$f ]] && ok || bad "cmake --install did not place $f"
done
echo "systemd_unit: $passes passed, $failures failed"
[[ $failures -eq 0 ]]
