#!/usr/bin/env python3
"""Writes the same S Services x E endpoints as bench/gen_manifests.py, in the
shapes svcnft is measured against (docs/design.md "Measured kernel facts"):

  classic   kube-proxy's nftables shape: a chain per Service and per endpoint, an
            anonymous `numgen` vmap per Service (nft -f)
  kp136     kube-proxy 1.36: a chain per Service with an anonymous
            `dnat ... numgen ... map` (nft -f)
  iptables  kube-proxy's iptables shape: KUBE-SERVICES, statistic-random jumps to
            per-endpoint DNAT chains (iptables-restore)

Each also gets a `-change` file: the same one endpoint moved, as each tool would
send it. Addresses match gen_manifests.py (ClusterIPs 198.18.128.0/17, endpoints
198.19.0.0/16)."""
import argparse
import ipaddress
import os

VIP = int(ipaddress.IPv4Address("198.18.128.0"))
EP = int(ipaddress.IPv4Address("198.19.0.0"))
MOVED = "198.19.250.5"  # what service 0's endpoint changed() becomes in every -change file


def changed(e):
    """The endpoint of service 0 that every -change file moves (5, or the last one)."""
    return min(5, e - 1)


def ip(base, i):
    return str(ipaddress.IPv4Address(base + i))


def endpoints(s, e):
    return [ip(EP, (s * e + j) % 65536) for j in range(e)]


def service_ips(w, services):
    """The table and its VIP . proto . port -> service chain map, as both nft shapes have."""
    w("table ip kube-proxy {\n")
    w("\tmap service-ips { type ipv4_addr . inet_proto . inet_service : verdict; elements = {\n")
    w(",\n".join("\t\t%s . tcp . 80 : goto service-%d" % (ip(VIP, s), s) for s in range(services)))
    w("\n\t} }\n")


def classic(out, services, e):
    w = out.write
    service_ips(w, services)
    w("\tchain mark-for-masquerade {\n\t\tmeta mark set meta mark | 0x4000\n\t}\n")
    w("\tchain nat-prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
      "\t\tip daddr . meta l4proto . th dport vmap @service-ips\n\t}\n")
    for s in range(services):
        eps = endpoints(s, e)
        w("\tchain service-%d {\n\t\tnumgen random mod %d vmap { %s }\n\t}\n"
          % (s, e, ", ".join("%d : goto endpoint-%d-%d" % (j, s, j) for j in range(e))))
        for j, a in enumerate(eps):
            w("\tchain endpoint-%d-%d {\n\t\tip saddr %s jump mark-for-masquerade\n"
              "\t\tmeta l4proto tcp dnat to %s:8080\n\t}\n" % (s, j, a, a))
    w("}\n")


def classic_change(out, e):
    a, c = MOVED, "endpoint-0-%d" % changed(e)
    out.write("flush chain ip kube-proxy %s\n"
              "add rule ip kube-proxy %s ip saddr %s jump mark-for-masquerade\n"
              "add rule ip kube-proxy %s meta l4proto tcp dnat to %s:8080\n" % (c, c, a, c, a))


def kp136(out, services, e):
    w = out.write
    service_ips(w, services)
    w("\tchain nat-prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
      "\t\tip daddr . meta l4proto . th dport vmap @service-ips\n\t}\n")
    for s in range(services):
        eps = endpoints(s, e)
        w("\tchain service-%d {\n\t\tmeta l4proto tcp dnat ip to numgen random mod %d map { %s }\n\t}\n"
          % (s, e, ", ".join("%d : %s . 8080" % (j, a) for j, a in enumerate(eps))))
    w("}\n")


def kp136_change(out, services, e):
    eps = endpoints(0, e)
    eps[changed(e)] = MOVED
    out.write("flush chain ip kube-proxy service-0\n"
              "add rule ip kube-proxy service-0 meta l4proto tcp dnat ip to numgen random mod %d map { %s }\n"
              % (e, ", ".join("%d : %s . 8080" % (j, a) for j, a in enumerate(eps))))


def iptables(out, services, e):
    w = out.write
    w("*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n:KUBE-MARK-MASQ - [0:0]\n")
    for s in range(services):
        w(":KUBE-SVC-%d - [0:0]\n" % s)
        for j in range(e):
            w(":KUBE-SEP-%d-%d - [0:0]\n" % (s, j))
    w("-A PREROUTING -j KUBE-SERVICES\n-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000\n")
    for s in range(services):
        w("-A KUBE-SERVICES -d %s/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-%d\n" % (ip(VIP, s), s))
        for j, a in enumerate(endpoints(s, e)):
            if j < e - 1:
                w("-A KUBE-SVC-%d -m statistic --mode random --probability %.11f -j KUBE-SEP-%d-%d\n"
                  % (s, 1.0 / (e - j), s, j))
            else:
                w("-A KUBE-SVC-%d -j KUBE-SEP-%d-%d\n" % (s, s, j))
            w("-A KUBE-SEP-%d-%d -s %s/32 -j KUBE-MARK-MASQ\n" % (s, j, a))
            w("-A KUBE-SEP-%d-%d -p tcp -m tcp -j DNAT --to-destination %s:8080\n" % (s, j, a))
    w("COMMIT\n")


def iptables_change(out, e):
    # iptables-restore --noflush, as kube-proxy's partial syncs do: rewrite one chain.
    a, c = MOVED, "KUBE-SEP-0-%d" % changed(e)
    out.write("*nat\n:%s - [0:0]\n-A %s -s %s/32 -j KUBE-MARK-MASQ\n"
              "-A %s -p tcp -m tcp -j DNAT --to-destination %s:8080\nCOMMIT\n" % (c, c, a, c, a))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, required=True)
    ap.add_argument("--endpoints", type=int, default=10)
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", nargs="*", default=["classic", "kp136", "iptables"],
                    help="shapes to write (the benchmark skips those it will not run)")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    writers = {
        "classic": [("classic.nft", lambda f: classic(f, a.services, a.endpoints)),
                    ("classic-change.nft", lambda f: classic_change(f, a.endpoints))],
        "kp136": [("kp136.nft", lambda f: kp136(f, a.services, a.endpoints)),
                  ("kp136-change.nft", lambda f: kp136_change(f, a.services, a.endpoints))],
        "iptables": [("iptables.rules", lambda f: iptables(f, a.services, a.endpoints)),
                     ("iptables-change.rules", lambda f: iptables_change(f, a.endpoints))],
    }
    for shape in a.only:
        for name, write in writers[shape]:
            with open(os.path.join(a.out, name), "w") as f:
                write(f)


if __name__ == "__main__":
    main()
