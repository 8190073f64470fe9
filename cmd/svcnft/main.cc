// svcnft command line: flags → library calls → exit codes (docs/design.md):
// 0 success; 1 invalid input (diagnostics on stderr); 2 usage; 3 kernel failure.
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <future>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent/agent.h"
#include "agent/conntrack_sysctls.h"
#include "agent/http.h"
#include "agent/log.h"
#include "announce/announcer.h"
#include "announce/handover_table.h"
#include "announce/lease_store.h"
#include "announce/responder.h"
#include "compile/compiler.h"
#include "compile/render_nft.h"
#include "manifest/kube_proxy_config.h"
#include "manifest/loader.h"
#include "source/api_source.h"
#include "source/file_source.h"
#include "source/kubeconfig.h"
#include "writer/installed.h"
#include "writer/show.h"
#include "writer/writer.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitInvalidInput = 1;
constexpr int kExitUsage = 2;
constexpr int kExitKernel = 3;

using Clock = std::chrono::steady_clock;

double millisSince(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

void printDiagnostics(const svcnft::Diagnostics& diags) {
  for (const auto& d : diags.all()) std::cerr << d.format() << "\n";
}

struct Compiled {
  svcnft::Inputs inputs;
  svcnft::ir::Ruleset rs;
  double parseMs = 0;
  double compileMs = 0;
  // apply and diff: the state record of the table (writer/state_record.h), read
  // and decoded while the input compiles.
  std::string recordPath;
  std::future<std::optional<svcnft::writer::StateRecord>> record;
};

// Loads and compiles, printing diagnostics; false when the input is invalid.
// The node's configuration files: ours, and kube-proxy's laid over it.
struct ConfigFiles {
  std::string nodeConfig, kubeProxyConfig;
};

enum class StateRecord { kIgnore, kLoad };

// `afterParse` runs between parse and compile: the parse keeps both cores busy,
// the compile one.
bool loadAndCompile(const std::vector<std::string>& paths, const ConfigFiles& config, Compiled& out,
                    StateRecord record = StateRecord::kIgnore,
                    const std::function<void()>& afterParse = {},
                    svcnft::ElementOrder order = svcnft::ElementOrder::kByKey) {
  const auto t0 = Clock::now();
  svcnft::Diagnostics diags;
  out.inputs =
      svcnft::manifest::loadInputs(paths, config.nodeConfig, diags, config.kubeProxyConfig);
  out.parseMs = millisSince(t0);
  if (afterParse) afterParse();
  if (!diags.hasErrors() && record == StateRecord::kLoad) {
    out.recordPath =
        svcnft::writer::statePath(out.inputs.node.table, svcnft::writer::currentNetns());
    out.record = std::async(std::launch::async, svcnft::writer::loadState, out.recordPath);
  }
  if (!diags.hasErrors()) {
    const auto t1 = Clock::now();
    out.rs = svcnft::compileRuleset(out.inputs, diags, order);
    out.compileMs = millisSince(t1);
  }
  printDiagnostics(diags);
  if (diags.hasErrors()) {
    std::cerr << "svcnft: " << diags.errorCount() << " error(s); nothing compiled\n";
    return false;
  }
  return true;
}

// One-shot commands that hold a whole ruleset: memory freed along the way is kept
// for what comes next instead of going back to the system (large buffers included),
// so it is not faulted in again page by page. A tenth of `apply`'s time at 10,000
// x 10 was page faults (perf).
void keepFreedMemory() {
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 64 << 20);
}

// One-shot commands end here instead of returning: freeing a 10,000-Service IR,
// its element records and the batch one allocation at a time costs ~0.1-0.2 s
// that the process exit does for free (measured with /usr/bin/time at 10k x 10).
[[noreturn]] void exitWithoutFreeing(int code) {
  std::cout.flush();
  std::cerr.flush();
  std::_Exit(code);
}

