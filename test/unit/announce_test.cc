// LoadBalancer announcement, without sockets or an API server: the neighbour
// frames, the Lease election, the Lease JSON, and the announcer over a fake Lease
// store and a fake link.
#include <catch2/catch.hpp>
#include <map>

#include "announce/allocator.h"
#include "announce/announcer.h"
#include "announce/election.h"
#include "announce/handover_table.h"
#include "announce/lease_store.h"
#include "announce/neighbour_packets.h"
#include "announce/status_writer.h"
#include "announce/wanted.h"

using namespace svcnft;
using namespace svcnft::announce;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

const Mac kOurs{0x02, 0, 0, 0, 0, 0x01};
const Mac kTheirs{0x02, 0, 0, 0, 0, 0x99};

uint16_t be16(const std::vector<uint8_t>& b, std::size_t at) {
  return static_cast<uint16_t>(b[at] << 8 | b[at + 1]);
}

// An ARP request as a Linux host sends it.
std::vector<uint8_t> arpRequest(const IpAddress& sender, const IpAddress& target) {
  std::vector<uint8_t> f = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  f.insert(f.end(), kTheirs.begin(), kTheirs.end());
  f.insert(f.end(), {0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1});
  f.insert(f.end(), kTheirs.begin(), kTheirs.end());
  f.insert(f.end(), sender.bytes().begin(), sender.bytes().begin() + 4);
  f.insert(f.end(), 6, 0);
  f.insert(f.end(), target.bytes().begin(), target.bytes().begin() + 4);
  return f;
}

}  // namespace

TEST_CASE("an ARP request for an address is answered with our MAC", "[announce]") {
  auto q = parseQuestion(arpRequest(ip("198.18.0.100"), ip("198.18.0.200")));
  REQUIRE(q);
  CHECK(q->target == ip("198.18.0.200"));
  CHECK(q->asker == ip("198.18.0.100"));
  CHECK(q->askerMac == kTheirs);

  const auto reply = answerFrame(*q, kOurs);
  REQUIRE(reply.size() >= 42);
  CHECK(std::equal(kTheirs.begin(), kTheirs.end(), reply.begin()));  // to the asker
  CHECK(std::equal(kOurs.begin(), kOurs.end(), reply.begin() + 6));  // from us
  CHECK(be16(reply, 12) == 0x0806);
  CHECK(be16(reply, 20) == 2);                                        // a reply
  CHECK(std::equal(kOurs.begin(), kOurs.end(), reply.begin() + 22));  // sender MAC
  CHECK(std::vector<uint8_t>(reply.begin() + 28, reply.begin() + 32) ==
        std::vector<uint8_t>{198, 18, 0, 200});  // for the address
  CHECK(std::vector<uint8_t>(reply.begin() + 38, reply.begin() + 42) ==
        std::vector<uint8_t>{198, 18, 0, 100});
}

TEST_CASE("ARP probes, gratuitous ARP and replies are no questions", "[announce]") {
  CHECK_FALSE(parseQuestion(arpRequest(ip("0.0.0.0"), ip("198.18.0.200"))));
  CHECK_FALSE(parseQuestion(arpRequest(ip("198.18.0.200"), ip("198.18.0.200"))));
  auto reply = arpRequest(ip("198.18.0.100"), ip("198.18.0.200"));
  reply[21] = 2;
  CHECK_FALSE(parseQuestion(reply));
  auto shortFrame = arpRequest(ip("198.18.0.100"), ip("198.18.0.200"));
  shortFrame.resize(40);
  CHECK_FALSE(parseQuestion(shortFrame));
  CHECK_FALSE(parseQuestion(std::vector<uint8_t>(10, 0)));
}

