// The agent's per-Service table: after every step of random changes, what its
// plans did to a simulated kernel, and what it keeps, equal what the batch compile
// of the same inputs installs. Conflicts change nothing; costs do not grow with S.
#include "writer/live_table.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <random>

#include "compile/compiler.h"
#include "generated_inputs.h"
#include "manifest/loader.h"
#include "nft/records.h"
#include "nft/transaction.h"
#include "writer/ruleset_digest.h"
#include "writer/sync_plan.h"

using namespace svcnft;

namespace {

using Records = std::map<std::string, std::vector<diff::ElementRecord>>;

bool nodeLevel(const std::string& set) {
  for (const char* stem :
       {"cluster-cidrs-", "service-cidrs-", "nodeport-ips-", "nodeport-cidrs-"}) {
    if (set.rfind(stem, 0) == 0) return true;
  }
  return false;
}

// What the batch compile installs, without the node-level sets.
struct Expected {
  Records records;
  std::set<std::string> chains;
};

Expected expected(const Inputs& in) {
  Diagnostics d;
  const ir::Ruleset rs = compileRuleset(in, d);
  REQUIRE_FALSE(d.hasErrors());
  Expected out;
  for (auto& [name, recs] : writer::installedFrom(rs).elements) {
    if (nodeLevel(name) || recs.empty()) continue;
    std::sort(recs.begin(), recs.end());
    out.records[name] = recs;
  }
  for (const auto& c : rs.chains) {
    if (c.generated) out.chains.insert(c.name);
  }
  return out;
}

ServiceInput inputFor(const Inputs& in, const std::string& key) {
  ServiceInput out;
  out.key = key;
  for (const auto& s : in.services) {
    if (s.key() == key) {
      out.service = &s;
      break;
    }
  }
  for (const auto& sl : in.slices) {
    if (sl.serviceKey() == key) out.slices.push_back(&sl);
  }
  return out;
}

std::set<std::string> keysOf(const Inputs& in) {
  std::set<std::string> out;
  for (const auto& s : in.services) out.insert(s.key());
  return out;
}

// The kernel, as far as elements and generated chains go: applies plans the way
// nf_tables would, refusing what it would refuse.
struct Kernel {
  std::map<std::string, std::map<std::string, diff::ElementRecord>> sets;  // by key
  std::set<std::string> chains;

  void apply(const writer::LiveTable::Pending& p) {
    for (const auto& name : p.plan.chains.add) REQUIRE(chains.insert(name).second);
    for (const auto& d : p.plan.sets) {
      auto& set = sets[d.set];
      for (const auto& r : d.remove) {
        INFO("removing from " << d.set);
        REQUIRE(set.erase(r.key + "|" + r.keyEnd) == 1);
      }
      const ir::Set* decl = p.adds.findSet(d.set);
      REQUIRE(decl);
      const auto recs = nft::desiredRecords("svcnft", *decl);
      for (std::size_t i : d.add) {
        INFO("adding to " << d.set);
        REQUIRE(set.emplace(recs.at(i).key + "|" + recs.at(i).keyEnd, recs.at(i)).second);
      }
    }
    for (const auto& name : p.plan.chains.remove) REQUIRE(chains.erase(name) == 1);
  }

