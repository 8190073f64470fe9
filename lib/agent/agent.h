// The node agent's loop: watch the inputs, coalesce bursts, sync only the
// difference, repair drift, report health.
//
// - No kernel change until every source has read all its inputs once (for the
//   API: Services and EndpointSlices listed completely); at start the installed
//   table is read back and adopted (no flush, no lost connection).
// - Several sources (a directory, the API server) file into one inventory; a
//   Service that two of them define is a conflict: reported, last good rules kept.
// - Every seam is injected (kernel transport, event monitor, conntrack, clock,
//   supervisor), so the loop runs in unit tests without root.
// - Changes are coalesced: at most one sync per min-sync-interval, never two at once.
// - A sync costs what changed: only the Services whose inputs differ are compiled
//   and diffed (writer::LiveTable), and the transaction holds only their elements.
//   The full way (compile everything, read the kernel back) is taken at start, for
//   drift checks, and while the inputs conflict.
// - Bad input never breaks what works: a file keeps its last good contents; when
//   the files together do not validate, the last good ruleset stays.
// - Drift: nf_tables events about our table from anyone else, and a periodic full
//   check, trigger a read-back; whatever differs is restored.
// - SIGTERM, SIGINT: stop, leaving the rules in the kernel (only cleanup removes them).
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "agent/health_check_ports.h"
#include "agent/metrics.h"
#include "agent/notifier.h"
#include "agent/udp_fronts.h"
#include "announce/announcer.h"
#include "compile/ir.h"
#include "model/service.h"
#include "netlink/conntrack.h"
#include "netlink/transport.h"
#include "source/inventory.h"
#include "source/source.h"
#include "writer/live_table.h"
#include "writer/state_record.h"
#include "writer/writer.h"

namespace svcnft::agent {

struct Options {
  std::chrono::milliseconds minSyncInterval{100};
  std::chrono::milliseconds fullCheckPeriod{60000};
  // kube-proxy's healthz turns unhealthy when a change waits longer than this.
  std::chrono::milliseconds healthTimeout{60000};
  // The state record of our table (writer/state_record.h): saved at a clean stop,
  // read by the first sync, which then need not read the table back while the
  // kernel still holds what it describes. Empty: none kept.
  std::string stateRecordPath;
  uint64_t netns = 0;  // this network namespace's cookie, for the record
  // Past this many elements the record keeps only the table's digest.
  std::size_t recordElementLimit = writer::kRecordElementLimit;
};

// The agent's time: steady for intervals, wall for what it reports.
class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
  virtual double unixNow() const = 0;  // Unix seconds
};

class SystemClock : public Clock {
 public:
  TimePoint now() const override { return std::chrono::steady_clock::now(); }
  double unixNow() const override;
};

// The kernel as the agent uses it.
struct Kernel {
  netlink::Transport& transport;
  netlink::EventMonitor& monitor;
  netlink::ConntrackCleaner& conntrack;
};

// Per Service, what the metrics sum up: Service ports whose Local policy finds no
// endpoint here (internal, external), and refused spec.externalIPs addresses.
struct ServiceStats {
  int noLocalInternal = 0, noLocalExternal = 0, refusedExternalIPs = 0;
  ServiceStats& operator+=(const ServiceStats& o) {
    noLocalInternal += o.noLocalInternal;
    noLocalExternal += o.noLocalExternal;
    refusedExternalIPs += o.refusedExternalIPs;
    return *this;
  }
  ServiceStats& operator-=(const ServiceStats& o) {
    noLocalInternal -= o.noLocalInternal;
    noLocalExternal -= o.noLocalExternal;
    refusedExternalIPs -= o.refusedExternalIPs;
    return *this;
  }
  bool operator==(const ServiceStats&) const = default;
};

class Agent {
 public:
  Agent(Options options, NodeConfig node, std::vector<source::Source*> sources, Kernel kernel,
        Notifier& notifier, Metrics& metrics, const Clock& clock);

  // Runs until SIGTERM or SIGINT; returns the exit code.
  int run();
  // A sync that failed is tried again after min-sync-interval, doubling with every
  // failure in a row up to this (kube-proxy's sync period); a success resets it.
  static constexpr std::chrono::milliseconds kMaxBackoff{30000};
  // One round of the loop: waits at most `maxWait` for an input, a kernel event
  // or `extraFd` (-1: none), then does what is due. Returns true when `extraFd`
  // became readable (run() passes its signal fd). Tests drive the loop with it.
  bool runOnce(std::chrono::milliseconds maxWait, int extraFd = -1);

