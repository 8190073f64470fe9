// The agent's loop without root: a fake kernel (transport, event monitor,
// conntrack), a fake clock and in-memory sources. Checks: nothing is sent before
// every source is ready; the first sync installs the whole table; changes inside
// the min-sync-interval are coalesced into one partial transaction; an invalid
// input keeps the last good rules (nothing sent); a Service defined by two
// sources is a conflict that holds the rules; a refused transaction makes the next
// sync go the full way; UDP conntrack of an endpoint that left is deleted, flows to
// live endpoints are spared, after partial syncs and after the full sync at start;
// the Node's addresses change the node config.
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "agent/agent.h"
#include "manifest/loader.h"

using namespace svcnft;
using namespace std::chrono_literals;

namespace {

// The kernel as far as the agent can tell: no table is ever listed (every full
// sync installs the whole table), the ruleset generation moves by one per
// committed transaction, and every transaction is kept for inspection.
class FakeTransport : public netlink::Transport {
 public:
  struct Sent {
    bool wholeTable = false;  // carries NEWTABLE
    int elementMessages = 0;  // NEWSETELEM / DELSETELEM
  };
  std::vector<Sent> sent;
  int refuseNext = 0;  // refuse this many transactions (EINVAL on the first message)

  Result<netlink::TransactionResult> transact(const std::vector<uint8_t>& batch, int) override {
    Sent s;
    uint32_t firstSeq = 0;
    bool committed = false;
    int len = static_cast<int>(batch.size());
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(batch.data()); mnl_nlmsg_ok(nlh, len);
         nlh = mnl_nlmsg_next(nlh, &len)) {
      const int type = nlh->nlmsg_type & 0xff;
      if (nlh->nlmsg_type == NFNL_MSG_BATCH_END) committed = true;
      if ((nlh->nlmsg_type >> 8) != NFNL_SUBSYS_NFTABLES) continue;  // batch begin/end
      if (!firstSeq) firstSeq = nlh->nlmsg_seq;
      if (type == NFT_MSG_NEWTABLE) s.wholeTable = true;
      if (type == NFT_MSG_NEWSETELEM || type == NFT_MSG_DELSETELEM) ++s.elementMessages;
    }
    netlink::TransactionResult r;
    if (!committed) {
      // A check-only batch (the feature probe): a 6.3+ kernel finds no such table.
      r.errors.push_back({firstSeq, ENOENT});
      return r;
    }
    if (refuseNext > 0) {
      --refuseNext;
      r.errors.push_back({firstSeq, EINVAL});
      return r;
    }
    sent.push_back(s);
    return r;
  }
  Result<int> dump(const std::vector<uint8_t>& request,
                   const std::function<void(const nlmsghdr*)>& onMessage) override {
    const auto* req = reinterpret_cast<const nlmsghdr*>(request.data());
    if ((req->nlmsg_type & 0xff) != NFT_MSG_GETGEN) return 0;
    // NFT_MSG_NEWGEN with NFTA_GEN_ID, as the kernel answers GETGEN.
    alignas(nlmsghdr) char buf[8192];
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN;
    auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
    nfg->nfgen_family = AF_UNSPEC;
    nfg->version = NFNETLINK_V0;
    mnl_attr_put_u32(nlh, NFTA_GEN_ID, htonl(static_cast<uint32_t>(sent.size())));
    onMessage(nlh);
    return 1;
  }
  uint32_t portId() const override { return 4242; }
};

class QuietMonitor : public netlink::EventMonitor {
 public:
  uint64_t lost = 0;
  uint64_t overruns() const override { return lost; }
  int fd() const override { return -1; }
  bool changedBySomeoneElse(const std::string&, uint32_t) override { return false; }
  bool changedBySomeoneElseAfterOwn(const std::string&, uint32_t) override { return false; }
  Result<bool> pause() override { return true; }
  Result<bool> resume() override { return true; }
};

class FakeConntrack : public netlink::ConntrackCleaner {
 public:
  std::vector<netlink::UdpFlow> flows;  // what the table holds
  std::vector<netlink::UdpFlow> deleted;
  int failNext = 0;  // fail this many cleanups (as a netlink error would)
  int calls = 0;
  Result<int> deleteUdpFlows(const std::function<bool(const netlink::UdpFlow&)>& stale) override {
    ++calls;
    if (failNext > 0) {
      --failNext;
      return Error{"conntrack: ENOBUFS (injected)"};
    }
    int n = 0;
    std::erase_if(flows, [&](const netlink::UdpFlow& f) {
      if (!stale(f)) return false;
      deleted.push_back(f);
      ++n;
      return true;
    });
    return n;
  }
};

