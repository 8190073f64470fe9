#!/usr/bin/env bash
# The systemd unit: `systemd-analyze verify` accepts it (pointed at the built
# binary), alone and with the API-mode drop-in, without a warning; it is
# Type=notify with a dynamic user holding only CAP_NET_ADMIN, never PrivateNetwork;
# `systemd-analyze security` scores its exposure at most 2.5 (printed); and
# `cmake --install` places binary, unit, drop-in and example config. That the agent
# does its job under these restrictions is test/system/restricted_agent_test.sh.
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

mkdir -p "$tmp/units/svcnft.service.d"
sed "s|/usr/sbin/svcnft|$svcnft|" "$unit" >"$tmp/units/svcnft.service"
out=$(systemd-analyze verify "$tmp/units/svcnft.service" 2>&1)
[[ $? -eq 0 && -z $out ]] && ok || bad "systemd-analyze verify: $out"
cp "$root/cmd/svcnft/svcnft-api.conf" "$tmp/units/svcnft.service.d/api.conf"
out=$(SYSTEMD_UNIT_PATH=$tmp/units: systemd-analyze verify svcnft.service 2>&1)
[[ $? -eq 0 && -z $out ]] && ok || bad "systemd-analyze verify with the API drop-in: $out"
for line in "Type=notify" "DynamicUser=yes" "AmbientCapabilities=CAP_NET_ADMIN" \
            "CapabilityBoundingSet=CAP_NET_ADMIN" "NoNewPrivileges=yes" "ProtectSystem=strict" \
            "ProtectHome=yes" "Restart=on-failure" "MemoryDenyWriteExecute=yes" "UMask=0077" \
            "SystemCallArchitectures=native" "RestrictAddressFamilies=AF_NETLINK AF_INET AF_INET6 AF_UNIX"; do
  grep -qx "$line" "$unit" && ok || bad "unit lacks $line"
done
grep -q "^PrivateNetwork" "$unit" && bad "the unit must not use PrivateNetwork" || ok
for dropin in no yes; do
  [[ $dropin == no ]] && mv "$tmp/units/svcnft.service.d" "$tmp/dropin.off"
  [[ $dropin == yes ]] && mv "$tmp/dropin.off" "$tmp/units/svcnft.service.d"
  score=$(SYSTEMD_UNIT_PATH=$tmp/units: systemd-analyze security --offline=yes svcnft.service 2>&1 |
    sed -n 's/.*Overall exposure level for svcnft.service: \([0-9.]*\).*/\1/p')
  echo "systemd-analyze security: exposure $score (API drop-in: $dropin)"
  [[ -n $score ]] && awk -v s="$score" 'BEGIN { exit !(s <= 2.5) }' && ok ||
    bad "exposure '$score' is above 2.5 (API drop-in: $dropin)"
done

DESTDIR=$tmp/root cmake --install "$build" >/dev/null 2>&1 || bad "cmake --install failed"
for f in usr/local/sbin/svcnft usr/local/lib/systemd/system/svcnft.service \
         usr/local/share/doc/svcnft/examples/svcnft-api.conf \
         usr/local/share/doc/svcnft/examples/node-config.yaml.example; do
  [[ -e $tmp/root/$f ]] && ok || bad "cmake --install did not place $f"
done
echo "systemd_unit: $passes passed, $failures failed"
[[ $failures -eq 0 ]]
