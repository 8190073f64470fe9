#!/usr/bin/env python3
"""Asks the segment who has ADDRESS, over and over, and writes down who answered.

Usage: neighbour_probe.py IFACE OUT ADDRESS...   (until killed; bounded by --seconds)
       neighbour_probe.py --check OUT            (prints what breaks "one node at a time")

Every 100 ms, for each ADDRESS (IPv4: an ARP request; IPv6: a neighbour
solicitation to its solicited-node group), then collects for 80 ms the answers
(ARP replies, solicited advertisements) and the announcements (gratuitous ARP,
unsolicited advertisements) for it seen on IFACE. Each round is a line of OUT:
"TIME ADDRESS ANSWERING ANNOUNCING", each a comma-separated list of MACs or "-".
Lines "TIME EVENT ..." (written by the test) are kept as they are.

Two nodes answered at once when one round has two answering MACs, or when a node
answers after another one announced the address in an earlier round (its
announcement says it holds the address now).
"""
import argparse
import ipaddress
import select
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003


def mac_of(iface):
    with open("/sys/class/net/%s/address" % iface) as f:
        return bytes.fromhex(f.read().strip().replace(":", ""))


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def arp_request(mac, src, target):
    eth = b"\xff" * 6 + mac + b"\x08\x06"
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + src.packed + b"\0" * 6 + target.packed
    return eth + arp


def solicitation(mac, src, target):
    group = ipaddress.IPv6Address(b"\xff\x02" + b"\0" * 9 + b"\x01\xff" + target.packed[13:])
    msg = struct.pack("!BBHI", 135, 0, 0, 0) + target.packed + struct.pack("!BB", 1, 1) + mac
    pseudo = src.packed + group.packed + struct.pack("!IxxxB", len(msg), 58)
    msg = msg[:2] + struct.pack("!H", checksum(pseudo + msg)) + msg[4:]
    ip6 = struct.pack("!IHBB", 0x60000000, len(msg), 58, 255) + src.packed + group.packed
    eth = b"\x33\x33" + group.packed[12:] + mac + b"\x86\xdd"
    return eth + ip6 + msg


def answer_of(frame):
    """(address, sender MAC, solicited) of an ARP reply or gratuitous ARP, or of a
    neighbour advertisement (solicited flag), else None."""
    if len(frame) < 14:
        return None
    kind = struct.unpack("!H", frame[12:14])[0]
    if kind == 0x0806 and len(frame) >= 42:
        op = struct.unpack("!H", frame[20:22])[0]
        spa = ipaddress.IPv4Address(frame[28:32])
        tpa = ipaddress.IPv4Address(frame[38:42])
        if op == 2 and spa != tpa:
            return spa, frame[22:28], True
        if spa == tpa:
            return spa, frame[22:28], False
    if kind == 0x86DD and len(frame) >= 14 + 40 + 24 and frame[20] == 58 and frame[54] == 136:
        target = ipaddress.IPv6Address(frame[62:78])
        return target, frame[6:12], bool(frame[58] & 0x40)
    return None


def check(path):
    """The rounds that break "one node at a time", as lines."""
    bad = []
    announced = {}  # address -> MAC of the latest announcement, from earlier rounds
    for line in open(path):
        f = line.split()
        if len(f) < 4 or f[1] == "EVENT":
            continue
        address, answering, announcing = f[1], f[2], f[3]
        macs = [] if answering == "-" else answering.split(",")
        if len(macs) > 1:
            bad.append("two answers in one round: " + line.strip())
        elif (macs and address in announced and macs[0] != announced[address]
              and macs[0] not in announcing.split(",")):  # a new holder: it announced too
            bad.append("%s answered after %s announced: %s" % (macs[0], announced[address], line.strip()))
        if announcing != "-":
            announced[address] = announcing.split(",")[-1]
    return bad


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        bad = check(sys.argv[2])
        print("\n".join(bad))
        return 1 if bad else 0
    ap = argparse.ArgumentParser()
    ap.add_argument("iface")
    ap.add_argument("out")
    ap.add_argument("addresses", nargs="+")
    ap.add_argument("--seconds", type=float, default=600)
    a = ap.parse_args()
    targets = [ipaddress.ip_address(x) for x in a.addresses]
    mac = mac_of(a.iface)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((a.iface, 0))
    v4 = v6 = None
    for line in open("/proc/net/if_inet6"):
        f = line.split()
        if f[5] == a.iface and not f[0].startswith("fe80"):
            v6 = ipaddress.IPv6Address(bytes.fromhex(f[0]))
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.connect((str(next((t for t in targets if t.version == 4), "198.18.0.1")), 9))
    v4 = ipaddress.IPv4Address(probe.getsockname()[0])
    end = time.time() + a.seconds
    with open(a.out, "a", buffering=1) as out:
        while time.time() < end:
            start = time.time()
            for t in targets:
                s.send(arp_request(mac, v4, t) if t.version == 4 else solicitation(mac, v6, t))
            seen = {t: set() for t in targets}
            told = {t: [] for t in targets}  # announcements, in order
            while time.time() < start + 0.08:
                r, _, _ = select.select([s], [], [], 0.01)
                if not r:
                    continue
                frame, where = s.recvfrom(2048)
                if where[2] == socket.PACKET_OUTGOING:
                    continue
                got = answer_of(frame)
                if got and got[0] in seen:
                    if got[2]:
                        seen[got[0]].add(got[1].hex(":"))
                    else:
                        told[got[0]].append(got[1].hex(":"))
            for t in targets:
                out.write("%.3f %s %s %s\n" % (start, t, ",".join(sorted(seen[t])) or "-",
                                                ",".join(told[t]) or "-"))
            time.sleep(max(0, start + 0.1 - time.time()))


if __name__ == "__main__":
    sys.exit(main())