class FakeClock : public agent::Clock {
 public:
  TimePoint t = TimePoint(std::chrono::hours(1));
  TimePoint now() const override { return t; }
  double unixNow() const override {
    return 1.8e9 + std::chrono::duration<double>(t.time_since_epoch()).count();
  }
};

class RecordingNotifier : public agent::Notifier {
 public:
  std::vector<std::string> messages;
  void ready(const std::string& s) override { messages.push_back("READY " + s); }
  void status(const std::string& s) override { messages.push_back(s); }
  void watchdog() override {}
  std::chrono::microseconds watchdogInterval() const override { return 0us; }
};

// A source whose parts the test sets; each set() makes fd() readable.
class MemorySource : public source::Source {
 public:
  explicit MemorySource(std::string name) : name_(std::move(name)) {
    fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  }
  ~MemorySource() override { close(fd_); }
  bool isReady = true;
  std::optional<NodeFacts> facts;

  void set(const std::string& part, const std::string& yaml) {
    Manifests m;
    Diagnostics d;
    manifest::parseManifestText(yaml, part, m, d);
    manifest::validate(m, NodeConfig{}, d);  // as the real sources do, part by part
    REQUIRE_FALSE(d.hasErrors());
    pending_.emplace_back(part, std::move(m));
    const uint64_t one = 1;
    REQUIRE(write(fd_, &one, sizeof one) == sizeof one);
  }
  std::string name() const override { return name_; }
  int fd() const override { return fd_; }
  bool consumeEvents() override {
    uint64_t n = 0;
    return read(fd_, &n, sizeof n) == sizeof n;
  }
  bool ready() const override { return isReady; }
  std::set<std::string> refresh(source::Inventory& inventory, Diagnostics&) override {
    std::set<std::string> changed;
    for (auto& [part, m] : pending_) changed.merge(inventory.replace(part, std::move(m)));
    pending_.clear();
    return changed;
  }
  std::optional<NodeFacts> node() const override { return facts; }

 private:
  std::string name_;
  int fd_;
  std::vector<std::pair<std::string, Manifests>> pending_;
};

std::string service(const std::string& name, const std::string& proto = "TCP",
                    const std::string& extra = "") {
  return "apiVersion: v1\nkind: Service\nmetadata: {name: " + name +
         ", namespace: default}\nspec: {clusterIP: 198.18.100." + std::to_string(10 + name.size()) +
         ", ports: [{name: p, port: 53, protocol: " + proto + "}]" + extra + "}\n---\n";
}
std::string slice(const std::string& svc, const std::vector<std::string>& addrs,
                  const std::string& proto = "TCP") {
  std::string s = "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: " + svc +
                  "-1, namespace: default, labels: {kubernetes.io/service-name: " + svc +
                  "}}\naddressType: IPv4\nports: [{name: p, port: 53, protocol: " + proto +
                  "}]\nendpoints:\n";
  for (const auto& a : addrs) s += "- {addresses: [" + a + "]}\n";
  return s;
}

struct Rig {
  FakeTransport kernel;
  QuietMonitor monitor;
  FakeConntrack conntrack;
  FakeClock clock;
  RecordingNotifier notifier;
  agent::Metrics metrics;
  MemorySource files{"files"}, api{"kubernetes"};
  std::unique_ptr<agent::Agent> agent;

  enum class Use { kFiles, kApi, kBoth };
  explicit Rig(Use use = Use::kFiles, bool apiReady = true) {
    api.isReady = apiReady;
    agent::Options options;
    options.minSyncInterval = 100ms;
    std::vector<source::Source*> sources;
    if (use != Use::kApi) sources.push_back(&files);
    if (use != Use::kFiles) sources.push_back(&api);
    agent = std::make_unique<agent::Agent>(options, NodeConfig{}, sources,
                                           agent::Kernel{kernel, monitor, conntrack}, notifier,
                                           metrics, clock);
  }
  // One round of the loop, then the clock moves on by `step`.
  void round(std::chrono::milliseconds step = 0ms) {
    agent->runOnce(0ms);
    clock.t += step;
  }
};

}  // namespace