  // For /healthz and /livez (called from the HTTP thread).
  struct SourceHealth {
    std::string name;
    bool ready = false;
    std::optional<double> currentAsOf;  // Unix seconds; nullopt: always current
  };
  struct Health {
    bool synced = false;     // a first sync has happened
    bool healthy = false;    // no change has waited longer than healthTimeout
    bool nodeEligible = true;  // the Node is neither being deleted nor about to be
    double lastUpdated = 0;  // Unix seconds of the last successful sync
    double now = 0;          // Unix seconds, by the agent's clock
    std::vector<SourceHealth> sources;
  };
  Health health() const;
  const source::Inventory& inventory() const { return inventory_; }
  // LoadBalancer addresses of Services of `lbClass` (or of none) go to `announcer`
  // after each sync (announce/announcer.h).
  void announceWith(announce::Announcer& announcer, std::string lbClass) {
    announcer_ = &announcer;
    lbClass_ = std::move(lbClass);
  }

 private:
  using TimePoint = Clock::TimePoint;
  // One sync of whatever changed since the last. `verify` reads the installed
  // table back instead of trusting what we last committed.
  void sync(bool verify);
  // Only the Services in `changed`; false: this needs the full way.
  bool syncServices(const std::set<std::string>& changed, TimePoint start,
                    std::optional<TimePoint> seen);
  // Everything: compile all inputs, read the kernel back, send the difference.
  // True when it committed (or found nothing to do); it then has observed the
  // trigger times of `changed` and emptied it.
  bool syncAll(bool verify, std::set<std::string>& changed, TimePoint start,
               std::optional<TimePoint> seen);
  // The per-Service state (table, UDP fronts, counts) after a full sync: the
  // `changed` Services' shares onto the live table, or, without `changed`, every
  // Service's onto a new one. prepareAdoption() changes nothing; commitAdoption()
  // adopts it once the full sync committed (or the kernel was found to hold it
  // already). False: a conflict kept it from being adopted.
  struct Adoption {
    std::vector<ServiceInput> inputs;
    std::optional<writer::LiveTable> fresh;
    writer::LiveTable::Pending pending;
    std::unordered_map<std::string, UdpFronts> udp;
    std::unordered_map<std::string, ServiceStats> stats;
    bool committed = false;    // `fresh` holds `pending` already (adoptedFromDigest)
    std::size_t elements = 0;  // ... with the node's own: the kernel's count
  };
  Adoption prepareAdoption(const std::set<std::string>* changed) const;
  bool commitAdoption(Adoption&& adoption);
  // A rebuilt live table whose Services, with the node's own elements, give the
  // digest `record` keeps, in a kernel still at its generation: that generation
  // (the kernel holds what the inputs make). Commits `a` into its table either way.
  std::optional<uint32_t> adoptedFromDigest(Adoption& a, const writer::StateRecord& record);
  // Deletes UDP conntrack entries of `stale` fronts that no current endpoint answers.
  // A failed cleanup is tried again later (with backoff) for the same fronts, with
  // the endpoints they have then: a stale flow would keep its clients on a pod that left.
  void cleanUdpConntrack(UdpFronts stale);
  std::set<IpAddress> udpEndpointsNow(const UdpFrontKey& front) const;
  // After `failures` in a row: min-sync-interval doubling, at most kMaxBackoff.
  std::chrono::milliseconds backoff(int failures) const;
  // A sync that committed: metrics, health, sd_notify status, the log line.
  // Metrics of the changes taken in, and of the Local policies with no local endpoint.
  void reportChanges();
  void keepStats(const std::vector<ServiceInput>& inputs,
                 const std::unordered_map<std::string, ServiceStats>& now);
  void finishSync(bool full, std::size_t elements, TimePoint start, std::optional<TimePoint> seen);
  // Sends one transaction of ours. Past kQuietOperations element operations (or a
  // whole table) it goes with the event subscription paused: while we listen, the
  // kernel builds an event per element (10,000 x 100: 60 s instead of 4 s).
  static constexpr std::size_t kQuietOperations = 2000;
  Result<writer::ApplyReport> send(const ir::Ruleset& rs, const diff::Plan& plan, bool tableExists);
  Result<writer::ApplyReport> sendPlan(const ir::Ruleset& rs, const diff::Plan& plan,
                                       bool tableExists);
  // What this kernel supports, probed once before the first transaction.
  const nft::KernelFeatures& kernelFeatures();
  // Remembers the ruleset generation once the kernel holds what we synced (`known`:
  // as the transaction's report gave it; else it is read)...
  void noteSynced(std::optional<uint32_t> known = std::nullopt);
  // ... so that a periodic check can tell nobody committed anything since, and skip
  // reading the table back (a dump costs the table's size squared in the kernel).
  bool nothingCommittedSinceSync();
  // Reads the events our own transaction caused, so its overrun of the event
  // socket is not taken for drift (that cost a second full sync after each start).
  void drainOwnEvents();
  // A sync the kernel refused or that could not read it: trust nothing kept.
  void syncFailed(const std::string& why);
  // The state record left by the last clean stop, once (the file goes: it is good
  // for one start only); nullopt after that, or when there is none.
  std::optional<writer::StateRecord> takeStartRecord();
  // At a clean stop: what the kernel holds, when it is exactly what we committed.
  void saveStateRecord();