int runCompile(const std::vector<std::string>& paths, const ConfigFiles& nodeConfig, bool stats) {
  Compiled c;
  if (!loadAndCompile(paths, nodeConfig, c)) return kExitInvalidInput;
  const svcnft::Inputs& inputs = c.inputs;
  const svcnft::ir::Ruleset& rs = c.rs;
  const double parseMs = c.parseMs, compileMs = c.compileMs;
  const auto t2 = Clock::now();
  std::ios::sync_with_stdio(false);
  svcnft::renderNft(rs, std::cout);
  std::cout.flush();
  if (stats) {
    std::cerr << "services " << inputs.services.size() << ", endpoint slices "
              << inputs.slices.size() << "\n"
              << "sets " << rs.sets.size() << ", chains " << rs.chains.size() << ", rules "
              << rs.ruleCount() << ", elements " << rs.elementCount() << "\n"
              << "parse " << parseMs << " ms, compile " << compileMs << " ms, render "
              << millisSince(t2) << " ms\n";
    // Where the kernel's elements go: the sets that hold any, largest first.
    std::vector<std::pair<std::size_t, std::string>> bySet;
    for (const auto& set : rs.sets) {
      if (!set.elements.empty()) bySet.emplace_back(set.elements.size(), set.name);
    }
    std::sort(bySet.begin(), bySet.end(), std::greater<>());
    std::cerr << "elements by set:";
    for (std::size_t i = 0; i < bySet.size(); ++i) {
      std::cerr << (i ? ", " : " ") << bySet[i].second << " " << bySet[i].first;
    }
    std::cerr << "\n";
  }
  exitWithoutFreeing(kExitOk);
}

svcnft::Result<svcnft::netlink::Socket> openSocket() {
  auto sock = svcnft::netlink::Socket::open();
  if (!sock) std::cerr << "svcnft: " << sock.error().message << "\n";
  return sock;
}

// The netlink socket, opened and the kernel probed while the input compiles.
struct KernelSide {
  svcnft::netlink::Socket sock;
  svcnft::nft::KernelFeatures features;
};
svcnft::Result<KernelSide> openAndProbe() {
  auto sock = svcnft::netlink::Socket::open();
  if (!sock) return sock.error();
  auto features = svcnft::writer::probeKernel(sock.value());
  if (!features) return features.error();
  return KernelSide{std::move(sock.value()), *features};
}

// apply's new state record, made on a thread while the kernel commits.
struct RecordInFlight {
  svcnft::Result<std::string> bytes = std::string();
  uint32_t generation = 0;  // the one it carries
  bool written = false;     // beside its place (writeStateBeside)
};