TEST_CASE("a neighbour solicitation is answered with a solicited advertisement", "[announce]") {
  // Our own advertisement machinery builds a valid ICMPv6 message; a solicitation
  // is the same layout with type 135 and a source-MAC option, so build one from an
  // announcement and check the parser's checksum and option handling through it.
  const IpAddress target = ip("2001:db8::200"), asker = ip("2001:db8::100");
  Question q{target, asker, kTheirs};
  auto advert = answerFrame(q, kOurs);
  REQUIRE(advert.size() >= 14 + 40 + 32);
  CHECK(be16(advert, 12) == 0x86dd);
  CHECK(advert[20] == 58);
  CHECK(advert[21] == 255);            // hop limit
  CHECK(advert[54] == 136);            // an advertisement
  CHECK((advert[58] & 0x60) == 0x60);  // solicited, override
  CHECK(std::equal(kTheirs.begin(), kTheirs.end(), advert.begin()));
  // Advertisements are not questions.
  CHECK_FALSE(parseQuestion(advert));

  // Turn it into a solicitation from the asker: type 135, source-MAC option, and the
  // addresses swapped; the checksum must then be right for the parser to take it.
  std::vector<uint8_t> ns(advert.begin(), advert.begin() + 14 + 40 + 32);
  std::copy(kTheirs.begin(), kTheirs.end(), ns.begin() + 6);
  std::copy(asker.bytes().begin(), asker.bytes().end(), ns.begin() + 22);
  const IpAddress group = solicitedNodeGroup(target);
  std::copy(group.bytes().begin(), group.bytes().end(), ns.begin() + 38);
  ns[54] = 135;
  ns[58] = 0;
  ns[86 - 8] = 1;  // option: source link-layer address
  std::copy(kTheirs.begin(), kTheirs.end(), ns.begin() + 80);
  CHECK_FALSE(parseQuestion(ns));  // the checksum is still the advertisement's
  // Recompute: ones' complement over pseudo-header and message.
  ns[56] = ns[57] = 0;
  uint32_t sum = 0;
  auto add = [&](std::size_t from, std::size_t n) {
    for (std::size_t i = 0; i < n; i += 2)
      sum += static_cast<uint32_t>(ns[from + i] << 8 | ns[from + i + 1]);
  };
  add(22, 32);
  sum += 32 + 58;
  add(54, 32);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  ns[56] = static_cast<uint8_t>(~sum >> 8);
  ns[57] = static_cast<uint8_t>(~sum);
  auto parsed = parseQuestion(ns);
  REQUIRE(parsed);
  CHECK(parsed->target == target);
  CHECK(parsed->asker == asker);
  CHECK(parsed->askerMac == kTheirs);

  SECTION("hop limit other than 255 is not neighbour discovery") {
    ns[21] = 64;
    CHECK_FALSE(parseQuestion(ns));
  }
  SECTION("an option of length zero is malformed") {
    ns[79] = 0;
    CHECK_FALSE(parseQuestion(ns));
  }
  SECTION("duplicate address detection (from ::) is not answered") {
    std::fill(ns.begin() + 22, ns.begin() + 38, 0);
    CHECK_FALSE(parseQuestion(ns));
  }
}

TEST_CASE("announcements: gratuitous ARP, unsolicited advertisement to all nodes", "[announce]") {
  auto garp = announcementFrame(ip("198.18.0.200"), kOurs);
  CHECK(std::all_of(garp.begin(), garp.begin() + 6, [](uint8_t b) { return b == 0xff; }));
  CHECK(be16(garp, 20) == 1);
  CHECK(std::vector<uint8_t>(garp.begin() + 28, garp.begin() + 32) ==
        std::vector<uint8_t>(garp.begin() + 38, garp.begin() + 42));  // sender = target
  CHECK(garp.size() == 60);

  auto na = announcementFrame(ip("2001:db8::200"), kOurs);
  CHECK(std::vector<uint8_t>(na.begin(), na.begin() + 6) ==
        std::vector<uint8_t>{0x33, 0x33, 0, 0, 0, 1});
  CHECK(na[54] == 136);
  CHECK((na[58] & 0x60) == 0x20);  // override, not solicited
  CHECK(solicitedNodeGroup(ip("2001:db8::12:3456")) == ip("ff02::1:ff12:3456"));
}

TEST_CASE("Lease names are object names for both families", "[announce]") {
  CHECK(leaseName(ip("198.18.0.200")) == "svcnft-lb-198-18-0-200");
  CHECK(leaseName(ip("2001:db8::200")) == "svcnft-lb-2001-db8--200");
  CHECK(leaseName(ip("2001:db8::")) == "svcnft-lb-2001-db8--0");
}

