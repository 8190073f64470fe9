// The agent against the real kernel with failures injected at its seams: a share of
// its transactions refused (as the kernel refuses one: nothing committed), overruns
// (ENOBUFS) of its nf_tables event socket, and failed UDP conntrack cleanups. It
// drives one-endpoint changes until `--failures` were injected, then stops the
// injection, makes one more change, and checks that the agent converged (the
// kernel's table is what a fresh compile of the inputs gives), that its metrics
// counted what was injected, and prints its memory and descriptors at the start and
// at the end. Run it in a network namespace of its own:
//   fault_agent --services 100 --failures 10000 [--seed 1]
// Prints key=value lines; exits 0 when converged and the counts agree.
#include <dirent.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "agent/agent.h"
#include "compile/compiler.h"
#include "manifest/loader.h"
#include "netlink/conntrack.h"
#include "netlink/transport.h"
#include "writer/writer.h"

using namespace svcnft;
using namespace std::chrono_literals;

namespace {

struct Injector {
  std::mt19937 random;
  bool on = true;
  bool chance(double p) { return on && std::uniform_real_distribution<>(0, 1)(random) < p; }
  uint64_t refused = 0, overruns = 0, conntrack = 0;
  uint64_t total() const { return refused + overruns + conntrack; }
};

// The real socket, except that 10% of committing transactions are refused without
// being sent, as the kernel answers one it will not take (nothing committed).
class FaultyTransport : public netlink::Transport {
 public:
  FaultyTransport(netlink::Transport& real, Injector& inject) : real_(real), inject_(inject) {}
  Result<netlink::TransactionResult> transact(const std::vector<uint8_t>& batch,
                                              int acks) override {
    bool commits = false;
    uint32_t firstSeq = 0;
    int len = static_cast<int>(batch.size());
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(batch.data()); mnl_nlmsg_ok(nlh, len);
         nlh = mnl_nlmsg_next(nlh, &len)) {
      if (nlh->nlmsg_type == NFNL_MSG_BATCH_END) commits = true;
      if ((nlh->nlmsg_type >> 8) == NFNL_SUBSYS_NFTABLES && !firstSeq) firstSeq = nlh->nlmsg_seq;
    }
    if (commits && inject_.chance(0.10)) {
      ++inject_.refused;
      netlink::TransactionResult refused;
      refused.errors.push_back({firstSeq, EINVAL});
      return refused;
    }
    return real_.transact(batch, acks);
  }
  Result<int> dump(const std::vector<uint8_t>& request,
                   const std::function<void(const nlmsghdr*)>& onMessage) override {
    return real_.dump(request, onMessage);
  }
  uint32_t portId() const override { return real_.portId(); }

 private:
  netlink::Transport& real_;
  Injector& inject_;
};

// The real event socket, plus overruns: an eventfd that the driver signals stands
// for a socket that overran; the agent sees one fd (an epoll set of both).
class FaultyMonitor : public netlink::EventMonitor {
 public:
  FaultyMonitor(netlink::EventMonitor& real, Injector& inject) : real_(real), inject_(inject) {
    overrun_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    for (int fd : {real_.fd(), overrun_}) {
      epoll_event e{};
      e.events = EPOLLIN;
      e.data.fd = fd;
      epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &e);
    }
  }
  ~FaultyMonitor() override {
    close(overrun_);
    close(epoll_);
  }
  void maybeOverrun() {
    if (!inject_.chance(0.05)) return;
    ++inject_.overruns;
    const uint64_t one = 1;
    if (write(overrun_, &one, sizeof one) != sizeof one) std::perror("eventfd");
  }
  int fd() const override { return epoll_; }
  bool changedBySomeoneElse(const std::string& table, uint32_t ignorePort) override {
    uint64_t n = 0;
    const bool lost = read(overrun_, &n, sizeof n) == sizeof n;
    injectedOverruns_ += lost ? n : 0;
    return real_.changedBySomeoneElse(table, ignorePort) || lost;
  }
  bool changedBySomeoneElseAfterOwn(const std::string& table, uint32_t ignorePort) override {
    return real_.changedBySomeoneElseAfterOwn(table, ignorePort);
  }
  Result<bool> pause() override { return real_.pause(); }
  Result<bool> resume() override { return real_.resume(); }
  uint64_t overruns() const override { return real_.overruns() + injectedOverruns_; }

 private:
  netlink::EventMonitor& real_;
  Injector& inject_;
  int overrun_ = -1, epoll_ = -1;
  uint64_t injectedOverruns_ = 0;
};

