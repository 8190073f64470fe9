#include "agent/agent.h"

#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <iostream>

#include "agent/heap.h"
#include "agent/log.h"
#include "announce/wanted.h"
#include "compile/compiler.h"
#include "compile/skeleton.h"
#include "manifest/loader.h"
#include "netlink/conntrack.h"
#include "writer/ruleset_digest.h"
#include "writer/sync_plan.h"
#include "writer/writer.h"

namespace svcnft::agent {

namespace {

// What the agent keeps per Service from each changed Service's share as it is
// compiled: its UDP fronts, and its counts for the metrics.
writer::LiveTable::ShareObserver collectShares(
    const std::vector<ServiceInput>& inputs, std::unordered_map<std::string, UdpFronts>& udp,
    std::unordered_map<std::string, ServiceStats>& stats) {
  std::unordered_map<std::string, const ServiceInput*> byKey;
  for (const auto& in : inputs) byKey.emplace(in.key, &in);
  return [byKey = std::move(byKey), &udp, &stats](const std::string& key,
                                                  const ir::Ruleset& share) {
    auto in = byKey.find(key);
    if (in == byKey.end()) return;
    UdpFronts u = udpFronts(share, std::vector<ServiceInput>{*in->second});
    if (!u.empty()) udp.emplace(key, std::move(u));
    const ServiceStats st{share.noLocalInternal, share.noLocalExternal, share.refusedExternalIPs};
    if (!(st == ServiceStats{})) stats[key] = st;
  };
}

}  // namespace

double SystemClock::unixNow() const {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec / 1e9;
}

Agent::Agent(Options options, NodeConfig node, std::vector<source::Source*> sources, Kernel kernel,
             Notifier& notifier, Metrics& metrics, const Clock& clock)
    : options_(options),
      baseNode_(node),
      node_(std::move(node)),
      sources_(std::move(sources)),
      transport_(kernel.transport),
      monitor_(kernel.monitor),
      conntrack_(kernel.conntrack),
      notifier_(notifier),
      metrics_(metrics),
      clock_(clock),
      startedAt_(clock.unixNow()) {
  for (auto* s : sources_) health_.sources.push_back({s->name(), false, std::nullopt});
}

Agent::Health Agent::health() const {
  std::lock_guard<std::mutex> l(healthMu_);
  Health h = health_;
  h.healthy = h.synced && (!healthPendingSince_ ||
                           clock_.now() - *healthPendingSince_ < options_.healthTimeout);
  h.now = clock_.unixNow();
  return h;
}

bool Agent::allSourcesReady() const {
  return std::all_of(sources_.begin(), sources_.end(),
                     [](const source::Source* s) { return s->ready(); });
}

std::set<std::string> Agent::refreshSources(Diagnostics& problems, bool& nodeChanged) {
  std::set<std::string> changed;
  for (auto* s : sources_) changed.merge(s->refresh(inventory_, problems));
  // What a source knows of this node fills in what the node config leaves open:
  // the Node's primary addresses take NodePorts (kube-proxy's nodePortAddresses
  // "primary", its nftables default); its podCIDRs and zone are kept.
  NodeConfig next = baseNode_;
  bool leaving = false;
  for (auto* s : sources_) {
    auto facts = s->node();
    if (!facts) continue;
    leaving = leaving || facts->leaving;
    if (next.nodeIPs.empty() && next.nodePortsOnPrimary) next.nodeIPs = facts->addresses;
    if (next.podCIDRs.empty()) next.podCIDRs = facts->podCIDRs;
    if (next.zone.empty()) next.zone = facts->zone;
  }
  {
    std::lock_guard<std::mutex> l(healthMu_);
    health_.nodeEligible = !leaving;
  }
  nodeChanged = !(next == node_);
  if (nodeChanged) {
    log("this node's facts changed (NodePort addresses, pod CIDRs or zone); syncing the full way");
    node_ = std::move(next);
  }
  {
    std::lock_guard<std::mutex> l(healthMu_);
    for (std::size_t i = 0; i < sources_.size(); ++i) {
      health_.sources[i].ready = sources_[i]->ready();
      health_.sources[i].currentAsOf = sources_[i]->currentAsOf();
    }
  }
  return changed;
}

void Agent::observeTriggerTimes(const std::set<std::string>& changed) {
  const double now = clock_.unixNow();
  double worst = -1;
  int observed = 0;
  for (const auto& key : changed) {
    for (const auto* slice : inventory_.lookup(key).slices) {
      // As kube-proxy: changes triggered before the agent started are not its latency.
      if (slice->triggerTime <= startedAt_) continue;
      double& seen = triggerSeen_[slice->ns + "/" + slice->name];
      if (slice->triggerTime <= seen) continue;  // this change was observed already
      seen = slice->triggerTime;
      const double latency = std::max(0.0, now - slice->triggerTime);
      metrics_.observeNetworkProgramming(latency);
      worst = std::max(worst, latency);
      ++observed;
    }
  }
  if (observed > 0) {
    char line[120];
    std::snprintf(line, sizeof line, "network programming latency %.3f ms (%d slices, the slowest)",
                  worst * 1000, observed);
    log(line);
  }
}

void Agent::sync(bool verify) {
  const auto start = clock_.now();
  lastSyncStart_ = start;
  const auto seen = pendingSince_;
  pendingSince_.reset();

  // An input's own problems: logged and counted once; its last good contents stand in.
  Diagnostics inputProblems;
  bool nodeChanged = false;
  std::set<std::string> changed = refreshSources(inputProblems, nodeChanged);
  for (const auto& d : inputProblems.all()) log(d.format());
  if (inputProblems.errorCount() > 0) metrics_.inputErrors(inputProblems.errorCount());
  reportChanges();
  if (nodeChanged) live_.reset();

  if (!verify && live_ && !inventory_.hasConflicts() && syncServices(changed, start, seen)) {
    observeTriggerTimes(changed);
    return;
  }
  if (!syncAll(verify, changed, start, seen) && trusted_) observeTriggerTimes(changed);
}

bool Agent::syncServices(const std::set<std::string>& changed, TimePoint start,
                         std::optional<TimePoint> seen) {
  const source::Inventory& inventory = inventory_;
  std::vector<ServiceInput> inputs;
  Manifests orphans;  // slices of Services that are not defined: warned about
  for (const auto& key : changed) {
    inputs.push_back(inventory.lookup(key));
    if (!inputs.back().service) {
      for (const auto* s : inputs.back().slices) orphans.slices.push_back(*s);
    }
  }
  Diagnostics problems;
  manifest::validate(orphans, node_, problems);
  std::unordered_map<std::string, UdpFronts> udpNow;
  std::unordered_map<std::string, ServiceStats> statsNow;
  auto pending = live_->prepare(inputs, problems, collectShares(inputs, udpNow, statsNow));
  for (const auto& d : problems.all()) log(d.format());
  if (!pending.conflict.empty() || problems.hasErrors()) return false;

  // Affinity entries pointing at endpoints that left go in the same transaction.
  for (const auto& [family, fronts] : pending.affinityFronts) {
    const std::string set = skeleton::setName(skeleton::SetKind::kAffinity, family);
    auto entries = writer::readSetElements(transport_, node_.table, set);
    if (!entries) {
      syncFailed("reading " + set + ": " + entries.error().message);
      return true;
    }
    diff::SetDelta stale;
    stale.set = set;
    stale.remove =
        family == IpFamily::kV4
            ? writer::staleAffinity(*entries, pending.affinityEndpoints[family], &fronts, 4)
            : writer::staleHashedAffinity(
                  *entries,
                  writer::leftEndpoints(pending.affinityEndpointsBefore[family],
                                        pending.affinityEndpoints[family]),
                  nullptr);
    if (!stale.remove.empty()) pending.plan.sets.push_back(std::move(stale));
  }

  std::optional<uint32_t> generation;
  if (!pending.plan.empty()) {
    auto applied = send(pending.adds, pending.plan, /*tableExists=*/true);
    if (!applied) {
      syncFailed(applied.error().message);
      return true;
    }
    generation = applied->generation;
  }
  live_->commit(std::move(pending));
  trusted_ = true;
  noteSynced(generation);
  keepStats(inputs, statsNow);

  UdpFronts before, after;
  for (const auto& key : changed) {
    if (auto it = udpByService_.find(key); it != udpByService_.end()) {
      before.insert(it->second.begin(), it->second.end());
      udpByService_.erase(it);
    }
    if (auto it = udpNow.find(key); it != udpNow.end()) {
      after.insert(it->second.begin(), it->second.end());
      udpByService_.emplace(key, std::move(it->second));
    }
  }
  cleanUdpConntrack(changedFronts(before, after));

  Inputs touched;
  touched.node = node_;
  for (const auto& in : inputs) {
    if (!in.service) continue;
    touched.services.push_back(*in.service);
    for (const auto* s : in.slices) touched.slices.push_back(*s);
  }
  std::erase_if(healthWanted_, [&](const auto& entry) {
    return changed.count(entry.second.ns + "/" + entry.second.name) > 0;
  });
  healthWanted_.merge(healthChecks(touched));
  healthChecks_.update(healthWanted_);
  updateAnnouncements(changed, /*all=*/false);
  finishSync(/*full=*/false, live_->elementCount(), start, seen);
  return true;
}

bool Agent::syncAll(bool verify, std::set<std::string>& changed, TimePoint start,
                    std::optional<TimePoint> seen) {
  bool full = false;
  std::size_t elements = 0;
  UdpFronts after;
  // Without a live table (the first sync, or after a conflict) every Service's share
  // is compiled again to build it. Not on a thread beside the full compile: that
  // was 0.1 s faster to ready at 10,000 x 10 but left 2-4 MB more resident at 1,000
  // and 10,000 Services and 24 MB at 10,000 x 100 (another malloc arena).
  const bool rebuilding = !live_;
  std::optional<Adoption> adoption;  // the rebuilt live table, once prepared
  {
    // Problems between files (a nodePort claimed twice, say) block the sync: the
    // last good ruleset stays until they are fixed.
    Manifests manifests = inventory_.all();
    Diagnostics problems;
    manifest::validate(manifests, node_, problems);
    Inputs inputs{std::move(manifests.services), std::move(manifests.slices), node_};
    auto record = takeStartRecord();
    // A digest record (a table past the record's limit): the rebuilt live table
    // tells whether the kernel still holds what the inputs make, without compiling
    // the whole ruleset (at 50,000 x 100 the compile was most of a restart).
    std::optional<uint32_t> fromDigest;
    if (!problems.hasErrors() && record && record->digestOnly() && rebuilding) {
      adoption = prepareAdoption(nullptr);
      fromDigest = adoptedFromDigest(*adoption, *record);
      if (!fromDigest) record.reset();  // the inputs make something else: compile, read back
    }
    if (fromDigest) {
      log("the kernel still holds what the state record's digest says: nothing to compile, "
          "read back or send");
      lastFullCheck_ = clock_.now();
      trusted_ = true;
      noteSynced(*fromDigest);
      for (const auto& [key, fronts] : adoption->udp) after.insert(fronts.begin(), fronts.end());
      elements = adoption->elements;
      healthWanted_ = healthChecks(inputs);
    } else {
      ir::Ruleset rs;
      if (!problems.hasErrors()) rs = compileRuleset(inputs, problems);
      for (const auto& d : problems.all()) log(d.format());
      if (problems.hasErrors()) {
        metrics_.inputErrors(problems.errorCount());
        log(trusted_ ? "the inputs do not validate together; the installed rules stay as they are"
                     : "the inputs do not validate together; nothing installed until they do");
        live_.reset();  // the changes held back are not in it: start over once they validate
        return false;
      }
      auto planned =
          writer::planApply(transport_, rs, writer::ReadBack::kAuto, record ? &*record : nullptr);
      if (!planned) {
        syncFailed("reading the kernel: " + planned.error().message);
        return false;
      }
      if (planned->fromRecord) {
        log(record->digestOnly()
                ? "the kernel still holds what the state record's digest says: nothing to read "
                  "back or send"
                : "the kernel still holds what the state record says: read nothing back");
      }
      lastFullCheck_ = clock_.now();
      full = !planned->tableExists || planned->plan.replaceAll || planned->plan.refill;
      auto applied = send(rs, planned->plan, planned->tableExists);
      if (!applied) {
        syncFailed(applied.error().message);
        return false;
      }
      // A refill (a table too large to read back) says nothing about what differed.
      const bool differed = applied->kind != writer::ApplyReport::Kind::kUnchanged &&
                            applied->kind != writer::ApplyReport::Kind::kRefilled;
      if (differed && verify && trusted_ && !seen) {
        // Nothing of ours was pending, yet the kernel differed: someone else changed it.
        metrics_.driftRepaired();
        log("the installed table had been changed by someone else; restored" +
            (planned->plan.why.empty() ? std::string() : " (" + planned->plan.why + ")"));
      }
      trusted_ = true;
      noteSynced(applied->generation);
      after = udpFronts(rs, inputs);
      elements = rs.elementCount();
      healthWanted_ = healthChecks(inputs);
    }
  }
  // The full sync's inputs, ruleset and batch are gone: what is kept from here on
  // is allocated into free space that is contiguous again, not between them.
  malloc_trim(0);
  UdpFronts before;
  for (const auto& [key, fronts] : udpByService_) before.insert(fronts.begin(), fronts.end());
  if (!adoption) adoption = prepareAdoption(rebuilding ? nullptr : &changed);
  if (!commitAdoption(std::move(*adoption))) live_.reset();
  adoption.reset();
  cleanUdpConntrack(changedFronts(before, after));
  healthChecks_.update(healthWanted_);
  // Everything this sync allocated is freed now (the list of changed Services too)
  // and the heap settled before the sync counts as done: a change that comes right
  // after readiness does not wait for it, and the resident size between syncs is
  // what the agent keeps.
  updateAnnouncements(changed, /*all=*/true);
  observeTriggerTimes(changed);
  std::set<std::string>().swap(changed);
  inventory_.clearPending();
  settleHeapAfterFullSync();
  finishSync(full, elements, start, seen);
  return true;
}

std::optional<uint32_t> Agent::adoptedFromDigest(Adoption& a, const writer::StateRecord& record) {
  if (!a.fresh || !a.pending.conflict.empty()) return std::nullopt;
  auto gen = writer::generation(transport_);
  if (!gen || !writer::stateTrusted(record, node_.table, options_.netns, *gen)) {
    return std::nullopt;
  }
  a.fresh->commit(std::move(a.pending));
  a.committed = true;
  auto digest = writer::liveDigest(*a.fresh, node_, &a.elements);
  if (!digest) {
    log("warning: " + digest.error().message);
    return std::nullopt;
  }
  if (*digest != record.digest) return std::nullopt;
  return *gen;
}

void Agent::updateAnnouncements(const std::set<std::string>& changed, bool all) {
  if (!announcer_) return;
  const source::Inventory& inventory = inventory_;
  auto refresh = [&](const std::string& key) {
    const ServiceInput in = inventory.lookup(key);
    ServiceAnnouncements s;
    s.announce = announce::announcementsOf(in, node_.nodeName, lbClass_);
    s.request = announce::addressRequestOf(in, lbClass_);
    if (in.service) s.used = in.service->loadBalancerIPs;
    if (s.announce.empty() && !s.request && s.used.empty()) {
      announceByService_.erase(key);
    } else {
      announceByService_[key] = std::move(s);
    }
  };
  if (all) {
    announceByService_.clear();
    for (const auto& key : inventory.serviceKeys()) refresh(key);
  } else {
    for (const auto& key : changed) refresh(key);
  }
  std::vector<announce::Announcement> wanted;
  std::vector<announce::AddressRequest> requests;
  std::set<IpAddress> used;
  for (const auto& [key, s] : announceByService_) {
    wanted.insert(wanted.end(), s.announce.begin(), s.announce.end());
    if (s.request) requests.push_back(*s.request);
    used.insert(s.used.begin(), s.used.end());
  }
  announcer_->want(std::move(wanted), std::move(requests), std::move(used));
}

Agent::Adoption Agent::prepareAdoption(const std::set<std::string>* changed) const {
  const source::Inventory& inventory = inventory_;
  Adoption a;
  if (changed) {
    for (const auto& key : *changed) a.inputs.push_back(inventory.lookup(key));
  } else {
    a.fresh.emplace(node_);
    for (const auto& key : inventory.serviceKeys()) a.inputs.push_back(inventory.lookup(key));
  }
  Diagnostics ignored;  // the full compile has reported them already
  const writer::LiveTable& table = a.fresh ? *a.fresh : *live_;
  a.pending = table.prepare(a.inputs, ignored, collectShares(a.inputs, a.udp, a.stats),
                            /*operations=*/false);
  return a;
}

bool Agent::commitAdoption(Adoption&& a) {
  if (a.fresh) {
    live_ = std::move(a.fresh);
    udpByService_.clear();
    statsByService_.clear();
    statsSum_ = {};
  }
  for (const auto& in : a.inputs) udpByService_.erase(in.key);
  for (auto& [key, fronts] : a.udp) udpByService_.emplace(key, std::move(fronts));
  keepStats(a.inputs, a.stats);
  if (!a.pending.conflict.empty()) {
    log("keeping Services apart: " + a.pending.conflict + "; the next sync goes the full way");
    return false;
  }
  if (!a.committed) live_->commit(std::move(a.pending));
  return true;
}

void Agent::keepStats(const std::vector<ServiceInput>& inputs,
                      const std::unordered_map<std::string, ServiceStats>& now) {
  for (const auto& in : inputs) {
    if (auto it = statsByService_.find(in.key); it != statsByService_.end()) {
      statsSum_ -= it->second;
      statsByService_.erase(it);
    }
    if (auto it = now.find(in.key); it != now.end()) {
      statsSum_ += it->second;
      statsByService_.emplace(in.key, it->second);
    }
  }
  metrics_.noLocalEndpoints(statsSum_.noLocalInternal, statsSum_.noLocalExternal);
  metrics_.externalIPsRefused(statsSum_.refusedExternalIPs);
}

std::optional<writer::StateRecord> Agent::takeStartRecord() {
  if (startRecordTaken_ || options_.stateRecordPath.empty()) return std::nullopt;
  startRecordTaken_ = true;
  auto record = writer::loadState(options_.stateRecordPath);
  unlink(options_.stateRecordPath.c_str());
  return record;
}

void Agent::saveStateRecord() {
  if (options_.stateRecordPath.empty()) return;
  // Only a kernel that holds exactly what the inputs compile to now: the last sync
  // took everything in and committed, and nobody committed anything since.
  if (!trusted_ || !live_ || pendingSince_ || syncFailures_ > 0 || inventory_.hasConflicts() ||
      !nothingCommittedSinceSync()) {
    log("no state record kept: the kernel may differ from the inputs; the next start reads it "
        "back");
    return;
  }
  const auto t0 = std::chrono::steady_clock::now();
  Diagnostics problems;
  std::string bytes;
  // Past the limit only the digest, from the live table: nothing is compiled at
  // the stop (at 50,000 x 100 compiling took 5 s and gigabytes), and the next start
  // of the same inputs needs nothing read back nor sent.
  const std::size_t liveElements = live_->elementCount();
  const bool digestOnly = liveElements > options_.recordElementLimit;
  if (digestOnly) {
    auto digest = writer::liveDigest(*live_, node_);
    if (!digest) {
      log("warning: no state record kept: " + digest.error().message);
      return;
    }
    bytes = writer::encodeState(writer::StateRecord{
        node_.table, options_.netns, *syncedGeneration_, {}, std::move(*digest)});
  } else {
    Manifests manifests = inventory_.all();
    manifest::validate(manifests, node_, problems);
    Inputs inputs{std::move(manifests.services), std::move(manifests.slices), node_};
    if (problems.hasErrors()) return;
    const ir::Ruleset rs = compileRuleset(inputs, problems);
    if (problems.hasErrors()) return;
    // Written as its element records are made, never all held (as `apply` does).
    auto encoded = writer::encodedRecordOf(rs, std::nullopt, options_.netns, *syncedGeneration_,
                                           options_.recordElementLimit);
    if (!encoded) {
      log("warning: no state record kept: " + encoded.error().message);
      return;
    }
    bytes = std::move(encoded.value());
  }
  auto saved = writer::saveEncodedState(options_.stateRecordPath, bytes);
  if (!saved) {
    log("warning: no state record kept: " + saved.error().message);
    return;
  }
  log(std::string(digestOnly ? "state record (the table's digest: past " +
                                   std::to_string(options_.recordElementLimit) + " elements)"
                             : "state record") +
      " kept for the next start (" +
      std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now() - t0)
                         .count()) +
      " ms): " + options_.stateRecordPath);
}