TEST_CASE("Lease JSON round trip, and refusals that name the field", "[announce]") {
  LeaseRecord r{"node1", 15, "2026-12-05T10:00:00.000001Z", "2026-12-05T10:00:02.500000Z", 3, "42"};
  auto back = parseLease(leaseJson("kube-system", "svcnft-lb-x", r));
  REQUIRE(back);
  CHECK(back->sameAs(r));
  CHECK(back->resourceVersion == "42");
  CHECK(leaseJson("ns", "n", LeaseRecord{"a\"b", 1, "", "", 0, ""}).find("\"a\\\"b\"") !=
        std::string::npos);

  auto bad = parseLease(R"({"metadata":{"resourceVersion":"1"},"spec":{"holderIdentity":7}})");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("spec.holderIdentity") != std::string::npos);
  CHECK_FALSE(parseLease(R"({"metadata":{},"spec":{}})"));
  CHECK_FALSE(parseLease("{"));
  auto empty = parseLease(R"({"metadata":{"resourceVersion":"5"},"spec":{"holderIdentity":null}})");
  REQUIRE(empty);
  CHECK(empty->holder.empty());
  CHECK(microTime(1764928800.25) == "2025-12-05T10:00:00.250000Z");
}

TEST_CASE("election: acquire a free Lease, renew it, lose it past the deadline", "[announce]") {
  const ElectionTimes times{seconds(15), seconds(10), seconds(2)};
  Election e("node1", times);
  const auto t0 = std::chrono::steady_clock::time_point{} + seconds(1000);

  auto w = e.afterRead(std::nullopt, true, t0, "T0");
  REQUIRE(w);
  CHECK(w->create);
  CHECK(w->record.holder == "node1");
  CHECK(w->record.durationSeconds == 15);
  CHECK_FALSE(e.leading(t0));
  LeaseRecord stored = w->record;
  stored.resourceVersion = "1";
  e.afterWrite(stored, t0);
  CHECK(e.leading(t0));
  CHECK(e.leading(t0 + milliseconds(9999)));
  CHECK_FALSE(e.leading(t0 + seconds(10)));  // no renewal within the deadline: silent
  CHECK(e.nextAttempt(t0) == t0 + seconds(2));

  // The renewal keeps acquireTime and transitions and carries the resourceVersion.
  auto renew = e.afterRead(stored, true, t0 + seconds(2), "T2");
  REQUIRE(renew);
  CHECK_FALSE(renew->create);
  CHECK(renew->record.acquireTime == "T0");
  CHECK(renew->record.renewTime == "T2");
  CHECK(renew->record.resourceVersion == "1");
  CHECK(renew->record.transitions == 0);

  // Released: silent at once, and the record frees the Lease for 1 s.
  auto released = e.release("T3");
  REQUIRE(released);
  CHECK(released->holder.empty());
  CHECK(released->durationSeconds == 1);
  CHECK_FALSE(e.leading(t0 + seconds(3)));
}

TEST_CASE("election: another holder's Lease is taken only after its duration unchanged",
          "[announce]") {
  const ElectionTimes times{seconds(15), seconds(10), seconds(2)};
  Election e("node2", times);
  const auto t0 = std::chrono::steady_clock::time_point{} + seconds(1000);
  LeaseRecord theirs{"node1", 15, "A", "R1", 4, "7"};

  CHECK_FALSE(e.afterRead(theirs, true, t0, "x"));
  // The next try is when it would run out, not a retry period later than that.
  CHECK(e.nextAttempt(t0 + seconds(14)) == t0 + seconds(15));
  CHECK(e.nextAttempt(t0) == t0 + seconds(2));
  // Renewed by its holder at t0+10: the clock starts again from when we saw it.
  LeaseRecord renewed = theirs;
  renewed.renewTime = "R2";
  renewed.resourceVersion = "8";
  CHECK_FALSE(e.afterRead(renewed, true, t0 + seconds(10), "x"));
  CHECK_FALSE(e.afterRead(renewed, true, t0 + seconds(24), "x"));
  auto take = e.afterRead(renewed, true, t0 + seconds(25), "T25");
  REQUIRE(take);
  CHECK(take->record.holder == "node2");
  CHECK(take->record.transitions == 5);
  CHECK(take->record.acquireTime == "T25");

  // An empty holder (released) is free at once.
  Election f("node3", times);
  CHECK(f.afterRead(LeaseRecord{"", 1, "A", "R", 5, "9"}, true, t0, "T"));
  // A node that may not hold it never takes it.
  Election g("node4", times);
  CHECK_FALSE(g.afterRead(LeaseRecord{"", 1, "A", "R", 5, "9"}, false, t0, "T"));
  CHECK_FALSE(g.afterRead(std::nullopt, false, t0, "T"));
}

