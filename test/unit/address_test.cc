#include "model/address.h"

#include <catch2/catch.hpp>

using svcnft::Cidr;
using svcnft::IpAddress;
using svcnft::IpFamily;

TEST_CASE("addresses parse strictly and print canonically", "[address]") {
  CHECK(IpAddress::parse("198.18.0.1")->str() == "198.18.0.1");
  CHECK(IpAddress::parse("2001:DB8:0:0::1")->str() == "2001:db8::1");
  CHECK(IpAddress::parse("2001:db8::1")->family() == IpFamily::kV6);
  CHECK_FALSE(IpAddress::parse("198.18.0.256"));
  CHECK_FALSE(IpAddress::parse("198.18.0"));
  CHECK_FALSE(IpAddress::parse("fe80::1%eth0"));
  CHECK_FALSE(IpAddress::parse(""));
  CHECK(IpAddress::parse("127.0.0.5")->isLoopback());
  CHECK(IpAddress::parse("::1")->isLoopback());
  CHECK_FALSE(IpAddress::parse("198.18.0.1")->isLoopback());
}

TEST_CASE("CIDRs check host bits and containment", "[address]") {
  auto c = Cidr::parse("198.18.0.0/15");
  REQUIRE(c);
  CHECK(c->contains(*IpAddress::parse("198.19.255.255")));
  CHECK_FALSE(c->contains(*IpAddress::parse("198.20.0.0")));
  CHECK_FALSE(c->contains(*IpAddress::parse("2001:db8::1")));
  CHECK_FALSE(Cidr::parse("198.18.0.1/15"));
  CHECK(Cidr::parse("198.18.0.1/15", true)->str() == "198.18.0.0/15");
  CHECK_FALSE(Cidr::parse("198.18.0.0/33"));
  CHECK_FALSE(Cidr::parse("198.18.0.0/x"));
  CHECK(Cidr::parse("2001:db8::/32")->contains(*Cidr::parse("2001:db8:1::/48")));
  CHECK(Cidr::parse("198.18.0.7")->prefixLength() == 32);
}