void Agent::noteSynced(std::optional<uint32_t> known) {
  if (known) {
    syncedGeneration_ = known;
    return;
  }
  auto gen = writer::generation(transport_);
  if (gen) {
    syncedGeneration_ = *gen;
  } else {
    syncedGeneration_.reset();
  }
}

bool Agent::nothingCommittedSinceSync() {
  if (!syncedGeneration_) return false;
  auto gen = writer::generation(transport_);
  return gen && *gen == *syncedGeneration_;
}

const nft::KernelFeatures& Agent::kernelFeatures() {
  if (!kernel_) {
    auto probed = writer::probeKernel(transport_);
    if (probed) {
      kernel_ = *probed;
      if (!kernel_->destroySetElem) {
        log("this kernel has no NFT_MSG_DESTROYSETELEM (before 6.3): expired-endpoint "
            "affinity entries are removed right after each transaction instead of in it");
      }
    } else {
      // The fallback works on every kernel; only the newer message needs the probe.
      log("cannot probe the kernel (" + probed.error().message + "); using what every kernel has");
      kernel_ = nft::KernelFeatures{false};
    }
  }
  return *kernel_;
}

Result<writer::ApplyReport> Agent::send(const ir::Ruleset& rs, const diff::Plan& plan,
                                        bool tableExists) {
  auto applied = sendPlan(rs, plan, tableExists);
  if (applied && !applied->expiringNote.empty()) log(applied->expiringNote);
  return applied;
}