TEST_CASE("agent: nothing is sent before every source is ready", "[agent]") {
  Rig both(Rig::Use::kBoth, /*apiReady=*/false);
  both.files.set("a.yaml", service("web") + slice("web", {"198.18.1.11"}));
  for (int i = 0; i < 5; ++i) both.round(50ms);
  CHECK(both.kernel.sent.empty());
  CHECK_FALSE(both.agent->health().synced);
  CHECK_FALSE(both.agent->health().sources[1].ready);
  both.api.isReady = true;
  both.round();
  REQUIRE(both.kernel.sent.size() == 1);
  CHECK(both.kernel.sent[0].wholeTable);
  CHECK(both.agent->health().synced);
  CHECK_THAT(both.notifier.messages.at(0), Catch::StartsWith("READY synced 1 services"));
}

TEST_CASE("agent: changes within the interval are coalesced into one partial sync", "[agent]") {
  Rig rig;
  rig.files.set("a.yaml", service("web") + slice("web", {"198.18.1.11"}));
  rig.round(200ms);
  REQUIRE(rig.kernel.sent.size() == 1);
  // After a quiet spell a change goes at once, as a partial sync...
  rig.files.set("a.yaml", service("web") + slice("web", {"198.18.1.12"}));
  rig.round(10ms);
  REQUIRE(rig.kernel.sent.size() == 2);
  CHECK_FALSE(rig.kernel.sent[1].wholeTable);
  CHECK(rig.kernel.sent[1].elementMessages > 0);
  // ... and the next ones within min-sync-interval (100 ms) wait and go as one.
  rig.files.set("a.yaml", service("web") + slice("web", {"198.18.1.13"}));
  rig.round(10ms);
  rig.files.set("a.yaml", service("web") + slice("web", {"198.18.1.11", "198.18.1.13"}));
  rig.round(10ms);
  CHECK(rig.kernel.sent.size() == 2);
  rig.clock.t += 100ms;
  rig.round();
  REQUIRE(rig.kernel.sent.size() == 3);
  CHECK_FALSE(rig.kernel.sent[2].wholeTable);
  // The same contents again: no transaction.
  rig.files.set("a.yaml", service("web") + slice("web", {"198.18.1.11", "198.18.1.13"}));
  rig.round(200ms);
  rig.round();
  CHECK(rig.kernel.sent.size() == 3);
}

TEST_CASE("agent: a conflict between sources holds the last good rules", "[agent]") {
  Rig two(Rig::Use::kBoth);
  two.files.set("a.yaml", service("web") + slice("web", {"198.18.1.11"}));
  two.api.set("/api/v1/namespaces/default/services/other", service("other"));
  two.round(200ms);
  REQUIRE(two.kernel.sent.size() == 1);
  // The API now defines default/web too: reported, nothing sent.
  two.api.set("/api/v1/namespaces/default/services/web", service("web"));
  two.round(200ms);
  two.round(200ms);
  CHECK(two.kernel.sent.size() == 1);
  CHECK(two.metrics.text().find("svcnft_input_errors_total 1") != std::string::npos);
  // Resolved: the rules follow again.
  two.api.set("/api/v1/namespaces/default/services/web", "");
  two.files.set("a.yaml", service("web") + slice("web", {"198.18.1.12"}));
  two.round(200ms);
  two.round();
  CHECK(two.kernel.sent.size() == 2);
}

TEST_CASE("agent: a refused transaction sends the next sync the full way", "[agent]") {
  Rig rig;
  rig.files.set("a.yaml", service("web") + slice("web", {"198.18.1.11"}));
  rig.round(200ms);
  REQUIRE(rig.kernel.sent.size() == 1);
  rig.kernel.refuseNext = 1;
  rig.files.set("a.yaml", service("web") + slice("web", {"198.18.1.12"}));
  rig.round(200ms);
  CHECK(rig.kernel.sent.size() == 1);  // refused
  CHECK(rig.metrics.text().find("nftables_sync_failures_total 1") != std::string::npos);
  rig.round();  // the retry trusts nothing kept and goes the full way
  REQUIRE(rig.kernel.sent.size() == 2);
  CHECK(rig.kernel.sent[1].wholeTable);
}

TEST_CASE("agent: UDP flows of an endpoint that left are deleted, live ones spared", "[agent]") {
  Rig rig;
  rig.files.set("dns.yaml",
                service("dns", "UDP") + slice("dns", {"198.18.1.11", "198.18.2.11"}, "UDP"));
  rig.round(200ms);
  REQUIRE(rig.kernel.sent.size() == 1);
  const IpAddress vip = *IpAddress::parse("198.18.100.13");
  rig.conntrack.flows = {{vip, 53, *IpAddress::parse("198.18.1.11"), true},
                         {vip, 53, *IpAddress::parse("198.18.2.11"), true}};
  rig.files.set("dns.yaml", service("dns", "UDP") + slice("dns", {"198.18.2.11"}, "UDP"));
  rig.round(200ms);
  rig.round();
  REQUIRE(rig.kernel.sent.size() == 2);
  REQUIRE(rig.conntrack.deleted.size() == 1);
  CHECK(rig.conntrack.deleted[0].replySource.str() == "198.18.1.11");
  CHECK(rig.conntrack.flows.size() == 1);
}