// Half the UDP conntrack cleanups fail, as a netlink error would make them.
class FaultyConntrack : public netlink::ConntrackCleaner {
 public:
  explicit FaultyConntrack(Injector& inject) : inject_(inject) {}
  Result<int> deleteUdpFlows(const std::function<bool(const netlink::UdpFlow&)>& stale) override {
    if (inject_.chance(0.5)) {
      ++inject_.conntrack;
      return Error{"conntrack: ENOBUFS (injected)"};
    }
    return real_.deleteUdpFlows(stale);
  }

 private:
  Injector& inject_;
  netlink::KernelConntrack real_;
};

// Services held in memory; set() replaces one and wakes the agent.
class MemorySource : public source::Source {
 public:
  MemorySource() : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
  ~MemorySource() override { close(fd_); }
  void set(const std::string& part, const std::string& yaml) {
    Manifests m;
    Diagnostics d;
    manifest::parseManifestText(yaml, part, m, d);
    if (d.hasErrors()) {
      std::fprintf(stderr, "fault_agent: bad generated input:\n%s\n", yaml.c_str());
      std::exit(2);
    }
    pending_.emplace_back(part, std::move(m));
    const uint64_t one = 1;
    if (write(fd_, &one, sizeof one) != sizeof one) std::perror("eventfd");
  }
  std::string name() const override { return "memory"; }
  int fd() const override { return fd_; }
  bool consumeEvents() override {
    uint64_t n = 0;
    return read(fd_, &n, sizeof n) == sizeof n;
  }
  std::set<std::string> refresh(source::Inventory& inventory, Diagnostics&) override {
    std::set<std::string> changed;
    for (auto& [part, m] : pending_) changed.merge(inventory.replace(part, std::move(m)));
    pending_.clear();
    return changed;
  }

 private:
  int fd_;
  std::vector<std::pair<std::string, Manifests>> pending_;
};

// Service i: TCP for even i, UDP for odd; ClusterIP 198.18.128.0/17; endpoints are
// chosen by `pick` out of 8 addresses in 198.19.x.0/24.
std::string serviceYaml(int i, unsigned pick) {
  const char* proto = i % 2 ? "UDP" : "TCP";
  std::string out =
      "apiVersion: v1\nkind: Service\nmetadata: {name: s" + std::to_string(i) +
      "}\nspec: {clusterIP: 198.18." + std::to_string(128 + i / 250) + "." +
      std::to_string(i % 250 + 1) + ", ports: [{name: p, port: 53, protocol: " + proto +
      "}]}\n---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: "
      "{name: s" +
      std::to_string(i) + "-1, labels: {kubernetes.io/service-name: s" + std::to_string(i) +
      "}}\naddressType: IPv4\nports: [{name: p, port: 53, "
      "protocol: " +
      proto + "}]\nendpoints:\n";
  for (int e = 0; e < 8; ++e) {
    if (pick & (1u << e)) {
      out +=
          "- addresses: [198.19." + std::to_string(i % 250) + "." + std::to_string(e + 1) + "]\n";
    }
  }
  return out;
}

long residentKb() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

int openFds() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
    closedir(d);
  }
  return n - 1;  // the directory's own descriptor
}

double metric(const std::string& text, const std::string& name) {
  const auto at = text.find("\n" + name + " ");
  return at == std::string::npos ? -1 : std::stod(text.substr(at + name.size() + 2));
}

class NullNotifier : public agent::Notifier {
 public:
  void ready(const std::string&) override {}
  void status(const std::string&) override {}
  void watchdog() override {}
  std::chrono::microseconds watchdogInterval() const override { return 0us; }
};

}  // namespace