  Records records() const {
    Records out;
    for (const auto& [name, byKey] : sets) {
      if (byKey.empty()) continue;
      for (const auto& [k, r] : byKey) out[name].push_back(r);
      std::sort(out[name].begin(), out[name].end());
    }
    return out;
  }
};

// One sync of the Services in `keys`, checked against the batch compile.
void syncAndCheck(writer::LiveTable& live, Kernel& kernel, const Inputs& in,
                  const std::set<std::string>& keys) {
  std::vector<ServiceInput> changed;
  for (const auto& k : keys) changed.push_back(inputFor(in, k));
  Diagnostics d;
  auto p = live.prepare(changed, d);
  REQUIRE(p.conflict.empty());
  kernel.apply(p);
  live.commit(std::move(p));
  const Expected want = expected(in);
  CHECK(kernel.records() == want.records);
  CHECK(kernel.chains == want.chains);
  CHECK(live.records() == want.records);
  CHECK(live.chains() == want.chains);
  // The state record's digest from the live table is the compiled ruleset's.
  const ir::Ruleset compiled = compileRuleset(in, d);
  const ir::Ruleset nodeOnly = compileRuleset(Inputs{{}, {}, in.node}, d);
  const auto fromLive = writer::liveDigest(live, nodeOnly);
  const auto fromCompile = writer::rulesetDigest(compiled);
  REQUIRE(static_cast<bool>(fromLive));
  REQUIRE(static_cast<bool>(fromCompile));
  CHECK(*fromLive == *fromCompile);
}

Inputs loadExample(const std::string& dir) {
  Diagnostics d;
  Inputs in = manifest::loadInputs({dir + "/manifests.yaml"}, dir + "/node-config.yaml", d);
  REQUIRE_FALSE(d.hasErrors());
  return in;
}

}  // namespace

TEST_CASE("every example, Service by Service, in and out in random order", "[live]") {
  namespace fs = std::filesystem;
  std::mt19937 rng(7);
  for (const auto& entry : fs::directory_iterator(SVCNFT_SOURCE_DIR "/examples")) {
    const Inputs all = loadExample(entry.path().string());
    INFO("example " << entry.path().filename().string());
    const std::set<std::string> keys = keysOf(all);
    std::vector<std::string> order(keys.begin(), keys.end());
    std::shuffle(order.begin(), order.end(), rng);
    writer::LiveTable live(all.node);
    Kernel kernel;
    Inputs now;
    now.node = all.node;
    now.slices = all.slices;  // slices of Services not there yet are ignored
    for (const auto& key : order) {
      for (const auto& s : all.services) {
        if (s.key() == key) now.services.push_back(s);
      }
      syncAndCheck(live, kernel, now, {key});
    }
    std::shuffle(order.begin(), order.end(), rng);
    for (const auto& key : order) {
      std::erase_if(now.services, [&](const Service& s) { return s.key() == key; });
      syncAndCheck(live, kernel, now, {key});
    }
    CHECK(kernel.records().empty());
    CHECK(kernel.chains.empty());
    CHECK(live.serviceCount() == 0);
    CHECK(live.elementCount() == 0);
  }
}

TEST_CASE("random endpoint, weight, policy and type changes, one or several per sync", "[live]") {
  std::mt19937 rng(11);
  Inputs in = testing::generate(40, 4);
  writer::LiveTable live(in.node);
  Kernel kernel;
  syncAndCheck(live, kernel, in, keysOf(in));
  const std::vector<Service> original = in.services;
  for (int step = 0; step < 150; ++step) {
    std::set<std::string> touched;
    const int changes = 1 + static_cast<int>(rng() % 3);
    for (int c = 0; c < changes; ++c) {
      const std::size_t i = rng() % in.slices.size();
      EndpointSlice& slice = in.slices[i];
      touched.insert(slice.serviceKey());
      Service* svc = nullptr;
      for (auto& s : in.services) {
        if (s.key() == slice.serviceKey()) svc = &s;
      }
      const unsigned what = rng() % 9;
      switch (slice.endpoints.empty() && what < 4 ? 4 : what) {
        case 0:  // an endpoint moves to a fresh address (or one of another Service's)
          slice.endpoints.at(rng() % slice.endpoints.size()).address =
              testing::v4(0xC6130000u + static_cast<uint32_t>(rng() % 200));
          break;
        case 1:
          slice.endpoints.at(rng() % slice.endpoints.size()).weight = static_cast<int>(rng() % 4);
          break;
        case 2:
          slice.endpoints.at(rng() % slice.endpoints.size()).nodeName = rng() % 2 ? "n1" : "n2";
          break;
        case 3:
          slice.endpoints.at(rng() % slice.endpoints.size()).ready = rng() % 2;
          break;
        case 4:  // scale to zero, or back
          if (slice.endpoints.size() > 1) {
            slice.endpoints.resize(rng() % 2);
          } else {
            Endpoint e;
            e.address = testing::v4(0xC6130000u + 1000 + static_cast<uint32_t>(rng() % 50));
            e.nodeName = "n1";
            slice.endpoints.push_back(e);
            slice.endpoints.push_back(e);
            slice.endpoints.back().address = testing::v4(0xC6130000u + 2000 + step);
          }
          break;
        case 5:
          if (svc) svc->clientIPAffinity = !svc->clientIPAffinity;
          break;
        case 6:
          if (svc) {
            svc->externalTrafficPolicy = svc->externalTrafficPolicy == TrafficPolicy::kLocal
                                             ? TrafficPolicy::kCluster
                                             : TrafficPolicy::kLocal;
            svc->internalTrafficPolicy =
                rng() % 3 == 0 ? TrafficPolicy::kLocal : TrafficPolicy::kCluster;
          }
          break;
        case 7:  // the Service goes, or comes back as it was
          if (svc) {
            std::erase_if(in.services,
                          [&](const Service& s) { return s.key() == slice.serviceKey(); });
          } else {
            for (const auto& s : original) {
              if (s.key() == slice.serviceKey()) in.services.push_back(s);
            }
          }
          break;
        case 8:
          if (svc) svc->affinityTimeoutSeconds = rng() % 2 ? 60 : kDefaultAffinityTimeoutSeconds;
          break;
      }
    }
    INFO("step " << step);
    syncAndCheck(live, kernel, in, touched);
  }
}

