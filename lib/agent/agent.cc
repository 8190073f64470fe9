#include "agent/agent.h"

#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <iostream>

#include "compile/compiler.h"
#include "netlink/conntrack.h"
#include "spec/loader.h"
#include "writer/sync_plan.h"
#include "writer/writer.h"

namespace svcnft::agent {

namespace {

double unixNow() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec / 1e9;
}

void log(const std::string& line) { std::cerr << "svcnft agent: " << line << std::endl; }

std::size_t endpointCount(const Inputs& in) {
  std::size_t n = 0;
  for (const auto& s : in.slices) n += s.endpoints.size();
  return n;
}

}  // namespace

Agent::Agent(Options options, NodeConfig node, Source& source, netlink::Transport& transport,
             netlink::Monitor& monitor, Notifier& notifier, Metrics& metrics)
    : options_(options),
      node_(std::move(node)),
      source_(source),
      transport_(transport),
      monitor_(monitor),
      notifier_(notifier),
      metrics_(metrics) {}

Agent::Health Agent::health() const {
  std::lock_guard<std::mutex> l(healthMu_);
  Health h = health_;
  h.healthy = h.synced && (!healthPendingSince_ ||
                           Clock::now() - *healthPendingSince_ < options_.healthTimeout);
  return h;
}

void Agent::sync(bool verify) {
  const auto start = Clock::now();
  lastSyncStart_ = start;
  const auto seen = pendingSince_;
  pendingSince_.reset();

  // A file's own problems: logged and counted once; its last good contents stand in.
  Diagnostics fileProblems;
  spec::Manifests manifests = source_.current(fileProblems);
  for (const auto& d : fileProblems.all()) log(d.format());
  if (fileProblems.errorCount() > 0) metrics_.inputErrors(fileProblems.errorCount());
  // Problems between files (a nodePort claimed twice, say) block the sync: the last
  // good ruleset stays until they are fixed.
  Diagnostics problems;
  spec::validate(manifests, node_, problems);
  Inputs inputs{std::move(manifests.services), std::move(manifests.slices), node_};
  ir::Ruleset rs;
  if (!problems.hasErrors()) rs = compileRuleset(inputs, problems);
  for (const auto& d : problems.all()) log(d.format());
  if (problems.hasErrors()) {
    metrics_.inputErrors(problems.errorCount());
    log(installed_ ? "the inputs do not validate together; the installed rules stay as they are"
                   : "the inputs do not validate together; nothing installed until they do");
    return;
  }

  // What the kernel will hold once this sync commits: the base of the next diff.
  writer::Installed desired = writer::installedFrom(rs);
  diff::Plan plan;
  bool tableMissing = false;
  if (verify || !installed_) {
    auto planned = writer::planApply(transport_, rs, desired);
    if (!planned) {
      log("reading the kernel: " + planned.error().message);
      metrics_.syncFailed();
      verifyAt_ = Clock::now() + options_.minSyncInterval;
      return;
    }
    tableMissing = !planned->tableExists;
    plan = std::move(planned->plan);
    lastFullCheck_ = Clock::now();
  } else {
    plan = writer::planSync(rs, desired, *installed_);
  }

  const bool full = tableMissing || plan.replaceAll;
  auto applied = writer::applyPlan(transport_, rs, plan, !tableMissing);
  if (!applied) {
    log(applied.error().message);
    metrics_.syncFailed();
    installed_.reset();  // trust nothing: the next sync reads the kernel back
    verifyAt_ = Clock::now() + options_.minSyncInterval;
    return;
  }
  const bool changed = applied->kind != writer::ApplyReport::Kind::kUnchanged;
  if (changed && verify && installed_ && !seen) {
    // Nothing of ours was pending, yet the kernel differed: someone else changed it.
    metrics_.driftRepaired();
    log("the installed table had been changed by someone else; restored" +
        (plan.why.empty() ? std::string() : " (" + plan.why + ")"));
  }
  installed_ = std::move(desired);
  cleanUdpConntrack(rs);
  healthChecks_.update(healthChecks(inputs));
  // A sync's parse trees, ruleset and batch are gone by now; give their pages
  // back, so the resident size between syncs is what the agent keeps.
  malloc_trim(0);

  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  metrics_.observeSync(full, seconds);
  metrics_.synced(unixNow(), inputs.services.size(), endpointCount(inputs));
  if (seen) {
    metrics_.observeProgramming(std::chrono::duration<double>(Clock::now() - *seen).count());
  }
  char status[160];
  std::snprintf(status, sizeof status, "synced %zu services, %zu elements (%s, %.1f ms)",
                inputs.services.size(), rs.elementCount(), full ? "full" : "partial",
                seconds * 1000);
  {
    std::lock_guard<std::mutex> l(healthMu_);
    health_.synced = true;
    health_.lastUpdated = unixNow();
    if (!pendingSince_) healthPendingSince_.reset();
  }
  if (!readyNotified_) {
    notifier_.ready(status);
    readyNotified_ = true;
  } else {
    notifier_.status(status);
  }
  if (seen) {
    log(std::string(status) + "; programming latency " +
        std::to_string(std::chrono::duration<double, std::milli>(Clock::now() - *seen).count()) +
        " ms");
  }
}