  bool allSourcesReady() const;
  // Takes in what every source has; true when this node's facts changed the node
  // config the rules are compiled for (the next sync must go the full way).
  std::set<std::string> refreshSources(Diagnostics& problems, bool& nodeChanged);
  // Observes the EndpointSlices' last-change-trigger-time of the Services in
  // `changed` (kube-proxy's network programming duration), each once.
  void observeTriggerTimes(const std::set<std::string>& changed);
  // Tells the announcer what this node would announce, after a sync of `changed`
  // (all: every Service).
  void updateAnnouncements(const std::set<std::string>& changed, bool all);

  Options options_;
  const NodeConfig baseNode_;  // as configured; node_ adds what sources know of the node
  NodeConfig node_;
  std::vector<source::Source*> sources_;
  source::Inventory inventory_;
  netlink::Transport& transport_;
  netlink::EventMonitor& monitor_;
  netlink::ConntrackCleaner& conntrack_;
  Notifier& notifier_;
  Metrics& metrics_;
  const Clock& clock_;
  const double startedAt_;  // Unix seconds
  std::optional<nft::KernelFeatures> kernel_;  // probed before the first transaction
  bool started_ = false;    // the first sync (after every source was ready) has run
  bool startRecordTaken_ = false;
  std::unordered_map<std::string, double> triggerSeen_;  // slice → trigger time observed

  // What we last committed, Service by Service (none: the next sync goes the full way).
  std::optional<writer::LiveTable> live_;
  std::unordered_map<std::string, UdpFronts> udpByService_;  // ... its UDP fronts
  std::unordered_map<std::string, ServiceStats> statsByService_;  // ... its counts for metrics
  ServiceStats statsSum_{};                                       // and their sums
  std::map<uint16_t, HealthCheck> healthWanted_;             // ... its health checks
  bool trusted_ = false;  // the last sync committed: a difference found now is drift
  std::optional<uint32_t> syncedGeneration_;  // the ruleset generation after it
  std::optional<TimePoint> pendingSince_;
  TimePoint lastSyncStart_{};
  TimePoint lastFullCheck_{};
  std::optional<TimePoint> verifyAt_;
  int syncFailures_ = 0;              // in a row; the next sync waits for backoff()
  std::optional<TimePoint> retryAt_;  // no sync before this, after a failure
  std::set<UdpFrontKey> udpRetry_;    // fronts whose conntrack cleanup failed
  int conntrackFailures_ = 0;         // in a row
  std::optional<TimePoint> conntrackRetryAt_;
  TimePoint lastWatchdog_{};
  bool readyNotified_ = false;
  announce::Announcer* announcer_ = nullptr;
  std::string lbClass_;
  // Per Service: what it has this node announce, whether it asks for pool
  // addresses, and the LoadBalancer addresses it has (taken, for the allocator).
  struct ServiceAnnouncements {
    std::vector<announce::Announcement> announce;
    std::optional<announce::AddressRequest> request;
    std::vector<IpAddress> used;
  };
  std::map<std::string, ServiceAnnouncements> announceByService_;

  mutable std::mutex healthMu_;
  Health health_;
  std::optional<TimePoint> healthPendingSince_;
  // Last, so that it stops (its threads ask health()) before what health() reads goes.
  HealthCheckServers healthChecks_{[this] { return health().healthy; }};
};

}  // namespace svcnft::agent