TEST_CASE("a front claimed by two Services changes nothing", "[live]") {
  Inputs in = testing::generate(5, 2);
  writer::LiveTable live(in.node);
  Kernel kernel;
  syncAndCheck(live, kernel, in, keysOf(in));
  const auto before = live.records();
  in.services[1].clusterIPs = in.services[2].clusterIPs;
  Diagnostics d;
  auto p = live.prepare({inputFor(in, in.services[1].key())}, d);
  CHECK(p.conflict == "Services bench/svc-2 and bench/svc-1 claim the same front");
  CHECK(live.records() == before);
  // Both changed in one sync: still a conflict.
  p = live.prepare({inputFor(in, in.services[1].key()), inputFor(in, in.services[2].key())}, d);
  CHECK_FALSE(p.conflict.empty());
  // A front that moves from one Service to another in the same sync is no conflict.
  in.services[2].clusterIPs = {testing::v4(0xC6128000u + 77)};
  syncAndCheck(live, kernel, in, {in.services[1].key(), in.services[2].key()});
}

TEST_CASE("one endpoint change costs the same with 10 and with 10,000 Services", "[live]") {
  auto cost = [](int services) {
    Inputs in = testing::generate(services, 10);
    writer::LiveTable live(in.node);
    Diagnostics d;
    std::vector<ServiceInput> all;
    for (const auto& s : in.services) all.push_back(inputFor(in, s.key()));
    live.commit(live.prepare(all, d, {}, /*operations=*/false));
    in.slices.at(3).endpoints.at(2).address = *IpAddress::parse("198.18.250.3");
    auto p = live.prepare({inputFor(in, in.services.at(3).key())}, d);
    return std::make_pair(diff::operationCount(p.plan.sets),
                          nft::incremental(p.adds, p.plan).messageCount());
  };
  const auto small = cost(10), large = cost(10000);
  CHECK(small == large);
  CHECK(small.first > 0);
  CHECK(small.first <= 2 * (10 + 10 + 5) + 2);
}

