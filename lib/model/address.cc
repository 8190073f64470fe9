#include "model/address.h"

#include <arpa/inet.h>

#include <charconv>

namespace svcnft {

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.empty() || text.size() > INET6_ADDRSTRLEN) return std::nullopt;
  std::string s(text);
  IpAddress a;
  if (s.find(':') == std::string::npos) {
    a.family_ = IpFamily::kV4;
    if (inet_pton(AF_INET, s.c_str(), a.bytes_.data()) != 1) return std::nullopt;
  } else {
    a.family_ = IpFamily::kV6;
    if (inet_pton(AF_INET6, s.c_str(), a.bytes_.data()) != 1) return std::nullopt;
  }
  return a;
}

IpAddress IpAddress::v4(uint32_t hostOrder) {
  IpAddress a;
  a.family_ = IpFamily::kV4;
  for (int i = 0; i < 4; ++i) a.bytes_[i] = static_cast<uint8_t>(hostOrder >> (24 - 8 * i));
  return a;
}

IpAddress IpAddress::fromBytes(IpFamily family, const std::array<uint8_t, 16>& bytes) {
  IpAddress a;
  a.family_ = family;
  a.bytes_ = bytes;
  return a;
}

bool IpAddress::isLoopback() const {
  if (family_ == IpFamily::kV4) return bytes_[0] == 127;
  for (int i = 0; i < 15; ++i) {
    if (bytes_[i] != 0) return false;
  }
  return bytes_[15] == 1;
}

std::string IpAddress::str() const {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(family_ == IpFamily::kV4 ? AF_INET : AF_INET6, bytes_.data(), buf, sizeof buf);
  return buf;
}

namespace {

IpAddress masked(const IpAddress& a, int prefix) {
  auto bytes = a.bytes();
  for (int bit = prefix; bit < a.bitLength(); ++bit) {
    bytes[bit / 8] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
  }
  return IpAddress::fromBytes(a.family(), bytes);
}

}  // namespace

std::optional<Cidr> Cidr::parse(std::string_view text, bool allowHostBits) {
  auto slash = text.find('/');
  auto addr = IpAddress::parse(text.substr(0, slash));
  if (!addr) return std::nullopt;
  Cidr c;
  c.prefix_ = addr->bitLength();
  if (slash != std::string_view::npos) {
    auto digits = text.substr(slash + 1);
    int prefix = -1;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (ec != std::errc() || end != digits.data() + digits.size() || prefix < 0 ||
        prefix > addr->bitLength()) {
      return std::nullopt;
    }
    c.prefix_ = prefix;
  }
  c.base_ = masked(*addr, c.prefix_);
  if (!allowHostBits && c.base_ != *addr) return std::nullopt;
  return c;
}

Cidr Cidr::host(const IpAddress& a) {
  Cidr c;
  c.base_ = a;
  c.prefix_ = a.bitLength();
  return c;
}

bool Cidr::contains(const IpAddress& a) const {
  if (a.family() != family()) return false;
  return masked(a, prefix_) == base_;
}

bool Cidr::contains(const Cidr& other) const {
  return other.family() == family() && other.prefix_ >= prefix_ && contains(other.base_);
}

std::string Cidr::str() const { return base_.str() + "/" + std::to_string(prefix_); }

}  // namespace svcnft