int runApply(const std::vector<std::string>& paths, const ConfigFiles& nodeConfig, bool refill,
             std::size_t recordLimit) {
  // The probe runs beside the compile, off the critical path (9 ms in a fresh
  // namespace): a transaction checked and never committed, harmless if the input
  // turns out invalid.
  std::future<svcnft::Result<KernelSide>> opening;
  Compiled c;
  if (!loadAndCompile(
          paths, nodeConfig, c, StateRecord::kLoad,
          [&] { opening = std::async(std::launch::async, openAndProbe); },
          svcnft::ElementOrder::kAsCompiled)) {
    return kExitInvalidInput;
  }
  auto opened = opening.get();
  if (!opened) {
    std::cerr << "svcnft: " << opened.error().message << "\n";
    return kExitKernel;
  }
  svcnft::netlink::Socket& sock = opened.value().sock;
  const svcnft::nft::KernelFeatures& kernel = opened.value().features;
  const auto t0 = Clock::now();
  // The record of our last commit spares reading the table back while the kernel
  // still holds it (writer/state_record.h).
  const uint64_t netns = svcnft::writer::currentNetns();
  const std::string& recordPath = c.recordPath;
  auto record = c.record.get();
  auto planned = svcnft::writer::planApply(
      sock, c.rs, refill ? svcnft::writer::ReadBack::kNever : svcnft::writer::ReadBack::kAuto,
      record ? &*record : nullptr);
  if (!planned) {
    std::cerr << "svcnft: " << planned.error().message << "\n";
    return kExitKernel;
  }
  // The new state record is encoded and written beside its place while the kernel
  // commits (at 10,000 x 10: ~25 ms to encode, ~15 to write to a disk), carrying the
  // generation the commit should leave (the one seen, plus one); after the commit it
  // is put in place, or stamped and written again if another generation came. Not
  // made when the kernel already holds what a trusted record says and nothing changes.
  const bool unchanged = planned->tableExists && !planned->plan.replaceAll && planned->plan.empty();
  std::future<RecordInFlight> inFlight;
  if (!(planned->fromRecord && unchanged)) {
    std::optional<svcnft::writer::Installed> desired;
    if (planned->tableExists) desired = std::move(planned->desired);
    const uint32_t expected = planned->generationSeen.value_or(0) + (unchanged ? 0 : 1);
    inFlight = std::async(std::launch::async, [&rs = c.rs, desired = std::move(desired), netns,
                                               expected, recordLimit, &recordPath]() mutable {
      RecordInFlight out;
      out.generation = expected;
      out.bytes =
          svcnft::writer::encodedRecordOf(rs, std::move(desired), netns, expected, recordLimit);
      // What fails to be written here is written again after the commit, which says why.
      out.written = out.bytes && svcnft::writer::writeStateBeside(recordPath, out.bytes.value());
      return out;
    });
  }
  auto report = svcnft::writer::applyPlan(sock, c.rs, planned->plan, planned->tableExists, kernel);
  if (!report) {
    if (inFlight.valid() && inFlight.get().written) svcnft::writer::discardStateBeside(recordPath);
    std::cerr << "svcnft: " << report.error().message << "\n";
    return kExitKernel;
  }
  report.value().readMs = planned->readMs;
  report.value().planMs = planned->planMs;
  const auto recordStart = Clock::now();
  {
    using Kind = svcnft::writer::ApplyReport::Kind;
    // What the kernel holds now, at which generation: after our commit, or, with
    // nothing to commit, the one read before comparing.
    const auto gen =
        report->kind == Kind::kUnchanged ? planned->generationSeen : report->generation;
    std::optional<RecordInFlight> made;
    if (inFlight.valid()) made = inFlight.get();
    if (!gen) {
      unlink(recordPath.c_str());
      if (made && made->written) svcnft::writer::discardStateBeside(recordPath);
    } else if (made) {
      svcnft::Result<bool> saved = false;
      if (!made->bytes) {
        saved = made->bytes.error();
      } else if (*gen == made->generation && made->written) {
        saved = svcnft::writer::putStateInPlace(recordPath);
      } else if (svcnft::writer::restampState(made->bytes.value(), *gen)) {
        saved = svcnft::writer::saveEncodedState(recordPath, made->bytes.value());
      } else {
        saved = svcnft::Error{"the state record did not encode"};
      }
      if (!saved) {
        unlink(recordPath.c_str());
        if (made->written) svcnft::writer::discardStateBeside(recordPath);
        std::cerr << "svcnft: warning: " << saved.error().message << "\n";
      }
    }
  }
  const double recordMs = millisSince(recordStart);
  using Kind = svcnft::writer::ApplyReport::Kind;
  const char* what = report->kind == Kind::kInstalled     ? "installed"
                     : report->kind == Kind::kReplaced    ? "replaced"
                     : report->kind == Kind::kIncremental ? "updated"
                     : report->kind == Kind::kRefilled    ? "refilled"
                                                          : "unchanged";
  std::cerr << "svcnft: " << what << " table inet " << c.rs.table << ": "
            << c.inputs.services.size() << " services, " << c.rs.elementCount() << " elements";
  if (report->kind != Kind::kUnchanged) {
    std::cerr << "; " << report->elementOperations << " element operations in " << report->messages
              << " messages (" << report->bytes << " bytes), one transaction";
  }
  if (!report->why.empty()) std::cerr << " (" << report->why << ")";
  if (planned->fromRecord) {
    std::cerr << "; read back nothing (the state record"
              << (record && record->digestOnly() ? "'s digest" : "") << ")";
  } else {
    std::cerr << "; read back " << report->readMs << " ms";
  }
  std::cerr << ", diff " << report->planMs << " ms, messages " << report->encodeMs << " ms, commit "
            << report->commitMs << " ms, state record " << recordMs << " ms, total "
            << millisSince(t0) << " ms (after parse " << c.parseMs << " ms, compile " << c.compileMs
            << " ms)\n";
  if (!report->expiringNote.empty()) std::cerr << "svcnft: " << report->expiringNote << "\n";
  exitWithoutFreeing(kExitOk);
}