Result<writer::ApplyReport> Agent::sendPlan(const ir::Ruleset& rs, const diff::Plan& plan,
                                            bool tableExists) {
  const nft::KernelFeatures& kernel = kernelFeatures();
  const bool big = !tableExists || plan.replaceAll || plan.refill ||
                   diff::operationCount(plan.sets) > kQuietOperations;
  if (!big) {
    auto applied = writer::applyPlan(transport_, rs, plan, tableExists, kernel);
    if (applied) drainOwnEvents();
    return applied;
  }
  // A big transaction of ours goes out with the event subscription paused. Whether
  // anyone else committed meanwhile shows in the generation: ours moves it by one.
  auto before = writer::generation(transport_);
  const bool paused = monitor_.pause().ok();
  auto applied = writer::applyPlan(transport_, rs, plan, tableExists, kernel);
  if (paused && !monitor_.resume()) log("cannot rejoin the nf_tables event group");
  drainOwnEvents();
  auto after = writer::generation(transport_);
  if (applied && applied->kind != writer::ApplyReport::Kind::kUnchanged &&
      (!before || !after || *after != *before + 1) && !verifyAt_) {
    verifyAt_ = clock_.now() + std::chrono::milliseconds(20);
  }
  // What the kernel holds now, read after the pause: anyone else's commit included.
  if (applied) applied.value().generation = after ? std::optional<uint32_t>(*after) : std::nullopt;
  return applied;
}

