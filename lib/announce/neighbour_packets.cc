#include "announce/neighbour_packets.h"

#include <algorithm>

namespace svcnft::announce {

namespace {

constexpr std::size_t kEthernet = 14, kArp = 28, kIpv6 = 40;
constexpr uint16_t kTypeArp = 0x0806, kTypeIpv6 = 0x86dd;
constexpr uint8_t kIcmpv6 = 58;
constexpr uint8_t kSolicitation = 135, kAdvertisement = 136;
constexpr uint8_t kOptionSourceMac = 1, kOptionTargetMac = 2;
constexpr uint8_t kFlagSolicited = 0x40, kFlagOverride = 0x20;
constexpr std::size_t kMinFrame = 60;  // Ethernet's minimum, without the FCS

uint16_t be16(std::span<const uint8_t> b, std::size_t at) {
  return static_cast<uint16_t>(b[at] << 8 | b[at + 1]);
}

void put16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

void putBytes(std::vector<uint8_t>& out, const uint8_t* p, std::size_t n) {
  out.insert(out.end(), p, p + n);
}

void putEthernet(std::vector<uint8_t>& out, const Mac& to, const Mac& from, uint16_t type) {
  putBytes(out, to.data(), to.size());
  putBytes(out, from.data(), from.size());
  put16(out, type);
}

IpAddress v4At(std::span<const uint8_t> b, std::size_t at) {
  std::array<uint8_t, 16> bytes{};
  std::copy_n(b.begin() + static_cast<std::ptrdiff_t>(at), 4, bytes.begin());
  return IpAddress::fromBytes(IpFamily::kV4, bytes);
}

IpAddress v6At(std::span<const uint8_t> b, std::size_t at) {
  std::array<uint8_t, 16> bytes{};
  std::copy_n(b.begin() + static_cast<std::ptrdiff_t>(at), 16, bytes.begin());
  return IpAddress::fromBytes(IpFamily::kV6, bytes);
}

Mac macAt(std::span<const uint8_t> b, std::size_t at) {
  Mac m{};
  std::copy_n(b.begin() + static_cast<std::ptrdiff_t>(at), 6, m.begin());
  return m;
}

bool allZero(const uint8_t* p, std::size_t n) {
  return std::all_of(p, p + n, [](uint8_t v) { return v == 0; });
}

// The ICMPv6 checksum: the ones' complement sum over the pseudo-header (source,
// destination, length, next header) and the message.
uint16_t icmpv6Checksum(const IpAddress& src, const IpAddress& dst,
                        std::span<const uint8_t> message) {
  uint32_t sum = 0;
  auto words = [&](const uint8_t* p, std::size_t n) {
    for (std::size_t i = 0; i + 1 < n; i += 2) sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
    if (n % 2) sum += static_cast<uint32_t>(p[n - 1] << 8);
  };
  words(src.bytes().data(), 16);
  words(dst.bytes().data(), 16);
  sum += static_cast<uint32_t>(message.size() >> 16);
  sum += static_cast<uint32_t>(message.size() & 0xffff);
  sum += kIcmpv6;
  words(message.data(), message.size());
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

std::optional<Question> parseArp(std::span<const uint8_t> f) {
  if (f.size() < kEthernet + kArp) return std::nullopt;
  const std::size_t a = kEthernet;
  if (be16(f, a) != 1 || be16(f, a + 2) != 0x0800 || f[a + 4] != 6 || f[a + 5] != 4 ||
      be16(f, a + 6) != 1) {
    return std::nullopt;  // not an Ethernet/IPv4 request
  }
  const uint8_t* senderIp = f.data() + a + 14;
  // An ARP probe (sender 0.0.0.0) checks that nobody has the address; a gratuitous
  // request (sender = target) announces the sender's own. Neither asks us.
  if (allZero(senderIp, 4) || std::equal(senderIp, senderIp + 4, f.data() + a + 24)) {
    return std::nullopt;
  }
  return Question{v4At(f, a + 24), v4At(f, a + 14), macAt(f, a + 8)};
}

std::optional<Question> parseSolicitation(std::span<const uint8_t> f) {
  if (f.size() < kEthernet + kIpv6 + 24) return std::nullopt;
  const std::size_t ip = kEthernet, icmp = kEthernet + kIpv6;
  if ((f[ip] >> 4) != 6 || f[ip + 6] != kIcmpv6 || f[ip + 7] != 255) return std::nullopt;
  const std::size_t length = be16(f, ip + 4);
  if (length < 24 || icmp + length > f.size()) return std::nullopt;
  const std::span<const uint8_t> message = f.subspan(icmp, length);
  if (message[0] != kSolicitation || message[1] != 0) return std::nullopt;
  const IpAddress src = v6At(f, ip + 8), dst = v6At(f, ip + 24);
  if (allZero(src.bytes().data(), 16) || src.bytes()[0] == 0xff) return std::nullopt;
  if (icmpv6Checksum(src, dst, message) != 0) return std::nullopt;
  const IpAddress target = v6At(message, 8);
  if (target.bytes()[0] == 0xff) return std::nullopt;  // never a multicast address
  Question q{target, src, macAt(f, 6)};
  for (std::size_t at = 24; at < message.size();) {
    if (at + 2 > message.size() || message[at + 1] == 0) return std::nullopt;
    const std::size_t size = std::size_t{message[at + 1]} * 8;
    if (at + size > message.size()) return std::nullopt;
    if (message[at] == kOptionSourceMac && size >= 8) q.askerMac = macAt(message, at + 2);
    at += size;
  }
  return q;
}

void padFrame(std::vector<uint8_t>& frame) {
  if (frame.size() < kMinFrame) frame.resize(kMinFrame, 0);
}

void putArp(std::vector<uint8_t>& out, uint16_t op, const Mac& senderMac, const IpAddress& senderIp,
            const Mac& targetMac, const IpAddress& targetIp) {
  put16(out, 1);
  put16(out, 0x0800);
  out.push_back(6);
  out.push_back(4);
  put16(out, op);
  putBytes(out, senderMac.data(), 6);
  putBytes(out, senderIp.bytes().data(), 4);
  putBytes(out, targetMac.data(), 6);
  putBytes(out, targetIp.bytes().data(), 4);
}

std::vector<uint8_t> advertisement(const IpAddress& target, const IpAddress& to, const Mac& toMac,
                                   const Mac& ours, uint8_t flags) {
  std::vector<uint8_t> message;
  message.push_back(kAdvertisement);
  message.push_back(0);
  put16(message, 0);  // checksum, below
  message.push_back(flags);
  message.insert(message.end(), 3, 0);
  putBytes(message, target.bytes().data(), 16);
  message.push_back(kOptionTargetMac);
  message.push_back(1);  // 8 bytes
  putBytes(message, ours.data(), 6);
  const uint16_t sum = icmpv6Checksum(target, to, message);
  message[2] = static_cast<uint8_t>(sum >> 8);
  message[3] = static_cast<uint8_t>(sum);

  std::vector<uint8_t> frame;
  putEthernet(frame, toMac, ours, kTypeIpv6);
  frame.push_back(0x60);
  frame.insert(frame.end(), 3, 0);
  put16(frame, static_cast<uint16_t>(message.size()));
  frame.push_back(kIcmpv6);
  frame.push_back(255);
  putBytes(frame, target.bytes().data(), 16);
  putBytes(frame, to.bytes().data(), 16);
  frame.insert(frame.end(), message.begin(), message.end());
  padFrame(frame);
  return frame;
}

}  // namespace

std::optional<Question> parseQuestion(std::span<const uint8_t> frame) {
  if (frame.size() < kEthernet) return std::nullopt;
  switch (be16(frame, 12)) {
    case kTypeArp:
      return parseArp(frame);
    case kTypeIpv6:
      return parseSolicitation(frame);
    default:
      return std::nullopt;
  }
}

std::vector<uint8_t> answerFrame(const Question& q, const Mac& ours) {
  if (q.target.family() == IpFamily::kV6) {
    return advertisement(q.target, q.asker, q.askerMac, ours, kFlagSolicited | kFlagOverride);
  }
  std::vector<uint8_t> frame;
  putEthernet(frame, q.askerMac, ours, kTypeArp);
  putArp(frame, 2, ours, q.target, q.askerMac, q.asker);
  padFrame(frame);
  return frame;
}

std::vector<uint8_t> announcementFrame(const IpAddress& address, const Mac& ours) {
  if (address.family() == IpFamily::kV6) {
    const IpAddress allNodes = *IpAddress::parse("ff02::1");
    return advertisement(address, allNodes, Mac{0x33, 0x33, 0, 0, 0, 1}, ours, kFlagOverride);
  }
  std::vector<uint8_t> frame;
  putEthernet(frame, Mac{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, ours, kTypeArp);
  putArp(frame, 1, ours, address, Mac{}, address);
  padFrame(frame);
  return frame;
}

IpAddress solicitedNodeGroup(const IpAddress& v6) {
  std::array<uint8_t, 16> group = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0xff};
  std::copy_n(v6.bytes().begin() + 13, 3, group.begin() + 13);
  return IpAddress::fromBytes(IpFamily::kV6, group);
}

}  // namespace svcnft::announce