TEST_CASE("agent: the Node's addresses become NodePort addresses, the full way", "[agent]") {
  Rig api(Rig::Use::kApi);
  api.api.facts = NodeFacts{{*IpAddress::parse("198.18.0.1")}, {}, "z1"};
  api.api.set("/api/v1/namespaces/default/services/web", service("web"));
  api.round(200ms);
  REQUIRE(api.kernel.sent.size() == 1);
  api.api.facts->addresses = {*IpAddress::parse("198.18.0.9")};
  api.api.set("/api/v1/namespaces/default/services/web",
              service("web") + slice("web", {"198.18.1.11"}));
  api.round(200ms);
  api.round();
  REQUIRE(api.kernel.sent.size() == 2);
  CHECK(api.kernel.sent[1].wholeTable);  // no table to read back here: the full way installs
}

TEST_CASE("agent: the first (full) sync deletes UDP flows no endpoint answers any more", "[agent]") {
  // Flows left from before the agent started (its last run, another proxy) to an
  // endpoint that is gone meanwhile: the full sync at start must clean them too.
  Rig rig;
  const IpAddress vip = *IpAddress::parse("198.18.100.13");
  rig.conntrack.flows = {{vip, 53, *IpAddress::parse("198.18.1.99"), true},
                         {vip, 53, *IpAddress::parse("198.18.2.11"), true}};
  rig.files.set("dns.yaml", service("dns", "UDP") + slice("dns", {"198.18.2.11"}, "UDP"));
  rig.round(200ms);
  REQUIRE(rig.kernel.sent.size() == 1);
  CHECK(rig.kernel.sent[0].wholeTable);
  REQUIRE(rig.conntrack.deleted.size() == 1);
  CHECK(rig.conntrack.deleted[0].replySource.str() == "198.18.1.99");
  REQUIRE(rig.conntrack.flows.size() == 1);
  CHECK(rig.conntrack.flows[0].replySource.str() == "198.18.2.11");
}

TEST_CASE("agent: refused syncs back off, doubling, and a success resets the pace", "[agent]") {
  Rig rig;
  rig.files.set("a.yaml", service("web") + slice("web", {"198.18.1.11"}));
  rig.round(200ms);
  REQUIRE(rig.kernel.sent.size() == 1);
  rig.kernel.refuseNext = 4;
  rig.files.set("a.yaml", service("web") + slice("web", {"198.18.1.12"}));
  // Attempts, 1 ms apart: min-sync-interval 100 ms, then 100, 200, 400, 800 ms after
  // each refusal.
  std::vector<int> attemptsAt;
  int attempts = 0;
  for (int ms = 0; ms < 2000; ++ms) {
    const int before = rig.kernel.refuseNext + static_cast<int>(rig.kernel.sent.size());
    rig.round(1ms);
    if (rig.kernel.refuseNext + static_cast<int>(rig.kernel.sent.size()) != before ||
        rig.kernel.sent.size() == 2) {
      attemptsAt.push_back(ms);
      if (++attempts == 5) break;
    }
  }
  REQUIRE(attemptsAt.size() == 5);
  CHECK(rig.kernel.sent.size() == 2);  // the fifth attempt committed
  // The gaps between the attempts after the first refusal double.
  CHECK(attemptsAt[1] - attemptsAt[0] == 100);
  CHECK(attemptsAt[2] - attemptsAt[1] == 200);
  CHECK(attemptsAt[3] - attemptsAt[2] == 400);
  CHECK(attemptsAt[4] - attemptsAt[3] == 800);
  CHECK(rig.metrics.text().find("nftables_sync_failures_total 4") != std::string::npos);
  // After a success, the next change goes at the usual pace again.
  rig.round(200ms);
  rig.files.set("a.yaml", service("web") + slice("web", {"198.18.1.13"}));
  rig.round();
  CHECK(rig.kernel.sent.size() == 3);
}