TEST_CASE("the renew deadline ends before any other node can take over", "[announce]") {
  // The holder's last renewal is sent at t; another node sees it no earlier than t.
  const ElectionTimes times{seconds(15), seconds(10), seconds(2)};
  Election holder("node1", times), other("node2", times);
  const auto t = std::chrono::steady_clock::time_point{} + seconds(1000);
  auto w = holder.afterRead(std::nullopt, true, t, "T");
  LeaseRecord stored = w->record;
  stored.resourceVersion = "1";
  holder.afterWrite(stored, t);
  CHECK_FALSE(other.afterRead(stored, true, t, "x"));
  for (int ms = 0; ms <= 20000; ms += 100) {
    const auto now = t + milliseconds(ms);
    const bool otherMay = other.afterRead(stored, true, now, "x").has_value();
    CHECK_FALSE((holder.leading(now) && otherMay));
  }
}

namespace {

// Leases in memory with the API server's optimistic concurrency.
class FakeLeases : public LeaseStore {
 public:
  std::map<std::string, LeaseRecord> leases;
  bool down = false;
  int version = 0;
  Result<std::optional<LeaseRecord>> get(const std::string& name) override {
    if (down) return Error{"connection refused"};
    auto it = leases.find(name);
    if (it == leases.end()) return std::optional<LeaseRecord>();
    return std::optional<LeaseRecord>(it->second);
  }
  Result<LeaseRecord> create(const std::string& name, const LeaseRecord& r) override {
    if (down) return Error{"connection refused"};
    if (leases.count(name)) return Error{"HTTP 409"};
    return store(name, r);
  }
  Result<LeaseRecord> update(const std::string& name, const LeaseRecord& r) override {
    if (down) return Error{"connection refused"};
    auto it = leases.find(name);
    if (it == leases.end() || it->second.resourceVersion != r.resourceVersion) {
      return Error{"HTTP 409"};
    }
    return store(name, r);
  }

 private:
  Result<LeaseRecord> store(const std::string& name, LeaseRecord r) {
    r.resourceVersion = std::to_string(++version);
    leases[name] = r;
    return r;
  }
};

class FakeSpeaker : public Speaker {
 public:
  std::map<IpAddress, TimePoint> answering;
  bool up = true;
  std::vector<IpAddress> own;
  void answerFor(const std::map<IpAddress, TimePoint>& a) override { answering = a; }
  bool linkUp() const override { return up; }
  std::vector<IpAddress> ownAddresses() const override { return own; }
};

class FakeHandover : public Handover {
 public:
  std::map<IpAddress, IpAddress> handedOn;
  void handOn(const std::map<IpAddress, IpAddress>& h) override { handedOn = h; }
};

class CountingObserver : public AnnounceObserver {
 public:
  std::map<IpAddress, std::string> announced;
  int takeovers = 0, failures = 0;
  void announcing(const std::map<IpAddress, std::string>& a) override { announced = a; }
  void takeover() override { ++takeovers; }
  void leaseRenewFailed() override { ++failures; }
};

struct Node {
  FakeSpeaker speaker;
  FakeHandover handover;
  CountingObserver observer;
  std::unique_ptr<Announcer> announcer;
  Node(const std::string& name, FakeLeases& leases, TimePoint& now) {
    announcer = std::make_unique<Announcer>(
        name, ElectionTimes{seconds(3), seconds(2), milliseconds(500)}, leases, speaker, handover,
        observer, [](const std::string&) {},
        Announcer::Clocks{[&now] { return now; }, [] { return 1764928800.0; }});
  }
  bool answers(const IpAddress& a) const { return speaker.answering.count(a) > 0; }
};

}  // namespace