TEST_CASE("affinity entries of an endpoint that left are found for the fronts it served",
          "[live]") {
  Inputs in = testing::generate(10, 3);  // Services 0 and 4 have affinity
  writer::LiveTable live(in.node);
  Kernel kernel;
  syncAndCheck(live, kernel, in, keysOf(in));
  const IpAddress gone = in.slices[4].endpoints[1].address;
  const IpAddress stays = in.slices[4].endpoints[0].address;
  in.slices[4].endpoints.erase(in.slices[4].endpoints.begin() + 1);
  Diagnostics d;
  auto p = live.prepare({inputFor(in, in.services[4].key())}, d);
  REQUIRE(p.affinityFronts.count(IpFamily::kV4));
  const auto& fronts = p.affinityFronts[IpFamily::kV4];
  REQUIRE(fronts.size() == 1);
  const std::string front = *fronts.begin();  // 198.18.128.4 . tcp . 80
  auto bytes = [](const IpAddress& a) {
    return std::string(a.bytes().begin(), a.bytes().begin() + 4);
  };
  const auto& endpoints = p.affinityEndpoints[IpFamily::kV4];
  CHECK(endpoints.at(front).count(bytes(stays)) == 1);
  CHECK(endpoints.at(front).count(bytes(gone)) == 0);
  // What the front balanced over before: what left is the difference.
  const auto& was = p.affinityEndpointsBefore[IpFamily::kV4];
  CHECK(was.at(front).count(bytes(gone)) == 1);
  const auto left = writer::leftEndpoints(was, endpoints);
  REQUIRE(left.size() == 1);
  CHECK(left.begin()->second == std::set<std::string>{bytes(gone)});
  const std::string client = bytes(*IpAddress::parse("198.18.9.9"));
  std::string otherFront = front;
  otherFront[3] = 99;  // another Service's ClusterIP
  std::vector<diff::ElementRecord> affinity = {
      {client + front, "", bytes(gone), "", 0},        // stale
      {client + front, "", bytes(stays), "", 0},       // live
      {client + otherFront, "", bytes(gone), "", 0}};  // not this sync's
  const auto stale = writer::staleAffinity(affinity, endpoints, &fronts, 4);
  REQUIRE(stale.size() == 1);
  CHECK(stale[0].value == bytes(gone));
}

TEST_CASE("IPv6 affinity entries (hashed keys) go when their endpoint left a front of their port",
          "[live]") {
  auto addr = [](const char* text) {
    const IpAddress a = *IpAddress::parse(text);
    return std::string(a.bytes().begin(), a.bytes().end());
  };
  const std::string tcp80("\x06\0\0\0\0\x50\0\0", 8), tcp443("\x06\0\0\0\x01\xbb\0\0", 8);
  const std::string frontA = addr("2001:db8:100::1") + tcp80;
  const std::string frontB = addr("2001:db8:100::2") + tcp80;
  const std::string frontC = addr("2001:db8:100::3") + tcp443;
  const std::string e1 = addr("2001:db8:1::1"), e2 = addr("2001:db8:1::2"),
                    e3 = addr("2001:db8:1::3");
  // A lost e1 (its pod went away); B still has e3; C (port 443) still has e1.
  const std::map<std::string, std::set<std::string>> before = {{frontA, {e1, e2}}};
  const std::map<std::string, std::set<std::string>> now = {{frontA, {e2}}};
  const auto left = writer::leftEndpoints(before, now);
  REQUIRE(left.size() == 1);
  CHECK(left.at(tcp80) == std::set<std::string>{e1});
  const std::string hash1("\x11\x22\x33\x44\x55\x66\x77\x88", 8);
  const std::string hash2("\x99\xaa\xbb\xcc\xdd\xee\xff\x00", 8);
  const std::vector<diff::ElementRecord> affinity = {
      {hash1 + tcp80, "", e1, "", 0},   // a client of A (or another port-80 front) on e1: goes
      {hash2 + tcp80, "", e2, "", 0},   // on e2, still A's: stays
      {hash1 + tcp443, "", e1, "", 0},  // port 443: C keeps e1, stays
      {hash2 + tcp80, "", e3, "", 0}};  // B's e3: not this sync's business, stays
  auto stale = writer::staleHashedAffinity(affinity, left, nullptr);
  REQUIRE(stale.size() == 1);
  CHECK(stale[0].value == e1);
  CHECK(stale[0].key == hash1 + tcp80);

  // A full sync also drops entries whose endpoint no front of their port lists.
  const std::map<std::string, std::set<std::string>> all = {
      {frontA, {e2}}, {frontB, {e2}}, {frontC, {e1}}};
  stale = writer::staleHashedAffinity(affinity, {}, &all);
  REQUIRE(stale.size() == 2);  // e1 on port 80, e3 on port 80
  CHECK(stale[0].value == e1);
  CHECK(stale[1].value == e3);
}