TEST_CASE("agent: a failed UDP conntrack cleanup is tried again and counted", "[agent]") {
  Rig rig;
  rig.files.set("dns.yaml",
                service("dns", "UDP") + slice("dns", {"198.18.1.11", "198.18.2.11"}, "UDP"));
  rig.round(200ms);
  const IpAddress vip = *IpAddress::parse("198.18.100.13");
  rig.conntrack.flows = {{vip, 53, *IpAddress::parse("198.18.1.11"), true},
                         {vip, 53, *IpAddress::parse("198.18.2.11"), true}};
  REQUIRE(rig.conntrack.calls == 1);  // the full sync at start looks for stale flows too
  rig.conntrack.failNext = 2;
  rig.files.set("dns.yaml", service("dns", "UDP") + slice("dns", {"198.18.2.11"}, "UDP"));
  rig.round(1ms);  // the sync; its cleanup fails
  CHECK(rig.conntrack.calls == 2);
  CHECK(rig.conntrack.deleted.empty());
  for (int i = 0; i < 400 && rig.conntrack.deleted.empty(); ++i) rig.round(1ms);
  CHECK(rig.conntrack.calls == 4);  // failed, failed again 100 ms later, done 200 ms after
  REQUIRE(rig.conntrack.deleted.size() == 1);
  CHECK(rig.conntrack.deleted[0].replySource.str() == "198.18.1.11");
  CHECK(rig.metrics.text().find("svcnft_conntrack_cleanup_failures_total 2") != std::string::npos);
  for (int i = 0; i < 100; ++i) rig.round(10ms);
  CHECK(rig.conntrack.calls == 4);  // nothing left to retry
}

TEST_CASE("agent: a retried cleanup uses the endpoints the front has by then", "[agent]") {
  Rig rig;
  rig.files.set("dns.yaml",
                service("dns", "UDP") + slice("dns", {"198.18.1.11", "198.18.2.11"}, "UDP"));
  rig.round(200ms);
  const IpAddress vip = *IpAddress::parse("198.18.100.13");
  rig.conntrack.flows = {{vip, 53, *IpAddress::parse("198.18.1.11"), true},
                         {vip, 53, *IpAddress::parse("198.18.2.11"), true}};
  rig.conntrack.failNext = 1;
  rig.files.set("dns.yaml", service("dns", "UDP") + slice("dns", {"198.18.2.11"}, "UDP"));
  rig.round(1ms);  // the sync; its cleanup fails
  // 198.18.1.11 comes back before the retry: its flow is live again and stays.
  rig.files.set("dns.yaml",
                service("dns", "UDP") + slice("dns", {"198.18.1.11", "198.18.2.11"}, "UDP"));
  for (int i = 0; i < 300; ++i) rig.round(1ms);
  CHECK(rig.conntrack.calls >= 2);
  CHECK(rig.conntrack.deleted.empty());
}

TEST_CASE("agent: event socket overruns are counted", "[agent]") {
  Rig rig;
  rig.files.set("a.yaml", service("web") + slice("web", {"198.18.1.11"}));
  rig.monitor.lost = 3;
  rig.round(200ms);
  CHECK(rig.metrics.text().find("svcnft_nftables_event_overruns_total 3") != std::string::npos);
}

TEST_CASE("agent: a health check probe is 503 when the proxy is unhealthy", "[agent]") {
  const agent::HealthCheck check{"shop", "web", 2};
  const auto good = agent::healthResponse(check, true);
  CHECK(good.status == 200);
  CHECK(good.headers.at("X-Load-Balancing-Endpoint-Weight") == "2");
  CHECK(
      good.body ==
      R"({"service":{"namespace":"shop","name":"web"},"localEndpoints":2,"serviceProxyHealthy":true})");
  const auto stale =
      agent::healthResponse(check, false);  // rules not current: send traffic elsewhere
  CHECK(stale.status == 503);
  CHECK(stale.body.find("\"serviceProxyHealthy\":false") != std::string::npos);
  const auto none = agent::healthResponse({"shop", "web", 0}, true);
  CHECK(none.status == 503);
  CHECK(none.headers.at("X-Load-Balancing-Endpoint-Weight") == "0");
}

