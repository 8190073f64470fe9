// IP addresses and CIDR prefixes as plain comparable values, IPv4 and IPv6 alike.
// Parsing is strict (what inet_pton accepts; no zone ids); formatting is canonical
// (RFC 5952 for IPv6), so equal addresses always print the same.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace svcnft {

enum class IpFamily : uint8_t { kV4, kV6 };

inline const char* familyName(IpFamily f) { return f == IpFamily::kV4 ? "IPv4" : "IPv6"; }

class IpAddress {
 public:
  IpAddress() = default;
  static std::optional<IpAddress> parse(std::string_view text);
  static IpAddress v4(uint32_t hostOrder);
  static IpAddress fromBytes(IpFamily family, const std::array<uint8_t, 16>& bytes);

  IpFamily family() const { return family_; }
  // Network byte order; IPv4 uses the first 4 bytes.
  const std::array<uint8_t, 16>& bytes() const { return bytes_; }
  int bitLength() const { return family_ == IpFamily::kV4 ? 32 : 128; }
  bool isLoopback() const;
  std::string str() const;

  auto operator<=>(const IpAddress&) const = default;

 private:
  IpFamily family_ = IpFamily::kV4;
  std::array<uint8_t, 16> bytes_{};
};

class Cidr {
 public:
  Cidr() = default;
  // "198.18.0.0/15", "2001:db8::/32"; a bare address is a host prefix. Host bits
  // must be zero unless allowHostBits (Kubernetes accepts "10.0.0.1/8" in some fields).
  static std::optional<Cidr> parse(std::string_view text, bool allowHostBits = false);
  static Cidr host(const IpAddress& a);

  IpFamily family() const { return base_.family(); }
  const IpAddress& base() const { return base_; }
  int prefixLength() const { return prefix_; }
  bool contains(const IpAddress& a) const;
  bool contains(const Cidr& other) const;
  std::string str() const;

  auto operator<=>(const Cidr&) const = default;

 private:
  IpAddress base_;
  int prefix_ = 0;
};

}  // namespace svcnft
