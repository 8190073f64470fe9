// The diff: one changed endpoint costs a few element operations, the same for 10
// and for 10,000 Services (counted, not timed), and no change costs nothing.
#include <algorithm>
#include <catch2/catch.hpp>
#include <iterator>
#include <random>
#include <set>

#include "compile/compiler.h"
#include "generated_inputs.h"
#include "nft/records.h"
#include "nft/transaction.h"
#include "writer/sync_plan.h"

using namespace svcnft;

namespace {

struct Sync {
  std::size_t operations = 0;
  int messages = 0;
  bool replaceAll = false;
};

Sync syncAfter(Inputs before, const std::function<void(Inputs&)>& change) {
  Diagnostics d;
  const ir::Ruleset old = compileRuleset(before, d);
  change(before);
  const ir::Ruleset now = compileRuleset(before, d);
  REQUIRE_FALSE(d.hasErrors());
  const diff::Plan plan = writer::planSync(now, writer::installedFrom(old));
  Sync s;
  s.replaceAll = plan.replaceAll;
  s.operations = diff::operationCount(plan.sets);
  if (!plan.replaceAll && !plan.empty()) s.messages = nft::incremental(now, plan).messageCount();
  return s;
}

// Carries out a plan's element operations on the installed records, as the kernel
// would, failing on an operation the kernel would refuse (deleting what is absent,
// adding what is present). The result must be exactly the desired records.
std::map<std::string, std::vector<diff::ElementRecord>> replay(
    std::map<std::string, std::vector<diff::ElementRecord>> installed, const diff::Plan& plan,
    const ir::Ruleset& desired) {
  for (const auto& delta : plan.sets) {
    auto& records = installed[delta.set];
    if (delta.flush) records.clear();
    for (const auto& gone : delta.remove) {
      auto it = std::find(records.begin(), records.end(), gone);
      REQUIRE(it != records.end());
      records.erase(it);
    }
    const auto want = nft::desiredRecords(desired.table, *desired.findSet(delta.set));
    for (std::size_t i : delta.add) {
      REQUIRE(i < want.size());
      REQUIRE(std::find(records.begin(), records.end(), want[i]) == records.end());
      records.push_back(want[i]);
    }
  }
  return installed;
}

// The operations a change plans, proven by replaying them: every set ends up
// holding exactly its desired records (order aside), no more and no fewer.
void checkReplay(Inputs before, const std::function<void(Inputs&)>& change) {
  Diagnostics d;
  const ir::Ruleset old = compileRuleset(before, d);
  change(before);
  const ir::Ruleset now = compileRuleset(before, d);
  REQUIRE_FALSE(d.hasErrors());
  const writer::Installed installed = writer::installedFrom(old);
  const diff::Plan plan = writer::planSync(now, installed);
  REQUIRE_FALSE(plan.replaceAll);
  auto result = replay(installed.elements, plan, now);
  const writer::Installed desired = writer::installedFrom(now);
  for (const auto& [name, want] : desired.elements) {
    if (now.findSet(name)->dynamic) continue;  // filled by packets, not by us
    auto got = result[name];
    auto sortedWant = want;
    std::sort(got.begin(), got.end());
    std::sort(sortedWant.begin(), sortedWant.end());
    INFO("set " << name);
    CHECK(got == sortedWant);
  }
}

void moveOneEndpoint(Inputs& in) {
  in.slices.at(3).endpoints.at(2).address = *IpAddress::parse("198.18.250.3");
}

}  // namespace

TEST_CASE("no change, no operation", "[diff]") {
  const Sync s = syncAfter(testing::generate(100, 10), [](Inputs&) {});
  CHECK_FALSE(s.replaceAll);
  CHECK(s.operations == 0);
  CHECK(s.messages == 0);
}

TEST_CASE("one endpoint changed costs the same at 10 and at 10,000 Services", "[diff]") {
  const Sync small = syncAfter(testing::generate(10, 10), moveOneEndpoint);
  const Sync large = syncAfter(testing::generate(10000, 10), moveOneEndpoint);
  CHECK_FALSE(small.replaceAll);
  CHECK_FALSE(large.replaceAll);
  CHECK(small.operations == large.operations);
  CHECK(small.messages == large.messages);
  // Service 3 (NodePort, externalTrafficPolicy Local) has its endpoint in three
  // pools (ClusterIP front; NodePort cluster and local pools). Buckets follow address
  // order, so a new address can shift a pool's buckets: at most its 10 buckets, each
  // a delete and an add, never anything of another Service.
  CHECK(large.operations <= 2 * (10 + 10 + 5) + 2);
  CHECK(large.messages <= 12);
}