int main(int argc, char** argv) {
  int services = 100;
  uint64_t failures = 10000;
  unsigned seed = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--services")) services = std::stoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--failures")) failures = std::stoull(argv[i + 1]);
    if (!std::strcmp(argv[i], "--seed")) seed = static_cast<unsigned>(std::stoul(argv[i + 1]));
  }
  auto sock = netlink::Socket::open();
  auto monitor = netlink::Monitor::open();
  if (!sock || !monitor) {
    std::fprintf(stderr, "fault_agent: cannot open netlink (root, in a namespace?)\n");
    return 2;
  }
  Injector inject{std::mt19937(seed)};
  FaultyTransport transport(sock.value(), inject);
  FaultyMonitor events(monitor.value(), inject);
  FaultyConntrack conntrack(inject);
  MemorySource source;
  std::mt19937 random(seed + 1);
  std::vector<unsigned> picks(services);
  for (int i = 0; i < services; ++i) {
    picks[i] = 1u + random() % 255;
    source.set("s" + std::to_string(i), serviceYaml(i, picks[i]));
  }
  agent::Options options;
  options.minSyncInterval = 1ms;
  options.fullCheckPeriod = 3600s;
  agent::Metrics metrics;
  NullNotifier notifier;
  agent::SystemClock clock;
  NodeConfig node;
  node.clusterCIDRs = {*Cidr::parse("198.19.0.0/16")};
  std::vector<source::Source*> sources{&source};
  // The agent logs every failure on stderr: 10,000 lines the test does not need.
  agent::Agent a(options, node, sources, {transport, events, conntrack}, notifier, metrics, clock);

  auto runFor = [&](std::chrono::milliseconds span) {
    const auto end = std::chrono::steady_clock::now() + span;
    while (std::chrono::steady_clock::now() < end) a.runOnce(1ms);
  };
  long rssStart = -1;
  int fdsStart = -1;
  uint64_t changes = 0;
  const auto t0 = std::chrono::steady_clock::now();
  while (inject.total() < failures) {
    const int i = static_cast<int>(random() % services);
    picks[i] = 1u + random() % 255;  // never empty: an endpoint set of 1 to 8
    source.set("s" + std::to_string(i), serviceYaml(i, picks[i]));
    ++changes;
    events.maybeOverrun();
    runFor(2ms);
    if (rssStart < 0 && inject.total() >= failures / 100) {  // warmed up
      rssStart = residentKb();
      fdsStart = openFds();
    }
    if (std::chrono::steady_clock::now() - t0 > 600s) {
      std::fprintf(stderr, "fault_agent: 600 s passed with %llu failures injected\n",
                   static_cast<unsigned long long>(inject.total()));
      return 1;
    }
  }
  const long rssEnd = residentKb();
  const int fdsEnd = openFds();

  // Failures stop: the agent must converge on its own, after its backoff.
  inject.on = false;
  picks[0] = picks[0] == 1 ? 2 : 1;
  source.set("s0", serviceYaml(0, picks[0]));
  // The kernel's table against a fresh compile of what the agent was given.
  auto convergedNow = [&]() -> Result<bool> {
    Inputs inputs;
    Manifests all = a.inventory().all();
    inputs.services = std::move(all.services);
    inputs.slices = std::move(all.slices);
    inputs.node = node;
    Diagnostics d;
    const ir::Ruleset want = compileRuleset(inputs, d);
    auto planned = writer::planApply(sock.value(), want);
    if (!planned) return planned.error();
    return planned->tableExists && planned->plan.empty();
  };
  const auto stopped = std::chrono::steady_clock::now();
  Result<bool> converged = false;
  while (std::chrono::steady_clock::now() - stopped < agent::Agent::kMaxBackoff + 5s) {
    runFor(100ms);
    converged = convergedNow();
    if (converged && *converged) break;
  }
  const double convergeSeconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - stopped).count();

  const std::string text = metrics.text();
  const double syncFailures = metric(text, "svcnft_sync_proxy_rules_nftables_sync_failures_total");
  const double conntrackFailures = metric(text, "svcnft_conntrack_cleanup_failures_total");
  const double overruns = metric(text, "svcnft_nftables_event_overruns_total");
  const auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("changes=%llu seconds=%.1f\n", static_cast<unsigned long long>(changes), seconds);
  std::printf("injected_refused=%llu injected_overruns=%llu injected_conntrack=%llu total=%llu\n",
              static_cast<unsigned long long>(inject.refused),
              static_cast<unsigned long long>(inject.overruns),
              static_cast<unsigned long long>(inject.conntrack),
              static_cast<unsigned long long>(inject.total()));
  std::printf("metric_sync_failures=%.0f metric_conntrack_failures=%.0f metric_overruns=%.0f\n",
              syncFailures, conntrackFailures, overruns);
  std::printf("rss_kb_start=%ld rss_kb_end=%ld fds_start=%d fds_end=%d\n", rssStart, rssEnd,
              fdsStart, fdsEnd);
  std::printf("converged=%s converge_seconds=%.1f\n", converged && *converged ? "yes" : "no",
              convergeSeconds);
  if (!converged) std::printf("readback_error=%s\n", converged.error().message.c_str());
  const bool counted = syncFailures == static_cast<double>(inject.refused) &&
                       conntrackFailures == static_cast<double>(inject.conntrack) &&
                       overruns >= static_cast<double>(inject.overruns);
  std::printf("counted=%s\n", counted ? "yes" : "no");
  return converged && *converged && counted ? 0 : 1;
}