void Agent::cleanUdpConntrack(const ir::Ruleset& rs) {
  UdpFronts now = udpFronts(rs);
  const UdpFronts stale = changed(udpFronts_, now);
  udpFronts_ = std::move(now);
  if (stale.empty()) return;
  auto deleted = netlink::deleteUdpFlows([&](const netlink::UdpFlow& f) {
    auto it = stale.find({false, f.originalDestination, f.originalPort});
    // NodePort flows are recognised by port only, and only when DNATed (the node's
    // own UDP services on the same port are none of our business).
    if (it == stale.end() && f.dnat) it = stale.find({true, IpAddress(), f.originalPort});
    return it != stale.end() && !it->second.count(f.replySource);
  });
  if (!deleted) {
    log("UDP conntrack cleanup: " + deleted.error().message);
    return;
  }
  if (*deleted > 0) {
    metrics_.conntrackDeleted(static_cast<std::size_t>(*deleted));
    log("deleted " + std::to_string(*deleted) + " UDP conntrack entries of endpoints that left");
  }
}

int Agent::run() {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  const int sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

  // Read every input once, adopt what is installed, then sync: no change before that.
  source_.consumeEvents();
  sync(/*verify=*/true);
  auto lastWatchdog = Clock::now();

  for (;;) {
    const auto now = Clock::now();
    // The next thing to do, whichever comes first.
    auto next = lastFullCheck_ + options_.fullCheckPeriod;
    if (pendingSince_)
      next = std::min(next, std::max(now, lastSyncStart_ + options_.minSyncInterval));
    if (verifyAt_) next = std::min(next, *verifyAt_);
    const auto wd = notifier_.watchdogInterval();
    if (wd.count() > 0) next = std::min(next, lastWatchdog + wd);
    const int timeoutMs = static_cast<int>(std::max<long long>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count() + 1));

    pollfd fds[3] = {{sigfd, POLLIN, 0}, {source_.fd(), POLLIN, 0}, {monitor_.fd(), POLLIN, 0}};
    poll(fds, 3, timeoutMs);
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo si{};
      if (read(sigfd, &si, sizeof si) > 0) {
        log("stopping on signal " + std::to_string(si.ssi_signo) +
            "; the rules stay in the kernel");
        notifier_.status("stopped; rules left in place");
        healthChecks_.stopAll();
        close(sigfd);
        return 0;
      }
    }
    if ((fds[1].revents & POLLIN) && source_.consumeEvents() && !pendingSince_) {
      pendingSince_ = Clock::now();
      std::lock_guard<std::mutex> l(healthMu_);
      if (!healthPendingSince_) healthPendingSince_ = pendingSince_;
    }
    if ((fds[2].revents & POLLIN) &&
        monitor_.changedBySomeoneElse(node_.table, transport_.portId())) {
      // Someone else touched our table: look within a few milliseconds, after their
      // transaction (a flush and reload, say) has settled.
      if (!verifyAt_) verifyAt_ = Clock::now() + std::chrono::milliseconds(20);
    }
    const auto t = Clock::now();
    if (wd.count() > 0 && t >= lastWatchdog + wd) {
      notifier_.watchdog();
      lastWatchdog = t;
    }
    const bool verify =
        (verifyAt_ && t >= *verifyAt_) || t >= lastFullCheck_ + options_.fullCheckPeriod;
    const bool due = pendingSince_ && t >= lastSyncStart_ + options_.minSyncInterval;
    if (verify || due) {
      if (verify) verifyAt_.reset();
      sync(verify);
    }
  }
}

}  // namespace svcnft::agent
