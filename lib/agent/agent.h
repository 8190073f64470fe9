// The node agent's loop: watch the inputs, coalesce bursts, sync only the
// difference, repair drift, report health.
//
// - No kernel change until every input has been read once; at start the
//   installed table is read back and adopted (no flush, no lost connection).
// - Changes are coalesced: at most one sync per min-sync-interval, never two at once.
// - Bad input never breaks what works: a file keeps its last good contents; when
//   the files together do not validate, the last good ruleset stays.
// - Drift: nf_tables events about our table from anyone else, and a periodic full
//   check, trigger a read-back; whatever differs is restored.
// - SIGTERM, SIGINT: stop, leaving the rules in the kernel (only cleanup removes them).
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>

#include "agent/health_check_ports.h"
#include "agent/metrics.h"
#include "agent/notifier.h"
#include "agent/source.h"
#include "agent/udp_fronts.h"
#include "compile/ir.h"
#include "model/service.h"
#include "netlink/transport.h"
#include "writer/installed.h"

namespace svcnft::agent {

struct Options {
  std::chrono::milliseconds minSyncInterval{100};
  std::chrono::milliseconds fullCheckPeriod{60000};
  // kube-proxy's healthz turns unhealthy when a change waits longer than this.
  std::chrono::milliseconds healthTimeout{60000};
};

class Agent {
 public:
  Agent(Options options, NodeConfig node, Source& source, netlink::Transport& transport,
        netlink::Monitor& monitor, Notifier& notifier, Metrics& metrics);

  // Runs until SIGTERM or SIGINT; returns the exit code.
  int run();

  // For /healthz and /livez (called from the HTTP thread).
  struct Health {
    bool synced = false;     // a first sync has happened
    bool healthy = false;    // no change has waited longer than healthTimeout
    double lastUpdated = 0;  // Unix seconds of the last successful sync
  };
  Health health() const;

 private:
  using Clock = std::chrono::steady_clock;
  // One sync: compile the current inputs and make the kernel hold them. `verify`
  // reads the installed table back instead of trusting what we last wrote.
  void sync(bool verify);
  // After a commit: delete UDP conntrack entries of fronts whose endpoints changed
  // that no current endpoint answers.
  void cleanUdpConntrack(const ir::Ruleset& rs);

  Options options_;
  NodeConfig node_;
  Source& source_;
  netlink::Transport& transport_;
  netlink::Monitor& monitor_;
  Notifier& notifier_;
  Metrics& metrics_;

  std::optional<writer::Installed> installed_;  // what we last committed
  UdpFronts udpFronts_;                         // ... and its UDP fronts' endpoints
  HealthCheckServers healthChecks_;
  std::optional<Clock::time_point> pendingSince_;
  Clock::time_point lastSyncStart_{};
  Clock::time_point lastFullCheck_{};
  std::optional<Clock::time_point> verifyAt_;
  bool readyNotified_ = false;

  mutable std::mutex healthMu_;
  Health health_;
  std::optional<Clock::time_point> healthPendingSince_;
};

}  // namespace svcnft::agent
