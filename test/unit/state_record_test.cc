// The state record: bytes and back, and when it may be trusted.
#include "writer/state_record.h"

#include <catch2/catch.hpp>

using namespace svcnft;

namespace {

writer::StateRecord sample() {
  writer::StateRecord r;
  r.table = "svcnft";
  r.netns = 0x1234567890abcdefULL;
  r.generation = 42;
  r.installed.sets = {{"backends-v4", "sig-a"}, {"service-ips-v4", "sig-b"}};
  r.installed.chains = {{"services", "chain-sig"}};
  r.installed.rules = {{"services", {"rule-1", "rule-2"}}};
  r.installed.elements["backends-v4"] = {
      {std::string("\xc6\x12\x64\x0b\0\0\0\x06", 8), "", "\xc6\x12\x01\x0b", "default/web:http", 0},
      {"k2", "end", "verdict -4 svc-cluster-v4", "", 1}};
  r.installed.elements["service-ips-v4"] = {};
  return r;
}

}  // namespace

TEST_CASE("state record: bytes and back", "[state-record]") {
  const writer::StateRecord r = sample();
  const std::string bytes = writer::encodeState(r);
  const auto back = writer::decodeState(bytes);
  REQUIRE(back.has_value());
  CHECK(*back == r);
}

TEST_CASE("state record: a torn, altered or foreign file is no record", "[state-record]") {
  const std::string bytes = writer::encodeState(sample());
  for (std::size_t cut : {std::size_t{0}, std::size_t{5}, bytes.size() / 2, bytes.size() - 1}) {
    INFO(cut);
    CHECK_FALSE(writer::decodeState(bytes.substr(0, cut)).has_value());
  }
  for (std::size_t at : {std::size_t{20}, bytes.size() / 2, bytes.size() - 1}) {
    std::string altered = bytes;
    altered[at] = static_cast<char>(altered[at] ^ 0x01);
    INFO(at);
    CHECK_FALSE(writer::decodeState(altered).has_value());
  }
  CHECK_FALSE(writer::decodeState("table inet svcnft { }").has_value());
  CHECK_FALSE(writer::decodeState(bytes + "x").has_value());
}

TEST_CASE("state record: trusted only in its namespace, at its generation", "[state-record]") {
  const writer::StateRecord r = sample();
  CHECK(writer::stateTrusted(r, "svcnft", r.netns, 42));
  CHECK_FALSE(writer::stateTrusted(r, "svcnft", r.netns, 43));      // anyone committed since
  CHECK_FALSE(writer::stateTrusted(r, "svcnft", r.netns + 1, 42));  // another namespace
  CHECK_FALSE(writer::stateTrusted(r, "other", r.netns, 42));
  CHECK_FALSE(writer::stateTrusted(r, "svcnft", 0, 42));  // the namespace unknown
  CHECK(writer::currentNetns() != 0);                     // kernels since 5.14 tell it
}