int runDiff(const std::vector<std::string>& paths, const ConfigFiles& nodeConfig) {
  Compiled c;
  if (!loadAndCompile(paths, nodeConfig, c, StateRecord::kLoad)) return kExitInvalidInput;
  auto sock = openSocket();
  if (!sock) return kExitKernel;
  // Exact either way: from a state record the kernel still holds, or read back.
  auto record = c.record.get();
  auto planned = svcnft::writer::planApply(sock.value(), c.rs, svcnft::writer::ReadBack::kAlways,
                                           record ? &*record : nullptr);
  if (!planned) {
    std::cerr << "svcnft: " << planned.error().message << "\n";
    return kExitKernel;
  }
  const auto& plan = planned->plan;
  if (!planned->tableExists) {
    std::cout << "+ table inet " << c.rs.table << " (not installed): " << c.rs.sets.size()
              << " sets, " << c.rs.chains.size() << " chains, " << c.rs.elementCount()
              << " elements\n";
    return kExitOk;
  }
  if (plan.replaceAll) {
    std::cout << "~ table inet " << c.rs.table << " replaced whole: " << plan.why << "\n";
    return kExitOk;
  }
  if (plan.empty()) {
    std::cout << "no changes\n";
    return kExitOk;
  }
  for (const auto& ch : plan.chains.add) std::cout << "+ chain " << ch << "\n";
  for (const auto& d : plan.sets) {
    const svcnft::ir::Set* set = c.rs.findSet(d.set);
    if (d.flush) std::cout << "~ set " << d.set << ": all elements replaced\n";
    for (const auto& r : d.remove) {
      std::cout << "- " << d.set << ": " << (r.comment.empty() ? "(no comment)" : r.comment)
                << "\n";
    }
    if (d.flush) continue;
    for (std::size_t i : d.add) {
      std::cout << "+ " << d.set << ": " << svcnft::renderElement(set->elements[i]) << "\n";
    }
  }
  for (const auto& ch : plan.chains.remove) std::cout << "- chain " << ch << "\n";
  return kExitOk;
}

int runShow(const std::string& table) {
  auto sock = openSocket();
  if (!sock) return kExitKernel;
  auto exists = svcnft::writer::tableExists(sock.value(), table);
  if (!exists) {
    std::cerr << "svcnft: " << exists.error().message << "\n";
    return kExitKernel;
  }
  if (!*exists) {
    std::cerr << "svcnft: no table inet " << table << " installed\n";
    return kExitOk;
  }
  auto installed = svcnft::writer::readInstalled(sock.value(), table);
  if (!installed) {
    std::cerr << "svcnft: " << installed.error().message << "\n";
    return kExitKernel;
  }
  std::cout << svcnft::writer::showInstalled(*installed);
  return kExitOk;
}

// "100ms", "2s", "1m" → milliseconds; -1 when it does not parse.
long long parseDuration(const std::string& text) {
  std::size_t used = 0;
  long long n = -1;
  try {
    n = std::stoll(text, &used);
  } catch (const std::exception&) {
    return -1;
  }
  const std::string unit = text.substr(used);
  if (unit == "ms") return n;
  if (unit == "s") return n * 1000;
  if (unit == "m") return n * 60000;
  return -1;
}

// kube-proxy's node name: --hostname-override, else the node config's nodeName,
// else the host name, lowercased.
std::string nodeNameFor(const std::string& override, const svcnft::NodeConfig& node) {
  std::string name = override;
  if (name.empty()) name = node.nodeName;
  if (name.empty()) {
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) == 0) name = host;
  }
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

std::map<std::string, std::string> environment() {
  std::map<std::string, std::string> env;
  for (const char* key : {"KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"}) {
    if (const char* v = std::getenv(key)) env[key] = v;
  }
  return env;
}

struct AgentFlags {
  std::string watchDir, kubeconfig, hostnameOverride, nodeConfig, serviceProxyName;
  std::string kubeProxyConfig;
  std::string minSync = "100ms", fullCheck = "60s";
  // kube-proxy's defaults: cloud load balancers probe /healthz on every address;
  // metrics stay on loopback.
  std::string healthzBind = "0.0.0.0:10256", metricsBind = "127.0.0.1:10249";
  // LoadBalancer address announcement (layer 2): off without an interface.
  std::string announceInterface, announceClass = "svcnft.io/layer2", leaseNamespace = "kube-system";
  std::string leaseDuration = "15s", renewDeadline = "10s", retryPeriod = "2s";
  std::size_t recordLimit = svcnft::writer::kRecordElementLimit;
  // Which of these were given on the command line (they win over --config).
  bool minSyncGiven = false, fullCheckGiven = false, healthzGiven = false, metricsGiven = false;
};