TEST_CASE(
    "announcer: one node answers, a dead one is replaced after the lease, a clean stop "
    "hands over at once",
    "[announce]") {
  FakeLeases leases;
  TimePoint now = std::chrono::steady_clock::time_point{} + seconds(1000);
  Node n1("node1", leases, now), n2("node2", leases, now);
  const IpAddress vip = ip("198.18.0.200");
  n1.announcer->want({{vip, "default/web", true}});
  n2.announcer->want({{vip, "default/web", true}});
  n1.announcer->step();
  n2.announcer->step();
  CHECK(n1.answers(vip));
  CHECK_FALSE(n2.answers(vip));
  CHECK(n1.observer.takeovers == 1);
  CHECK(n1.observer.announced.at(vip) == "default/web");
  CHECK(leases.leases.at("svcnft-lb-198-18-0-200").holder == "node1");

  // Both go on for a while: never two at once.
  for (int i = 0; i < 20; ++i) {
    now += milliseconds(250);
    n1.announcer->step();
    n2.announcer->step();
    CHECK(n1.answers(vip) != n2.answers(vip));
  }

  // node1 dies (no more steps): node2 takes over after the lease duration.
  const TimePoint died = now;
  while (!n2.answers(vip) && now < died + seconds(10)) {
    now += milliseconds(100);
    n2.announcer->step();
  }
  CHECK(n2.answers(vip));
  CHECK(now - died >= seconds(3) - milliseconds(500));
  CHECK(now - died <= seconds(3) + milliseconds(600));
  // What node1's speaker was last told runs out before that.
  CHECK(n1.speaker.answering.at(vip) <= died + seconds(2));

  // Taken over from a dead holder: nothing is handed on to it.
  CHECK(n2.handover.handedOn.empty());

  // node2 stops cleanly: node1 (back) takes over at its next try, and hands on to
  // node2 the connections begun through it (its address of the same family).
  n2.speaker.own = {ip("198.18.0.2"), ip("2001:db8::2")};
  n1.announcer->step();
  n2.announcer->releaseAll();
  CHECK(n2.speaker.answering.empty());
  CHECK(leases.leases.at("svcnft-lb-198-18-0-200").holder.empty());
  CHECK(leases.leases.at("svcnft-lb-198-18-0-200").releasedFrom == "198.18.0.2,2001:db8::2");
  now += milliseconds(500);
  n1.announcer->step();
  CHECK(n1.answers(vip));
  CHECK(n1.handover.handedOn == std::map<IpAddress, IpAddress>{{vip, ip("198.18.0.2")}});
  // Renewals keep it; the Lease no longer says released.
  now += milliseconds(500);
  n1.announcer->step();
  CHECK(n1.handover.handedOn.size() == 1);
  CHECK(leases.leases.at("svcnft-lb-198-18-0-200").releasedFrom.empty());
}

TEST_CASE("the handover tables: one per family, a map and one rule, before DNAT", "[announce]") {
  const std::map<IpAddress, IpAddress> holders{{ip("198.18.0.200"), ip("198.18.0.2")},
                                               {ip("2001:db8::200"), ip("2001:db8::2")}};
  const ir::Ruleset v4 = handoverRuleset(IpFamily::kV4, holders);
  CHECK(v4.family == "ip");
  CHECK(v4.table == "svcnft-handover");
  REQUIRE(v4.chains.size() == 1);
  CHECK(v4.chains[0].base->priority == "-160");
  REQUIRE(v4.chains[0].rules.size() == 1);
  CHECK(v4.chains[0].rules[0].text ==
        "ct state new tcp flags ack / syn,ack ip daddr @handover-v4 dup to ip daddr map "
        "@handover-v4 drop");
  CHECK(v4.elementCount() == 1);
  const ir::Ruleset v6 = handoverRuleset(IpFamily::kV6, holders);
  CHECK(v6.family == "ip6");
  CHECK(v6.findSet("handover-v6")->elements.size() == 1);
  CHECK(handoverRuleset(IpFamily::kV4, {}).elementCount() == 0);
}