TEST_CASE("a new bucket count adds its chain, the last user leaving removes it", "[diff]") {
  Diagnostics d;
  Inputs in = testing::generate(10, 10);
  const ir::Ruleset old = compileRuleset(in, d);
  // Service 1 goes from 10 to 11 endpoints: no other Service has 11 buckets.
  Endpoint extra = in.slices.at(1).endpoints.at(0);
  extra.address = *IpAddress::parse("198.18.251.1");
  in.slices.at(1).endpoints.push_back(extra);
  const ir::Ruleset now = compileRuleset(in, d);
  const diff::Plan plan = writer::planSync(now, writer::installedFrom(old));
  CHECK(plan.chains.add == std::vector<std::string>{"lb-v4-11"});
  CHECK(plan.chains.remove.empty());
  const diff::Plan back = writer::planSync(old, writer::installedFrom(now));
  CHECK(back.chains.remove == std::vector<std::string>{"lb-v4-11"});
}

TEST_CASE("another node config swaps the whole table", "[diff]") {
  Diagnostics d;
  Inputs in = testing::generate(10, 10);
  const ir::Ruleset old = compileRuleset(in, d);
  in.node.masqueradeAll = true;
  const diff::Plan plan = writer::planSync(compileRuleset(in, d), writer::installedFrom(old));
  CHECK(plan.replaceAll);
  CHECK_THAT(plan.why, Catch::Matchers::Contains("rules of chain"));
}

TEST_CASE("a refill flushes and fills every static set, keeps live affinity entries", "[diff]") {
  Diagnostics d;
  Inputs in = testing::generate(10, 3);  // Services 0 and 4 have affinity
  const ir::Ruleset rs = compileRuleset(in, d);
  writer::Installed installed = writer::installedFrom(rs);
  // What a refill reads back: the dynamic sets' elements only.
  for (auto& [name, records] : installed.elements) records.clear();
  auto bytes = [](const char* a) {
    const auto b = IpAddress::parse(a)->bytes();
    return std::string(b.begin(), b.begin() + 4);
  };
  const std::string front = bytes("198.18.128.4") + std::string("\x06\0\0\0\0\x50\0\0", 8);
  installed.elements["affinity-v4"] = {
      {bytes("198.18.9.9") + front, "", bytes("198.19.0.12"), "", 0},   // svc-4's endpoint
      {bytes("198.18.9.8") + front, "", bytes("198.18.77.7"), "", 0}};  // no endpoint of it
  const diff::Plan plan = writer::planSync(rs, writer::installedFrom(rs), installed, true);
  CHECK(plan.refill);
  CHECK_FALSE(plan.replaceAll);
  std::size_t flushed = 0;
  for (const auto& delta : plan.sets) {
    if (delta.set == "affinity-v4") {
      CHECK_FALSE(delta.flush);
      REQUIRE(delta.remove.size() == 1);
      CHECK(delta.remove[0].value == bytes("198.18.77.7"));
      continue;
    }
    const ir::Set* s = rs.findSet(delta.set);
    REQUIRE(s);
    CHECK_FALSE(s->dynamic);
    CHECK(delta.flush);
    CHECK(delta.add.size() == s->elements.size());
    ++flushed;
  }
  std::size_t statics = 0;
  for (const auto& s : rs.sets) statics += !s.dynamic;
  CHECK(flushed == statics);
}