// One line on what a kube-proxy configuration file set, for the log.
std::string describe(const svcnft::manifest::KubeProxyConfig& c) {
  std::string cidrs;
  for (const auto& x : c.clusterCIDRs) cidrs += (cidrs.empty() ? "" : ",") + x.str();
  std::string nodePorts = c.nodePortsOnPrimary ? "primary" : "";
  for (const auto& x : c.nodePortCIDRs) nodePorts += (nodePorts.empty() ? "" : ",") + x.str();
  return "kube-proxy configuration " + c.file + " (mode " + c.mode + "): clusterCIDR " +
         (cidrs.empty() ? "(none)" : cidrs) + ", detectLocalMode " +
         svcnft::localTrafficModeName(c.localTraffic) +
         (c.localInterface.empty() ? "" : " " + c.localInterface) + ", nodePortAddresses " +
         (nodePorts.empty() ? "(none)" : nodePorts) + ", masqueradeAll " +
         (c.masqueradeAll ? "true" : "false") + ", syncPeriod " +
         std::to_string(c.syncPeriod.count()) + "ms, minSyncPeriod " +
         std::to_string(c.minSyncPeriod.count()) + "ms";
}

int runAgent(AgentFlags flags) {
  svcnft::Diagnostics diags;
  svcnft::NodeConfig node;
  if (!flags.nodeConfig.empty()) node = svcnft::manifest::loadNodeConfig(flags.nodeConfig, diags);
  // kube-proxy's own file: what it says, unless the command line says otherwise.
  std::optional<svcnft::manifest::KubeProxyConfig> kubeProxy;
  if (!flags.kubeProxyConfig.empty()) {
    kubeProxy = svcnft::manifest::loadKubeProxyConfig(flags.kubeProxyConfig, diags);
    node = svcnft::manifest::withKubeProxyConfig(node, *kubeProxy, flags.nodeConfig, diags);
    auto ms = [](std::chrono::milliseconds d) { return std::to_string(d.count()) + "ms"; };
    if (!flags.minSyncGiven) flags.minSync = ms(kubeProxy->minSyncPeriod);
    if (!flags.fullCheckGiven) flags.fullCheck = ms(kubeProxy->syncPeriod);
    if (!flags.healthzGiven) flags.healthzBind = kubeProxy->healthzBindAddress;
    if (!flags.metricsGiven) flags.metricsBind = kubeProxy->metricsBindAddress;
    if (flags.kubeconfig.empty()) flags.kubeconfig = kubeProxy->kubeconfig;
    if (flags.hostnameOverride.empty()) flags.hostnameOverride = kubeProxy->hostnameOverride;
  }
  const std::string& dir = flags.watchDir;
  const std::string& healthzBind = flags.healthzBind;
  const std::string& metricsBind = flags.metricsBind;
  svcnft::agent::Options options;
  const long long minMs = parseDuration(flags.minSync), fullMs = parseDuration(flags.fullCheck);
  if (minMs < 0 || fullMs <= 0) {
    std::cerr << "svcnft: durations are like 100ms, 2s or 1m\n";
    return kExitUsage;
  }
  options.minSyncInterval = std::chrono::milliseconds(minMs);
  svcnft::announce::ElectionTimes election;
  if (!flags.announceInterface.empty()) {
    const long long lease = parseDuration(flags.leaseDuration),
                    renew = parseDuration(flags.renewDeadline),
                    retry = parseDuration(flags.retryPeriod);
    if (lease <= 0 || renew <= 0 || retry <= 0) {
      std::cerr << "svcnft: durations are like 100ms, 2s or 1m\n";
      return kExitUsage;
    }
    // client-go's conditions: a holder cut off goes silent (renew deadline) before
    // its lease runs out elsewhere, and retries more than once within the deadline.
    if (!(renew < lease) || !(retry * 2 <= renew)) {
      std::cerr << "svcnft: --renew-deadline must be shorter than --lease-duration and at least "
                   "twice --retry-period\n";
      return kExitUsage;
    }
    election = {std::chrono::milliseconds(lease), std::chrono::milliseconds(renew),
                std::chrono::milliseconds(retry)};
  }
  options.fullCheckPeriod = std::chrono::milliseconds(fullMs);
  // A clean stop leaves a record of the table for the next start (the same file
  // `apply` keeps): a restart then adopts the table without reading it back.
  options.netns = svcnft::writer::currentNetns();
  options.stateRecordPath = svcnft::writer::statePath(node.table, options.netns);
  options.recordElementLimit = flags.recordLimit;
  // Endpoints whose nodeName is this node's are local (externalTrafficPolicy Local).
  node.nodeName = nodeNameFor(flags.hostnameOverride, node);
  std::vector<svcnft::source::Source*> sources;
  std::optional<svcnft::source::FileSource> files;
  if (!dir.empty()) {
    files.emplace(dir, node, diags);
    sources.push_back(&*files);
  }
  printDiagnostics(diags);
  if (diags.hasErrors()) return kExitInvalidInput;
  if (kubeProxy) {
    svcnft::agent::log(describe(*kubeProxy));
    // As kube-proxy: conntrack settings it cannot apply stop the start.
    const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    auto applied = svcnft::agent::applyConntrackSettings(
        kubeProxy->conntrack, static_cast<int>(std::max(cpus, 1L)), "/", svcnft::agent::log);
    if (!applied) {
      std::cerr << "svcnft: " << applied.error().message << "\n";
      return kExitKernel;
    }
  }
  // The API server: a kubeconfig, or in a pod its in-cluster configuration (also
  // when nothing else is given: a DaemonSet's container runs `svcnft agent`).
  std::optional<svcnft::Result<svcnft::source::ApiConfig>> api;
  if (!flags.kubeconfig.empty()) {
    api = svcnft::source::loadKubeconfig(flags.kubeconfig);
  } else if (dir.empty()) {
    api = svcnft::source::inClusterConfig(environment(),
                                          "/var/run/secrets/kubernetes.io/serviceaccount");
  }
  if (api && !*api) {
    std::cerr << "svcnft: " << api->error().message << "\n";
    return kExitUsage;
  }
  if (!flags.announceInterface.empty() && !api) {
    std::cerr << "svcnft: --announce-interface needs the API server (its Leases elect the node "
                 "that answers): give --kubeconfig, or run in a pod\n";
    return kExitUsage;
  }
  svcnft::agent::Metrics metrics;
  std::optional<svcnft::source::ApiSource> apiSource;
  if (api) {
    const svcnft::source::ApiConfig config = api->value();
    const std::string& nodeName = node.nodeName;
    svcnft::agent::log("reading the API server " + config.server + " (" + config.origin +
                       "), node " + nodeName);
    apiSource.emplace(
        config.server, [config] { return std::make_unique<svcnft::source::CurlClient>(config); },
        nodeName, node, metrics, svcnft::agent::log, svcnft::source::Backoff{},
        flags.serviceProxyName);
    sources.push_back(&*apiSource);
  }
  auto sock = openSocket();
  if (!sock) return kExitKernel;
  auto monitor = svcnft::netlink::Monitor::open();
  if (!monitor) {
    std::cerr << "svcnft: " << monitor.error().message << "\n";
    return kExitKernel;
  }
  svcnft::agent::SystemdNotifier notifier;
  svcnft::netlink::KernelConntrack conntrack;
  svcnft::agent::SystemClock clock;
  // SIGTERM and SIGINT go to the agent's signalfd: block them before any thread
  // starts, or a list/watch thread would take them and die with the process.
  sigset_t stopSignals;
  sigemptyset(&stopSignals);
  sigaddset(&stopSignals, SIGTERM);
  sigaddset(&stopSignals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);
  if (apiSource) apiSource->start();
  svcnft::agent::Agent agent(options, node, sources, {sock.value(), monitor.value(), conntrack},
                             notifier, metrics, clock);
  // The announcer: its own API client (a curl handle is not shared between
  // threads), its own responder thread on the interface.
  std::optional<svcnft::source::CurlClient> leaseClient;
  std::optional<svcnft::announce::ApiLeaseStore> leaseStore;
  std::optional<svcnft::announce::ApiStatusWriter> statusWriter;
  std::unique_ptr<svcnft::announce::Responder> responder;
  std::optional<svcnft::netlink::Socket> handoverSocket;  // the announcer thread's own
  std::optional<svcnft::announce::HandoverTable> handover;
  std::optional<svcnft::announce::Announcer> announcer;
  if (!flags.announceInterface.empty()) {
    auto opened = svcnft::announce::Responder::open(flags.announceInterface, svcnft::agent::log);
    if (!opened) {
      std::cerr << "svcnft: " << opened.error().message << "\n";
      return kExitKernel;
    }
    responder = std::move(opened).value();
    leaseClient.emplace(api->value());
    const long timeout = std::max(1L, static_cast<long>(election.renewDeadline.count() / 2000));
    leaseStore.emplace(*leaseClient, flags.leaseNamespace, timeout);
    svcnft::agent::SystemClock wall;
    auto handoverSock = svcnft::netlink::Socket::open();
    if (!handoverSock) {
      std::cerr << "svcnft: " << handoverSock.error().message << "\n";
      return kExitKernel;
    }
    handoverSocket.emplace(std::move(handoverSock).value());
    handover.emplace(*handoverSocket, svcnft::agent::log);
    statusWriter.emplace(*leaseClient, timeout);
    announcer.emplace(
        node.nodeName, election, *leaseStore, *responder, *handover, metrics, svcnft::agent::log,
        svcnft::announce::Announcer::Clocks{[] { return std::chrono::steady_clock::now(); },
                                            [wall] { return wall.unixNow(); }},
        &*statusWriter, node.loadBalancerPools);
    agent.announceWith(*announcer, flags.announceClass);
    svcnft::agent::log("announcing LoadBalancer addresses of class " + flags.announceClass +
                       " (and of none) on " + flags.announceInterface + ": Leases in " +
                       flags.leaseNamespace + ", duration " + flags.leaseDuration +
                       ", renew deadline " + flags.renewDeadline + ", retry " + flags.retryPeriod);
    announcer->start();
  }
  svcnft::agent::HttpEndpoints http(agent, metrics);
  if (auto started = http.start(healthzBind, metricsBind); !started) {
    // kube-proxy's bindAddressHardFail: false (its default) logs and goes on.
    if (!kubeProxy || kubeProxy->bindAddressHardFail) {
      std::cerr << "svcnft: " << started.error().message << "\n";
      return kExitUsage;
    }
    http.stop();
    svcnft::agent::log("warning: " + started.error().message +
                       "; going on without /healthz, /livez and /metrics "
                       "(bindAddressHardFail is false)");
  }
  const int rc = agent.run();
  // A clean stop releases the Leases held: another node takes over at its next try.
  if (announcer) announcer->stop();
  http.stop();
  if (apiSource) apiSource->stop();
  return rc;
}