TEST_CASE("agent: kube-proxy's sync metrics, prefixed svcnft_", "[agent]") {
  Rig rig;
  rig.files.set("a.yaml", service("web") + slice("web", {"198.18.1.11"}));
  rig.round(200ms);
  rig.files.set("a.yaml", service("web") + slice("web", {"198.18.1.12"}));
  rig.round(200ms);
  rig.round();
  REQUIRE(rig.kernel.sent.size() == 2);
  const std::string text = rig.metrics.text();
  CHECK(text.find("\nsvcnft_sync_proxy_rules_duration_seconds_count 2\n") != std::string::npos);
  // The change was queued at the fake clock's wall time (1.8e9 + one hour and 200 ms).
  CHECK(text.find("\nsvcnft_sync_proxy_rules_last_queued_timestamp_seconds 1800003600.2") !=
        std::string::npos);
  rig.metrics.probed(false, 200);
  rig.metrics.probed(false, 503);
  rig.metrics.probed(true, 200);
  const std::string probes = rig.metrics.text();
  CHECK(probes.find("svcnft_proxy_healthz_total{code=\"503\"} 1") != std::string::npos);
  CHECK(probes.find("svcnft_proxy_livez_total{code=\"200\"} 1") != std::string::npos);
}

TEST_CASE("agent: change counters, pending changes and Local policies with no local endpoint",
          "[agent]") {
  Rig rig;
  auto value = [&](const std::string& series) {
    const std::string text = rig.metrics.text();
    const auto at = text.find("\n" + series + " ");
    if (at == std::string::npos) return std::string("(absent)");
    const auto start = at + series.size() + 2;
    return text.substr(start, text.find('\n', start) - start);
  };
  rig.files.set("a.yaml", service("web") + slice("web", {"198.18.1.11"}));
  rig.round(200ms);
  CHECK(value("svcnft_sync_proxy_rules_service_changes_total") == "1");
  CHECK(value("svcnft_sync_proxy_rules_endpoint_changes_total") == "1");
  CHECK(value("svcnft_sync_proxy_rules_endpoint_changes_pending") == "0");

  // A refused sync leaves its change pending until a sync succeeds.
  rig.kernel.refuseNext = 1;
  rig.files.set("a.yaml", service("web") + slice("web", {"198.18.1.12"}));
  rig.round(200ms);
  CHECK(value("svcnft_sync_proxy_rules_endpoint_changes_total") == "2");
  CHECK(value("svcnft_sync_proxy_rules_endpoint_changes_pending") == "1");
  CHECK(value("svcnft_sync_proxy_rules_service_changes_pending") == "0");
  rig.round();
  CHECK(value("svcnft_sync_proxy_rules_endpoint_changes_pending") == "0");

  // internalTrafficPolicy Local and externalTrafficPolicy Local, every endpoint elsewhere.
  rig.files.set("b.yaml", service("inner", "TCP", ", internalTrafficPolicy: Local") +
                              slice("inner", {"198.18.2.11"}) + R"(---
apiVersion: v1
kind: Service
metadata: {name: outer, namespace: default}
spec: {type: NodePort, externalTrafficPolicy: Local, clusterIP: 198.18.100.40,
       ports: [{name: p, port: 53, nodePort: 30053}]}
---
)" + slice("outer", {"198.18.2.12"}));
  rig.round(200ms);
  rig.round();
  CHECK(value("svcnft_sync_proxy_rules_no_local_endpoints_total{traffic_policy=\"internal\"}") ==
        "1");
  CHECK(value("svcnft_sync_proxy_rules_no_local_endpoints_total{traffic_policy=\"external\"}") ==
        "1");
  CHECK(value("svcnft_sync_proxy_rules_service_changes_total") == "3");
  // The Services go: so do their counts (kept per Service, not recounted over all).
  rig.files.set("b.yaml", "");
  rig.round(200ms);
  rig.round();
  CHECK(value("svcnft_sync_proxy_rules_no_local_endpoints_total{traffic_policy=\"internal\"}") ==
        "0");
  CHECK(value("svcnft_sync_proxy_rules_no_local_endpoints_total{traffic_policy=\"external\"}") ==
        "0");
}

TEST_CASE("agent: refused externalIPs are counted, Service by Service", "[agent]") {
  Rig rig;  // its node config allows no externalIP
  rig.files.set("a.yaml", service("web", "TCP", ", externalIPs: [198.18.200.9, 198.18.200.10]") +
                              slice("web", {"198.18.1.11"}));
  rig.round(200ms);
  REQUIRE(rig.kernel.sent.size() == 1);
  CHECK(rig.metrics.text().find("\nsvcnft_external_ips_refused 2\n") != std::string::npos);
  rig.files.set("a.yaml", service("web") + slice("web", {"198.18.1.11"}));
  rig.round(200ms);
  rig.round();
  CHECK(rig.metrics.text().find("\nsvcnft_external_ips_refused 0\n") != std::string::npos);
}
