// The state record: bytes and back, when it may be trusted, and the ruleset digest a
// record past its limit keeps.
#include "writer/state_record.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <functional>

#include "compile/compiler.h"
#include "generated_inputs.h"
#include "writer/ruleset_digest.h"
#include "writer/sync_plan.h"
#include "writer/writer.h"

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

TEST_CASE("state record: encoded before its generation is known, stamped after", "[state-record]") {
  writer::StateRecord r = sample();
  r.generation = 0;
  std::string bytes = writer::encodeState(r);
  REQUIRE(writer::restampState(bytes, 42));
  CHECK(bytes == writer::encodeState(sample()));
  const auto back = writer::decodeState(bytes);
  REQUIRE(back.has_value());
  CHECK(back->generation == 42);
  std::string torn = bytes.substr(0, 30);
  CHECK_FALSE(writer::restampState(torn, 7));
  std::string foreign = "table inet svcnft { }";
  CHECK_FALSE(writer::restampState(foreign, 7));
}

TEST_CASE("state record: written beside its place, then put in place or discarded",
          "[state-record]") {
  char dir[] = "/tmp/svcnft-state-test-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  const std::string path = std::string(dir) + "/records/1-svcnft.state";
  const std::string bytes = writer::encodeState(sample());
  REQUIRE(writer::writeStateBeside(path, bytes));
  CHECK_FALSE(writer::loadState(path).has_value());  // not in place yet
  REQUIRE(writer::putStateInPlace(path));
  const auto loaded = writer::loadState(path);
  REQUIRE(loaded.has_value());
  CHECK(*loaded == sample());
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
  REQUIRE(writer::writeStateBeside(path, "not a record"));
  writer::discardStateBeside(path);
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
  CHECK(writer::loadState(path).has_value());  // the record in place stays
  CHECK_FALSE(writer::putStateInPlace(path));  // nothing beside it now
  std::filesystem::remove_all(dir);
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

TEST_CASE("state record: a digest record, bytes and back, and never elements beside it",
          "[state-record]") {
  writer::StateRecord r;
  r.table = "svcnft";
  r.netns = 7;
  r.generation = 9;
  r.digest = std::string(32, '\x5a');
  const auto back = writer::decodeState(writer::encodeState(r));
  REQUIRE(back.has_value());
  CHECK(back->digestOnly());
  CHECK(*back == r);
  writer::StateRecord both = sample();
  both.digest = r.digest;
  CHECK_FALSE(writer::decodeState(writer::encodeState(both)).has_value());
}

TEST_CASE(
    "ruleset digest: the same inputs give the same digest, any change the kernel sees "
    "another, the packet path's own entries none",
    "[state-record]") {
  Diagnostics d;
  const Inputs inputs = testing::generate(30, 3);
  const ir::Ruleset rs = compileRuleset(inputs, d);
  REQUIRE_FALSE(d.hasErrors());
  const auto digest = writer::rulesetDigest(rs);
  REQUIRE(static_cast<bool>(digest));
  CHECK(digest->size() == 32);
  CHECK(writer::rulesetDigest(compileRuleset(inputs, d)).value() == *digest);

  auto digestAfter = [&](const std::function<void(ir::Ruleset&)>& change) {
    ir::Ruleset changed = rs;
    change(changed);
    return writer::rulesetDigest(changed).value();
  };
  auto set = [](ir::Ruleset& r, const std::string& name) -> ir::Set& {
    for (auto& s : r.sets) {
      if (s.name == name) return s;
    }
    FAIL("no set " + name);
    return r.sets.front();
  };
  // An endpoint moved (the element's data), a comment, an element gone, a rule gone,
  // a set declared otherwise: each is something the kernel would hold differently.
  Inputs moved = inputs;
  moved.slices[4].endpoints[1].address = testing::v4(0xC6131234u);
  CHECK(writer::rulesetDigest(compileRuleset(moved, d)).value() != *digest);
  CHECK(digestAfter([&](ir::Ruleset& r) {
          auto& c = set(r, "backends-v4").elements.front().comment;
          c = c.str() + "x";
        }) != *digest);
  CHECK(digestAfter([&](ir::Ruleset& r) { set(r, "backends-v4").elements.pop_back(); }) != *digest);
  CHECK(digestAfter([](ir::Ruleset& r) {
          for (auto& c : r.chains) {
            if (!c.rules.empty()) {
              c.rules.pop_back();
              return;
            }
          }
        }) != *digest);
  CHECK(digestAfter([&](ir::Ruleset& r) { set(r, "backends-v4").size += 1000; }) != *digest);
  // Session affinity entries come and go on the packet path: not in the digest.
  CHECK(digestAfter([&](ir::Ruleset& r) {
          ir::Set& affinity = set(r, "affinity-v4");
          REQUIRE(affinity.dynamic);
          affinity.elements.push_back(affinity.elements.empty() ? ir::Element{}
                                                                : affinity.elements.front());
        }) == *digest);
}

TEST_CASE("state record: written from the ruleset as records are made, the same bytes",
          "[state-record]") {
  Diagnostics d;
  auto in = testing::generate(150, 6);
  in.services[3].clientIPAffinity = true;  // a dynamic set, never recorded
  const ir::Ruleset rs = compileRuleset(in, d, ElementOrder::kAsCompiled);
  REQUIRE_FALSE(d.hasErrors());
  const auto streamed = writer::encodedRecordOf(rs, std::nullopt, 77, 9, 1'000'000);
  const auto held = writer::encodedRecordOf(rs, writer::installedFrom(rs), 77, 9, 1'000'000);
  REQUIRE(streamed);
  REQUIRE(held);
  CHECK(streamed.value() == held.value());
  const auto back = writer::decodeState(streamed.value());
  REQUIRE(back.has_value());
  CHECK(back->installed == writer::recordOf(rs, writer::installedFrom(rs), 77, 9).installed);
  CHECK(back->installed.elements.count("backends-v4") == 1);
  for (const auto& s : rs.sets) {
    if (s.dynamic) CHECK(back->installed.elements.count(s.name) == 0);
  }
}