int runCleanup(const std::string& table) {
  auto sock = openSocket();
  if (!sock) return kExitKernel;
  unlink(svcnft::writer::statePath(table, svcnft::writer::currentNetns()).c_str());
  auto removed = svcnft::writer::cleanup(sock.value(), table);
  if (!removed) {
    std::cerr << "svcnft: " << removed.error().message << "\n";
    return kExitKernel;
  }
  std::cerr << "svcnft: " << (*removed ? "removed table inet " : "no table inet ") << table << "\n";
  // The LoadBalancer handover tables (announce/handover_table.h), when there are any.
  auto handover = svcnft::announce::removeHandoverTables(sock.value());
  if (!handover) {
    std::cerr << "svcnft: " << handover.error().message << "\n";
    return kExitKernel;
  }
  if (*handover) std::cerr << "svcnft: removed the tables ip and ip6 svcnft-handover\n";
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"svcnft: Kubernetes Services as nftables maps"};
  app.require_subcommand(1);

  std::vector<std::string> paths;
  ConfigFiles nodeConfig;
  const char* kubeProxyHelp = "kube-proxy's KubeProxyConfiguration file, laid over the node config";
  bool stats = false;
  CLI::App* compile = app.add_subcommand(
      "compile", "print the complete ruleset as an nft script (the dry-run dump)");
  compile->add_option("-f,--filename", paths, "manifest file or directory (repeatable)")
      ->required();
  compile->add_option("--node-config", nodeConfig.nodeConfig, "node config YAML");
  compile->add_option("--config", nodeConfig.kubeProxyConfig, kubeProxyHelp);
  compile->add_flag("--stats", stats, "print object counts and timings on stderr");

  CLI::App* apply = app.add_subcommand(
      "apply", "install the ruleset in one atomic transaction (replacing ours if present)");
  apply->add_option("-f,--filename", paths, "manifest file or directory (repeatable)")->required();
  apply->add_option("--node-config", nodeConfig.nodeConfig, "node config YAML");
  apply->add_option("--config", nodeConfig.kubeProxyConfig, kubeProxyHelp);
  bool refill = false;
  apply->add_flag("--refill", refill,
                  "do not read the installed elements back: flush and refill every set in the "
                  "transaction (the default past 200,000 elements, where reading back is slow)");
  std::size_t recordLimit = svcnft::writer::kRecordElementLimit;
  const char* recordLimitHelp =
      "past this many kernel elements the state record (/run/svcnft) keeps only a digest of the "
      "table, not its elements";
  apply->add_option("--record-element-limit", recordLimit, recordLimitHelp);

  CLI::App* diffCmd = app.add_subcommand("diff", "print what apply would change, changing nothing");
  diffCmd->add_option("-f,--filename", paths, "manifest file or directory (repeatable)")
      ->required();
  diffCmd->add_option("--node-config", nodeConfig.nodeConfig, "node config YAML");
  diffCmd->add_option("--config", nodeConfig.kubeProxyConfig, kubeProxyHelp);

  std::string table = "svcnft";
  AgentFlags agentFlags;
  CLI::App* agentCmd = app.add_subcommand(
      "agent",
      "the node daemon: follow the API server and/or a directory, apply changes atomically, "
      "serve health and metrics");
  agentCmd->add_option("--watch", agentFlags.watchDir, "directory of manifests to watch");
  agentCmd->add_option("--kubeconfig", agentFlags.kubeconfig,
                       "read Services and EndpointSlices from the API server of this kubeconfig "
                       "(without it and without --watch: the in-cluster configuration)");
  agentCmd->add_option(
      "--hostname-override", agentFlags.hostnameOverride,
      "this node's name (default: the node config's nodeName, else the host name)");
  agentCmd->add_option("--service-proxy-name", agentFlags.serviceProxyName,
                       "only Services labelled service.kubernetes.io/service-proxy-name=NAME "
                       "(kube-proxy ignores them: a trial beside it)");
  agentCmd->add_option("--node-config", agentFlags.nodeConfig, "node config YAML");
  agentCmd->add_option("--config", agentFlags.kubeProxyConfig,
                       std::string(kubeProxyHelp) +
                           " (its sync periods, bind addresses and conntrack settings too; "
                           "flags given here win)");
  CLI::Option* minSyncOpt = agentCmd->add_option("--min-sync-interval", agentFlags.minSync,
                                                 "coalesce changes: at most one sync per");
  CLI::Option* fullCheckOpt =
      agentCmd->add_option("--full-check-period", agentFlags.fullCheck,
                           "read the table back and repair drift at least this often");
  CLI::Option* healthzOpt = agentCmd->add_option("--healthz-bind", agentFlags.healthzBind,
                                                 "/healthz and /livez (empty: off)");
  CLI::Option* metricsOpt =
      agentCmd->add_option("--metrics-bind", agentFlags.metricsBind, "/metrics (empty: off)");

  agentCmd->add_option("--announce-interface", agentFlags.announceInterface,
                       "answer ARP and neighbour solicitations for LoadBalancer addresses on "
                       "this interface, one node per address, elected with Leases (empty: off)");
  agentCmd->add_option("--announce-class", agentFlags.announceClass,
                       "the loadBalancerClass announced (Services without a class too)");
  agentCmd->add_option("--lease-namespace", agentFlags.leaseNamespace,
                       "where the announcement Leases live");
  agentCmd->add_option("--lease-duration", agentFlags.leaseDuration,
                       "how long another node waits before taking an address over");
  agentCmd->add_option("--renew-deadline", agentFlags.renewDeadline,
                       "a holder that could not renew for this long goes silent");
  agentCmd->add_option("--retry-period", agentFlags.retryPeriod, "how often Leases are tried");
  agentCmd->add_option("--record-element-limit", agentFlags.recordLimit, recordLimitHelp);

  CLI::App* show = app.add_subcommand(
      "show", "read the installed ruleset back: each service, its addresses, endpoints, weights");
  show->add_option("--table", table, "our table's name (the node config's `table`)");
  CLI::App* cleanup =
      app.add_subcommand("cleanup", "remove everything svcnft installed, and nothing else");
  cleanup->add_option("--table", table, "our table's name (the node config's `table`)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }
  if (compile->parsed() || apply->parsed() || diffCmd->parsed()) keepFreedMemory();
  if (compile->parsed()) return runCompile(paths, nodeConfig, stats);
  if (apply->parsed()) return runApply(paths, nodeConfig, refill, recordLimit);
  if (cleanup->parsed()) return runCleanup(table);
  if (diffCmd->parsed()) return runDiff(paths, nodeConfig);
  if (show->parsed()) return runShow(table);
  if (agentCmd->parsed()) {
    agentFlags.minSyncGiven = minSyncOpt->count() > 0;
    agentFlags.fullCheckGiven = fullCheckOpt->count() > 0;
    agentFlags.healthzGiven = healthzOpt->count() > 0;
    agentFlags.metricsGiven = metricsOpt->count() > 0;
    return runAgent(agentFlags);
  }
  return kExitUsage;
}