void Agent::drainOwnEvents() {
  // Someone else's change in the same moment still shows; read it soon.
  if (monitor_.changedBySomeoneElseAfterOwn(node_.table, transport_.portId()) && !verifyAt_) {
    verifyAt_ = clock_.now() + std::chrono::milliseconds(20);
  }
}

std::chrono::milliseconds Agent::backoff(int failures) const {
  auto delay = std::max(options_.minSyncInterval, std::chrono::milliseconds(1));
  for (int i = 1; i < failures && delay < kMaxBackoff; ++i) delay *= 2;
  return std::min(delay, kMaxBackoff);
}

void Agent::syncFailed(const std::string& why) {
  ++syncFailures_;
  const auto delay = backoff(syncFailures_);
  log(why + " (failure " + std::to_string(syncFailures_) + " in a row; trying again in " +
      std::to_string(delay.count()) + " ms)");
  metrics_.syncFailed();
  live_.reset();  // trust nothing kept: the next sync reads the kernel back
  trusted_ = false;
  syncedGeneration_.reset();
  retryAt_ = clock_.now() + delay;
  verifyAt_ = retryAt_;
}

void Agent::reportChanges() {
  metrics_.changes(inventory_.serviceChanges(), inventory_.endpointChanges(),
                   inventory_.pendingServiceChanges(), inventory_.pendingEndpointChanges());
}