TEST_CASE("a plan's operations turn the installed elements into the desired ones", "[diff]") {
  const Inputs base = testing::generate(50, 10);
  SECTION("an endpoint moves") { checkReplay(base, moveOneEndpoint); }
  SECTION("a Service and its slices go") {
    checkReplay(base, [](Inputs& in) {
      const std::string key = in.services.at(7).key();
      in.services.erase(in.services.begin() + 7);
      in.slices.erase(std::remove_if(in.slices.begin(), in.slices.end(),
                                     [&](const EndpointSlice& s) { return s.serviceKey() == key; }),
                      in.slices.end());
    });
  }
  SECTION("half the endpoints of every slice leave") {
    checkReplay(base, [](Inputs& in) {
      for (auto& s : in.slices) s.endpoints.resize(s.endpoints.size() / 2);
    });
  }
  SECTION("every endpoint becomes another, weights change") {
    checkReplay(base, [](Inputs& in) {
      int k = 0;
      for (auto& s : in.slices) {
        for (auto& e : s.endpoints) {
          e.address = *IpAddress::parse("198.19." + std::to_string(k / 250) + "." +
                                        std::to_string(k % 250 + 1));
          e.weight = 1 + k % 3;
          ++k;
        }
      }
    });
  }
  SECTION("a Service is added") {
    checkReplay(testing::generate(49, 10), [&](Inputs& in) { in = base; });
  }
}

TEST_CASE("one changed element: exactly its delete and its add", "[diff]") {
  auto rec = [](const std::string& key, const std::string& value) {
    diff::ElementRecord r;
    r.key = key;
    r.value = value;
    return r;
  };
  const std::vector<diff::ElementRecord> have{rec("a", "1"), rec("b", "2"), rec("c", "3")};
  const std::vector<diff::ElementRecord> want{rec("a", "1"), rec("b", "9"), rec("c", "3"),
                                              rec("d", "4")};
  const diff::SetDelta d = diff::diffSet("s", have, want, false);
  CHECK(d.remove == std::vector<diff::ElementRecord>{rec("b", "2")});
  CHECK(d.add == std::vector<std::size_t>{1, 3});
  CHECK_FALSE(d.flush);
  const diff::SetDelta same = diff::diffSet("s", want, want, false);
  CHECK(same.remove.empty());
  CHECK(same.add.empty());
}

TEST_CASE("element diff equals the set difference, in order or not", "[diff]") {
  // Same order on both sides (a state record against a new compile) takes the path
  // that skips the common head and tail; shuffled (a kernel read-back) does not.
  auto rec = [](int i) {
    diff::ElementRecord r;
    r.key = "k" + std::to_string(i);
    r.value = "v" + std::to_string(i % 7);
    return r;
  };
  std::mt19937 rng(13);
  for (int round = 0; round < 300; ++round) {
    std::vector<diff::ElementRecord> have;
    const int n = static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) have.push_back(rec(i));
    std::vector<diff::ElementRecord> want = have;
    const int edits = static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      switch (rng() % 3) {
        case 0:  // a new element anywhere
          want.insert(want.begin() + static_cast<long>(rng() % (want.size() + 1)), rec(100 + e));
          break;
        case 1:  // one goes
          if (!want.empty()) want.erase(want.begin() + static_cast<long>(rng() % want.size()));
          break;
        default:  // one moves: the same element elsewhere is no change
          if (want.size() > 1) {
            auto moved = want[rng() % want.size()];
            std::erase(want, moved);
            want.insert(want.begin() + static_cast<long>(rng() % (want.size() + 1)), moved);
          }
      }
    }
    if (round % 2) std::shuffle(have.begin(), have.end(), rng);
    const diff::SetDelta d = diff::diffSet("s", have, want, false);
    const std::set<diff::ElementRecord> haveSet(have.begin(), have.end()),
        wantSet(want.begin(), want.end());
    std::set<diff::ElementRecord> removed(d.remove.begin(), d.remove.end()), added;
    for (std::size_t i : d.add) added.insert(want[i]);
    std::set<diff::ElementRecord> expectRemoved, expectAdded;
    std::set_difference(haveSet.begin(), haveSet.end(), wantSet.begin(), wantSet.end(),
                        std::inserter(expectRemoved, expectRemoved.end()));
    std::set_difference(wantSet.begin(), wantSet.end(), haveSet.begin(), haveSet.end(),
                        std::inserter(expectAdded, expectAdded.end()));
    INFO("round " << round);
    CHECK(removed == expectRemoved);
    CHECK(added == expectAdded);
    CHECK(d.remove.size() == removed.size());
    CHECK(d.add.size() == added.size());
  }
}