TEST_CASE("announcer: a holder cut off from the API server goes silent at its renew deadline",
          "[announce]") {
  FakeLeases leases;
  TimePoint now = std::chrono::steady_clock::time_point{} + seconds(1000);
  Node n1("node1", leases, now);
  const IpAddress vip = ip("2001:db8::200");
  n1.announcer->want({{vip, "default/web6", true}});
  n1.announcer->step();
  REQUIRE(n1.answers(vip));
  leases.down = true;
  const TimePoint cut = now;
  while (n1.answers(vip) && now < cut + seconds(10)) {
    now += milliseconds(100);
    n1.announcer->step();
  }
  CHECK_FALSE(n1.answers(vip));
  CHECK(now - cut <= seconds(2));
  CHECK(n1.observer.failures > 0);
  leases.down = false;
  now += milliseconds(500);
  n1.announcer->step();
  CHECK(n1.answers(vip));  // still its own Lease: renewed
}

TEST_CASE("announcer: link down or no local endpoint gives the address up", "[announce]") {
  FakeLeases leases;
  TimePoint now = std::chrono::steady_clock::time_point{} + seconds(1000);
  Node n1("node1", leases, now), n2("node2", leases, now);
  const IpAddress vip = ip("198.18.0.201");
  n1.announcer->want({{vip, "default/local", true}});
  n2.announcer->want({{vip, "default/local", true}});
  n1.announcer->step();
  n2.announcer->step();
  REQUIRE(n1.answers(vip));

  n1.speaker.up = false;
  n1.announcer->step();
  CHECK_FALSE(n1.answers(vip));
  CHECK(leases.leases.at("svcnft-lb-198-18-0-201").holder.empty());
  now += milliseconds(500);
  n2.announcer->step();
  CHECK(n2.answers(vip));

  // node2 loses its last local endpoint (Local policy): it releases too.
  n2.announcer->want({{vip, "default/local", false}});
  n2.announcer->step();
  CHECK_FALSE(n2.answers(vip));
  n1.speaker.up = true;
  now += milliseconds(500);
  n1.announcer->step();
  CHECK(n1.answers(vip));

  // The Service goes: released, and nothing is kept of it.
  n1.announcer->want({});
  n1.announcer->step();
  CHECK_FALSE(n1.answers(vip));
  CHECK(leases.leases.at("svcnft-lb-198-18-0-201").holder.empty());
}

TEST_CASE("what a node would announce for a Service", "[announce]") {
  Service svc;
  svc.ns = "default";
  svc.name = "web";
  svc.type = ServiceType::kLoadBalancer;
  svc.loadBalancerIPs = {ip("198.18.0.200"), ip("2001:db8::200")};
  EndpointSlice slice;
  Endpoint here;
  here.address = ip("198.18.1.10");
  here.nodeName = "node1";
  slice.endpoints = {here};
  ServiceInput in{"default/web", &svc, {&slice}};

  auto all = announcementsOf(in, "node2", "svcnft.io/layer2");
  REQUIRE(all.size() == 2);
  CHECK(all[0].candidate);

  svc.externalTrafficPolicy = TrafficPolicy::kLocal;
  CHECK_FALSE(announcementsOf(in, "node2", "svcnft.io/layer2")[0].candidate);
  CHECK(announcementsOf(in, "node1", "svcnft.io/layer2")[0].candidate);
  slice.endpoints[0].ready = false;
  CHECK_FALSE(announcementsOf(in, "node1", "svcnft.io/layer2")[0].candidate);

  svc.loadBalancerClass = "example.com/other";
  CHECK(announcementsOf(in, "node1", "svcnft.io/layer2").empty());
  svc.loadBalancerClass = "svcnft.io/layer2";
  CHECK(announcementsOf(in, "node1", "svcnft.io/layer2").size() == 2);
  svc.type = ServiceType::kNodePort;
  CHECK(announcementsOf(in, "node1", "svcnft.io/layer2").empty());
}