void Agent::finishSync(bool full, std::size_t elements, TimePoint start,
                       std::optional<TimePoint> seen) {
  syncFailures_ = 0;
  retryAt_.reset();
  inventory_.clearPending();
  reportChanges();
  const source::Inventory& inventory = inventory_;
  const auto now = clock_.now();
  const double seconds = std::chrono::duration<double>(now - start).count();
  metrics_.observeSync(full, seconds);
  metrics_.synced(clock_.unixNow(), inventory.serviceCount(), inventory.endpointCount());
  if (seen) metrics_.observeProgramming(std::chrono::duration<double>(now - *seen).count());
  char status[160];
  std::snprintf(status, sizeof status, "synced %zu services, %zu elements (%s, %.1f ms)",
                inventory.serviceCount(), elements, full ? "full" : "partial", seconds * 1000);
  {
    std::lock_guard<std::mutex> l(healthMu_);
    health_.synced = true;
    health_.lastUpdated = clock_.unixNow();
    if (!pendingSince_) healthPendingSince_.reset();
  }
  if (!readyNotified_) {
    notifier_.ready(status);
    readyNotified_ = true;
    log(std::string("first sync: ") + status);
  } else {
    notifier_.status(status);
  }
  if (seen) {
    // The commit's wall-clock time lets a benchmark time from its own write, which
    // happens before the agent sees the change; the latency here starts when the
    // agent reads the event.
    char committed[48];
    std::snprintf(committed, sizeof committed, "; committed at %.6f", clock_.unixNow());
    log(std::string(status) + "; programming latency " +
        std::to_string(std::chrono::duration<double, std::milli>(now - *seen).count()) + " ms" +
        committed);
  }
}

