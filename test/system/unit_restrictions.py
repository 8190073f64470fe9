#!/usr/bin/python3
"""Reads a systemd unit's sandbox settings that seccomp_exec and setpriv can apply
where systemd is not PID 1, and prints them as shell assignments:
  syscalls=FILE (the resolved SystemCallFilter= allow list), families=unix,inet,...,
  deny_wx=yes|no, capabilities=net_admin,...
Groups (@system-service) are resolved by `systemd-analyze syscall-filter`, so the
list is exactly what this systemd would allow.
Usage: unit_restrictions.py UNIT OUT_SYSCALLS_FILE"""
import subprocess
import sys


def group(name, seen):
    out = subprocess.run(["systemd-analyze", "syscall-filter", name], capture_output=True,
                         text=True, check=True).stdout
    calls = set()
    for line in out.splitlines()[1:]:
        item = line.strip()
        if not item or item.startswith("#"):
            continue
        if item.startswith("@"):
            if item not in seen:
                seen.add(item)
                calls |= group(item, seen)
        else:
            calls.add(item)
    return calls


def expand(tokens):
    calls = set()
    for t in tokens:
        calls |= group(t, {t}) if t.startswith("@") else {t}
    return calls


def main():
    unit, out = sys.argv[1], sys.argv[2]
    settings = {}
    filters = []
    for line in open(unit):
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        if key == "SystemCallFilter":
            filters.append(value)
        else:
            settings[key] = value
    if not filters or filters[0].startswith("~"):
        sys.exit("unit_restrictions: the unit has no SystemCallFilter= allow list")
    allowed = set()
    for f in filters:
        if f.startswith("~"):
            allowed -= expand(f[1:].split())
        else:
            allowed |= expand(f.split())
    with open(out, "w") as o:
        o.write("\n".join(sorted(allowed)) + "\n")
    families = [f.replace("AF_", "").lower() for f in settings.get("RestrictAddressFamilies", "").split()]
    caps = [c.replace("CAP_", "").lower() for c in settings.get("CapabilityBoundingSet", "").split()]
    print("syscalls=%s" % out)
    print("families=%s" % ",".join(families))
    print("deny_wx=%s" % ("yes" if settings.get("MemoryDenyWriteExecute") == "yes" else "no"))
    print("capabilities=%s" % ",".join(caps))
    print("syscall_count=%d" % len(allowed))


main()