TEST_CASE("pool addresses: the lowest free per family, Services in key order", "[announce]") {
  const std::vector<Cidr> pools = {*Cidr::parse("198.18.0.220/30"),
                                   *Cidr::parse("2001:db8::220/127")};
  std::set<IpAddress> used = {ip("198.18.0.220"), ip("198.18.0.200")};
  const auto chosen = allocate({{"default/b", {IpFamily::kV4}},
                                {"default/a", {IpFamily::kV4, IpFamily::kV6}},
                                {"default/c", {IpFamily::kV6}},
                                {"default/d", {IpFamily::kV6}}},
                               pools, used);
  CHECK(chosen.addresses.at("default/a") ==
        std::vector<IpAddress>{ip("198.18.0.221"), ip("2001:db8::220")});
  CHECK(chosen.addresses.at("default/b") == std::vector<IpAddress>{ip("198.18.0.222")});
  CHECK(chosen.addresses.at("default/c") == std::vector<IpAddress>{ip("2001:db8::221")});
  CHECK_FALSE(chosen.addresses.count("default/d"));  // the /127 is used up
  CHECK(chosen.exhausted == std::vector<std::string>{"default/d"});
  CHECK(
      ingressPatch({ip("198.18.0.221"), ip("2001:db8::220")}) ==
      R"({"status":{"loadBalancer":{"ingress":[{"ip":"198.18.0.221"},{"ip":"2001:db8::220"}]}}})");
}

namespace {

class FakeStatus : public StatusWriter {
 public:
  std::map<std::string, std::vector<IpAddress>> written;
  Result<bool> writeIngress(const std::string& key, const std::vector<IpAddress>& a) override {
    written[key] = a;
    return true;
  }
};

}  // namespace

TEST_CASE("announcer: only the elected allocator writes pool addresses, each once", "[announce]") {
  FakeLeases leases;
  TimePoint now = std::chrono::steady_clock::time_point{} + seconds(1000);
  FakeSpeaker speaker1, speaker2;
  FakeHandover handover;
  CountingObserver observer;
  FakeStatus status1, status2;
  const std::vector<Cidr> pools = {*Cidr::parse("198.18.0.220/30")};
  auto make = [&](const char* name, FakeSpeaker& sp, FakeStatus& st) {
    return std::make_unique<Announcer>(
        name, ElectionTimes{seconds(3), seconds(2), milliseconds(500)}, leases, sp, handover,
        observer, [](const std::string&) {},
        Announcer::Clocks{[&now] { return now; }, [] { return 1764928800.0; }}, &st, pools);
  };
  auto n1 = make("node1", speaker1, status1);
  auto n2 = make("node2", speaker2, status2);
  const std::vector<AddressRequest> asks = {{"default/web", {IpFamily::kV4}}};
  n1->want({}, asks, {ip("198.18.0.220")});
  n2->want({}, asks, {ip("198.18.0.220")});
  n1->step();
  n2->step();
  CHECK(status1.written.at("default/web") == std::vector<IpAddress>{ip("198.18.0.221")});
  CHECK(status2.written.empty());  // node1 holds the allocator Lease
  CHECK(leases.leases.at(kAllocatorLease).holder == "node1");
  // Until the Service shows its address, it is not written again, nor given away.
  status1.written.clear();
  now += milliseconds(500);
  n1->want({}, {{"default/web", {IpFamily::kV4}}, {"default/two", {IpFamily::kV4}}},
           {ip("198.18.0.220")});
  n1->step();
  CHECK_FALSE(status1.written.count("default/web"));
  CHECK(status1.written.at("default/two") == std::vector<IpAddress>{ip("198.18.0.222")});
}

TEST_CASE("a Service asks for pool addresses only with the announcer's class", "[announce]") {
  Service svc;
  svc.ns = "default";
  svc.name = "web";
  svc.type = ServiceType::kLoadBalancer;
  svc.clusterIPs = {ip("198.18.128.10"), ip("2001:db8:ffff::10")};
  ServiceInput in{"default/web", &svc, {}};
  CHECK_FALSE(addressRequestOf(in, "svcnft.io/layer2"));  // no class: someone else's
  svc.loadBalancerClass = "svcnft.io/layer2";
  auto req = addressRequestOf(in, "svcnft.io/layer2");
  REQUIRE(req);
  CHECK(req->families == std::vector<IpFamily>{IpFamily::kV4, IpFamily::kV6});
  svc.ipFamilies = {IpFamily::kV6};
  CHECK(addressRequestOf(in, "svcnft.io/layer2")->families == std::vector<IpFamily>{IpFamily::kV6});
  svc.loadBalancerIPs = {ip("198.18.0.221")};
  CHECK_FALSE(addressRequestOf(in, "svcnft.io/layer2"));  // has one
}