std::set<IpAddress> Agent::udpEndpointsNow(const UdpFrontKey& front) const {
  std::set<IpAddress> endpoints;
  for (const auto& [key, fronts] : udpByService_) {
    if (auto it = fronts.find(front); it != fronts.end()) {
      endpoints.insert(it->second.begin(), it->second.end());
    }
  }
  return endpoints;
}

void Agent::cleanUdpConntrack(UdpFronts stale) {
  for (const auto& front : udpRetry_) {
    if (!stale.count(front)) stale.emplace(front, udpEndpointsNow(front));
  }
  udpRetry_.clear();
  conntrackRetryAt_.reset();
  if (stale.empty()) return;
  auto deleted = conntrack_.deleteUdpFlows([&](const netlink::UdpFlow& f) {
    auto it = stale.find({false, f.originalDestination, f.originalPort});
    // NodePort flows are recognised by port only, and only when DNATed (the node's
    // own UDP services on the same port are none of our business).
    if (it == stale.end() && f.dnat) it = stale.find({true, IpAddress(), f.originalPort});
    return it != stale.end() && !it->second.count(f.replySource);
  });
  if (!deleted) {
    ++conntrackFailures_;
    const auto delay = backoff(conntrackFailures_);
    metrics_.conntrackFailed();
    log("UDP conntrack cleanup: " + deleted.error().message + " (trying again in " +
        std::to_string(delay.count()) + " ms)");
    for (const auto& [front, endpoints] : stale) udpRetry_.insert(front);
    conntrackRetryAt_ = clock_.now() + delay;
    return;
  }
  conntrackFailures_ = 0;
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
  for (;;) {
    if (!runOnce(std::chrono::hours(1), sigfd)) continue;
    signalfd_siginfo si{};
    if (read(sigfd, &si, sizeof si) > 0) {
      log("stopping on signal " + std::to_string(si.ssi_signo) + "; the rules stay in the kernel");
      saveStateRecord();
      notifier_.status("stopped; rules left in place");
      healthChecks_.stopAll();
      close(sigfd);
      return 0;
    }
  }
}

bool Agent::runOnce(std::chrono::milliseconds maxWait, int extraFd) {
  if (!started_) {
    // Read every input once, adopt what is installed, then sync: no change before that.
    for (auto* s : sources_) s->consumeEvents();
    if (allSourcesReady()) {
      started_ = true;
      lastWatchdog_ = clock_.now();
      sync(/*verify=*/true);
    } else {
      Diagnostics problems;
      bool nodeChanged = false;
      refreshSources(problems, nodeChanged);  // health shows which source is not ready yet
      for (const auto& d : problems.all()) log(d.format());
    }
  }
  const auto now = clock_.now();
  // The next thing to do, whichever comes first.
  auto next = now + maxWait;
  if (started_) {
    next = std::min(next, lastFullCheck_ + options_.fullCheckPeriod);
    if (pendingSince_) {
      next = std::min(
          next, std::max({now, lastSyncStart_ + options_.minSyncInterval, retryAt_.value_or(now)}));
    }
    if (verifyAt_) next = std::min(next, *verifyAt_);
    if (conntrackRetryAt_) next = std::min(next, *conntrackRetryAt_);
  } else {
    next = std::min(next, now + std::chrono::milliseconds(100));  // look for readiness again
  }
  const auto wd = notifier_.watchdogInterval();
  if (wd.count() > 0) next = std::min(next, lastWatchdog_ + wd);
  const int timeoutMs = static_cast<int>(std::max<long long>(
      0, std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count() + 1));

  std::vector<pollfd> fds;
  fds.push_back({extraFd, POLLIN, 0});
  fds.push_back({monitor_.fd(), POLLIN, 0});
  for (auto* s : sources_) fds.push_back({s->fd(), POLLIN, 0});
  poll(fds.data(), fds.size(), timeoutMs);
  if (extraFd >= 0 && (fds[0].revents & POLLIN)) return true;

  bool inputChanged = false;
  for (std::size_t i = 0; i < sources_.size(); ++i) {
    if ((fds[2 + i].revents & POLLIN) && sources_[i]->consumeEvents()) inputChanged = true;
  }
  if (inputChanged && started_ && !pendingSince_) {
    pendingSince_ = clock_.now();
    metrics_.queued(clock_.unixNow());
    std::lock_guard<std::mutex> l(healthMu_);
    if (!healthPendingSince_) healthPendingSince_ = pendingSince_;
  }
  if ((fds[1].revents & POLLIN) &&
      monitor_.changedBySomeoneElse(node_.table, transport_.portId())) {
    // Someone else touched our table: look within a few milliseconds, after their
    // transaction (a flush and reload, say) has settled.
    if (!verifyAt_) verifyAt_ = clock_.now() + std::chrono::milliseconds(20);
  }
  metrics_.eventsLost(monitor_.overruns());
  const auto t = clock_.now();
  if (wd.count() > 0 && t >= lastWatchdog_ + wd) {
    notifier_.watchdog();
    lastWatchdog_ = t;
  }
  if (!started_) return false;
  const bool suspected = verifyAt_ && t >= *verifyAt_;
  bool verify = suspected || t >= lastFullCheck_ + options_.fullCheckPeriod;
  if (verify && !suspected && nothingCommittedSinceSync()) {
    lastFullCheck_ = t;  // the periodic check: no transaction since ours, nothing to read
    verify = false;
  }
  const bool due = pendingSince_ && t >= lastSyncStart_ + options_.minSyncInterval &&
                   (!retryAt_ || t >= *retryAt_);
  if (verify || due) {
    if (verify) verifyAt_.reset();
    sync(verify);
  } else if (conntrackRetryAt_ && t >= *conntrackRetryAt_) {
    cleanUdpConntrack({});
  }
  return false;
}

}  // namespace svcnft::agent
