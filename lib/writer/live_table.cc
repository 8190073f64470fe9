#include "writer/live_table.h"

#include <algorithm>
#include <stdexcept>
#include <unordered_set>

#include "compile/compiler.h"
#include "compile/skeleton_sets.h"
#include "nft/records.h"

namespace svcnft::writer {

namespace {

// Packed records: per element [set][flags][key][key end][value][comment], each
// string preceded by its length in one byte (keys are at most 40 bytes, comments
// 128, verdicts a chain name). A comment equal to the one before in the same
// Service's records is the single byte kSameComment instead (a Service port's
// elements all carry its comment: 20-odd bytes an element, a third of the kept
// state). Generated chains are entries of set kChainTag with the chain's name as key.
constexpr uint8_t kChainTag = 0xff;
constexpr uint8_t kSameComment = 0xff;  // never a length: comments are at most 128 bytes

struct Entry {
  uint8_t set = 0;
  diff::ElementRecord record;
  auto operator<=>(const Entry&) const = default;
};

void putString(std::string& out, const std::string& s) {
  if (s.size() >= kSameComment) throw std::logic_error("element field longer than 254 bytes: " + s);
  out.push_back(static_cast<char>(s.size()));
  out += s;
}

// One Service's records, appended to `out`.
void putEntries(std::string& out, const std::vector<Entry>& entries) {
  const std::string* lastComment = nullptr;
  for (const auto& e : entries) {
    out.push_back(static_cast<char>(e.set));
    out.push_back(static_cast<char>(e.record.flags));
    putString(out, e.record.key);
    putString(out, e.record.keyEnd);
    putString(out, e.record.value);
    if (lastComment && *lastComment == e.record.comment) {
      out.push_back(static_cast<char>(kSameComment));
    } else {
      putString(out, e.record.comment);
    }
    lastComment = &e.record.comment;
  }
}

std::vector<Entry> unpack(std::string_view packed) {
  std::vector<Entry> out;
  std::size_t at = 0;
  auto take = [&](std::string& into) {
    const std::size_t n = static_cast<uint8_t>(packed[at++]);
    into.assign(packed.substr(at, n));
    at += n;
  };
  while (at < packed.size()) {
    Entry e;
    e.set = static_cast<uint8_t>(packed[at++]);
    e.record.flags = static_cast<uint8_t>(packed[at++]);
    take(e.record.key);
    take(e.record.keyEnd);
    take(e.record.value);
    if (static_cast<uint8_t>(packed[at]) == kSameComment && !out.empty()) {
      ++at;
      e.record.comment = out.back().record.comment;
    } else {
      take(e.record.comment);
    }
    out.push_back(std::move(e));
  }
  return out;
}

// A front's identity across the sets that claim it: address or NodePort, family, key.
std::string claimId(uint8_t claimSpace, const std::string& key) {
  return std::string(1, static_cast<char>(claimSpace)) + key;
}

std::string sharedId(const Entry& e) {
  return std::string(1, static_cast<char>(e.set)) + e.record.key;
}

}  // namespace

LiveTable::LiveTable(const NodeConfig& node)
    : table_(node.table), node_(node), base_(shareBase(node)) {
  for (const auto& s : base_.sets) {
    SetInfo info;
    info.name = s.name;
    const auto of = skeleton::setOf(s.name);
    if (!of) throw std::logic_error("a set the skeleton does not describe: " + s.name);
    const auto [kind, family] = *of;
    info.family = family;
    const uint8_t familyBit = family == IpFamily::kV6 ? 2 : 0;
    switch (kind) {
      case skeleton::SetKind::kServiceIps:
      case skeleton::SetKind::kNoEndpoints:
      case skeleton::SetKind::kNodePorts:
      case skeleton::SetKind::kNpNoEndpoints:
        // The maps a front is dispatched by: one Service per front.
        info.role = Role::kFront;
        info.claimSpace =
            familyBit | (skeleton::spec(kind).front == skeleton::FrontKind::kNodePort);
        break;
      case skeleton::SetKind::kTargetPorts:
      case skeleton::SetKind::kNpTargetPorts:
        info.role = Role::kAffinityFront;  // present for the fronts with session affinity
        break;
      case skeleton::SetKind::kBackends:
      case skeleton::SetKind::kNpBackends:
        info.role = Role::kBackends;
        break;
      default:
        // Shared: two Services may name the same entry (a refused externalIP keeps the
        // comment of the Service that added it first).
        if (skeleton::spec(kind).owner == skeleton::Owner::kShared) info.role = Role::kShared;
        break;
    }
    sets_.push_back(std::move(info));
  }
  if (sets_.size() >= kChainTag) throw std::logic_error("too many sets for the packed form");
}

LiveTable::Pending LiveTable::prepare(const std::vector<ServiceInput>& changed, Diagnostics& diags,
                                      const ShareObserver& observe, bool operations) const {
  Pending p;
  std::set<std::string> changedKeys;
  for (const auto& in : changed) changedKeys.insert(in.key);

  std::vector<diff::SetDelta> deltas(base_.sets.size());
  if (operations) {
    p.adds = base_;
    for (std::size_t i = 0; i < deltas.size(); ++i) deltas[i].set = base_.sets[i].name;
  }
  // Shared entries and chains: how many more (or fewer) Services use each, and one
  // instance of it to add or remove.
  std::map<std::string, int> sharedDelta;
  std::map<std::string, const ir::Element*> sharedNew;
  std::map<std::string, diff::ElementRecord> sharedOld;
  std::map<std::string, int> chainDelta;
  std::map<std::string, const ir::Chain*> chainNew;
  std::map<std::string, std::string> newClaims;  // claim → Service key
  // Shares stay alive until the adds are copied, when there are adds to build.
  // Otherwise each goes at once, so that over thousands of Services the packed
  // records kept are not scattered between dead shares (RSS, not just heap use).
  std::vector<ir::Ruleset> shares;
  std::map<IpFamily, std::map<std::string, std::set<std::string>>> endpointsNow, endpointsBefore;

  // The affinity fronts the changed Services had: only their endpoints, before and
  // now, are wanted (for stale affinity entries). Collected first, so that the
  // backends of every other front are not mapped (a third of a rebuild at 10,000 x
  // 100 went into mapping them all). A front may move between two changed Services.
  std::vector<std::vector<Entry>> befores;
  befores.reserve(changed.size());
  for (const auto& in : changed) {
    auto it = packed_.find(in.key);
    befores.push_back(it == packed_.end() ? std::vector<Entry>{} : unpack(it->second));
    for (const auto& e : befores.back()) {
      if (e.set != kChainTag && sets_[e.set].role == Role::kAffinityFront) {
        p.affinityFronts[sets_[e.set].family].insert(e.record.key);
      }
    }
  }
  auto addAffinityBackend = [&](auto& endpoints, const SetInfo& info,
                                const diff::ElementRecord& record) {
    const auto fronts = p.affinityFronts.find(info.family);
    if (fronts == p.affinityFronts.end() ||
        !fronts->second.count(std::string(skeleton::frontOfBucketKey(record.key)))) {
      return;
    }
    addBackend(endpoints[info.family], record, info.family == IpFamily::kV4 ? 4 : 16);
  };

  for (std::size_t n = 0; n < changed.size(); ++n) {
    const ServiceInput& in = changed[n];
    std::vector<Entry> before = std::move(befores[n]);
    std::vector<Entry> after;
    std::vector<const ir::Element*> afterElements;  // parallel to `after` (null: a chain)
    ir::Ruleset share;
    if (in.service) {
      share = compileServiceShare(*in.service, in.slices, node_, base_, diags);
      if (observe) observe(in.key, share);
      for (std::size_t i = 0; i < share.sets.size(); ++i) {
        const ir::Set& set = share.sets[i];
        if (set.elements.empty()) continue;
        std::vector<diff::ElementRecord> recs = nft::desiredRecords(table_, set);
        for (std::size_t j = 0; j < recs.size(); ++j) {
          after.push_back({static_cast<uint8_t>(i), std::move(recs[j])});
          afterElements.push_back(&set.elements[j]);
        }
      }
      for (const auto& c : share.chains) {
        Entry e;
        e.set = kChainTag;
        e.record.key = c.name;
        after.push_back(std::move(e));
        afterElements.push_back(nullptr);
        if (operations) chainNew.emplace(c.name, &c);
      }
    }

    // Claims, shared entries and chains, counted; the Service's own elements, by set,
    // collected (what it had, what it has now and its elements) to be diffed below.
    std::map<uint8_t, std::vector<diff::ElementRecord>> have, want;
    std::map<uint8_t, std::vector<const ir::Element*>> wantElements;
    for (auto& e : before) {
      if (e.set == kChainTag) {
        --chainDelta[e.record.key];
      } else if (sets_[e.set].role == Role::kShared) {
        const std::string id = sharedId(e);
        --sharedDelta[id];
        sharedOld.emplace(id, e.record);
      } else {
        const SetInfo& info = sets_[e.set];
        if (info.role == Role::kBackends) addAffinityBackend(endpointsBefore, info, e.record);
        if (operations) have[e.set].push_back(std::move(e.record));
      }
    }
    for (std::size_t i = 0; i < after.size(); ++i) {
      const Entry& e = after[i];
      if (e.set == kChainTag) {
        if (operations) ++chainDelta[e.record.key];
        continue;
      }
      const SetInfo& info = sets_[e.set];
      if (info.role == Role::kShared) {
        if (operations) {  // counted only to build the plan
          const std::string id = sharedId(e);
          ++sharedDelta[id];
          sharedNew.emplace(id, afterElements[i]);
        }
        continue;
      }
      if (info.role == Role::kFront) {
        auto [it, fresh] = newClaims.emplace(claimId(info.claimSpace, e.record.key), in.key);
        if (!fresh && it->second != in.key && p.conflict.empty()) {
          p.conflict = "Services " + it->second + " and " + in.key + " claim the same front";
        }
      }
      if (info.role == Role::kBackends) addAffinityBackend(endpointsNow, info, e.record);
      if (operations) {
        want[e.set].push_back(e.record);
        wantElements[e.set].push_back(afterElements[i]);
      }
    }

    Pending::Next next{in.key, in.service == nullptr, p.records.size(), 0};
    putEntries(p.records, after);
    next.size = p.records.size() - next.offset;
    p.next.push_back(std::move(next));
    if (!operations) continue;
    shares.push_back(std::move(share));  // element pointers stay valid: buffers move

    // Own elements: what left, what came (a changed value is both), set by set
    // through the diff the full sync uses.
    for (auto& [set, records] : have) want[set];  // sets only removed from
    for (const auto& [set, records] : want) {
      diff::SetDelta d = diff::diffSet(base_.sets[set].name, have[set], records, false);
      for (auto& r : d.remove) deltas[set].remove.push_back(std::move(r));
      auto& elements = p.adds.sets[set].elements;
      for (std::size_t k : d.add) {
        elements.push_back(*wantElements[set][k]);
        deltas[set].add.push_back(elements.size() - 1);
      }
    }
  }

  for (const auto& [claim, key] : newClaims) {
    auto owner = owners_.find(claim);
    if (owner != owners_.end() && !changedKeys.count(owner->second) && p.conflict.empty()) {
      p.conflict = "Services " + owner->second + " and " + key + " claim the same front";
    }
  }
  if (!p.conflict.empty()) return p;

  for (const auto& [family, fronts] : p.affinityFronts) {
    for (const auto& front : fronts) {
      auto it = endpointsNow[family].find(front);
      p.affinityEndpoints[family][front] =
          it == endpointsNow[family].end() ? std::set<std::string>{} : it->second;
      auto was = endpointsBefore[family].find(front);
      p.affinityEndpointsBefore[family][front] =
          was == endpointsBefore[family].end() ? std::set<std::string>{} : was->second;
    }
  }
  if (!operations) return p;

  for (const auto& [id, delta] : sharedDelta) {
    if (delta == 0) continue;
    auto it = shared_.find(id);
    const int now = it == shared_.end() ? 0 : it->second;
    const uint8_t set = static_cast<uint8_t>(id[0]);
    if (now == 0 && now + delta > 0) {
      auto& elements = p.adds.sets[set].elements;
      elements.push_back(*sharedNew.at(id));
      deltas[set].add.push_back(elements.size() - 1);
    } else if (now > 0 && now + delta <= 0) {
      deltas[set].remove.push_back(sharedOld.at(id));
    }
  }
  for (const auto& [name, delta] : chainDelta) {
    if (delta == 0) continue;
    auto it = chainRefs_.find(name);
    const int now = it == chainRefs_.end() ? 0 : it->second;
    if (now == 0 && now + delta > 0) {
      p.adds.chains.push_back(*chainNew.at(name));
      p.plan.chains.add.push_back(name);
    } else if (now > 0 && now + delta <= 0) {
      p.plan.chains.remove.push_back(name);
    }
  }
  for (auto& d : deltas) {
    if (!d.remove.empty() || !d.add.empty()) p.plan.sets.push_back(std::move(d));
  }
  return p;
}

void LiveTable::commit(Pending&& pending) {
  // Everything the changed Services had goes first, so a front or an entry that
  // moves from one of them to another in this sync ends up owned and counted.
  for (const auto& next : pending.next) {
    auto it = packed_.find(next.key);
    if (it == packed_.end()) continue;
    for (const auto& e : unpack(it->second)) {
      if (e.set == kChainTag) {
        if (--chainRefs_[e.record.key] <= 0) chainRefs_.erase(e.record.key);
        continue;
      }
      const SetInfo& info = sets_[e.set];
      if (info.role == Role::kShared) {
        const std::string id = sharedId(e);
        if (--shared_[id] <= 0) shared_.erase(id);
        continue;
      }
      --ownElements_;
      if (info.role == Role::kFront) {
        auto owner = owners_.find(claimId(info.claimSpace, e.record.key));
        if (owner != owners_.end() && owner->second == next.key) owners_.erase(owner);
      }
    }
    packed_.erase(it);
  }
  for (const auto& next : pending.next) {
    if (next.gone) continue;
    const std::string_view records(pending.records.data() + next.offset, next.size);
    for (const auto& e : unpack(records)) {
      if (e.set == kChainTag) {
        ++chainRefs_[e.record.key];
        continue;
      }
      const SetInfo& info = sets_[e.set];
      if (info.role == Role::kShared) {
        ++shared_[sharedId(e)];
        continue;
      }
      ++ownElements_;
      if (info.role == Role::kFront) {
        owners_[claimId(info.claimSpace, e.record.key)] = next.key;
      }
    }
    packed_[next.key] = std::string(records);
  }
  pending.next.clear();
  pending.records.clear();
}

std::map<std::string, std::vector<diff::ElementRecord>> LiveTable::records() const {
  std::map<std::string, std::vector<diff::ElementRecord>> out;
  std::map<std::string, diff::ElementRecord> shared;  // one of the records of each
  for (const auto& [key, packed] : packed_) {
    for (auto& e : unpack(packed)) {
      if (e.set == kChainTag) continue;
      if (sets_[e.set].role == Role::kShared) {
        shared.emplace(sharedId(e), std::move(e.record));
      } else {
        out[sets_[e.set].name].push_back(std::move(e.record));
      }
    }
  }
  for (const auto& [id, count] : shared_) {
    out[sets_[static_cast<uint8_t>(id[0])].name].push_back(shared.at(id));
  }
  for (auto& [name, recs] : out) std::sort(recs.begin(), recs.end());
  return out;
}

void LiveTable::forEachRecord(
    const std::function<void(const std::string& set, const diff::ElementRecord&)>& visit) const {
  std::unordered_set<std::string> sharedSeen;
  for (const auto& [key, packed] : packed_) {
    for (const auto& e : unpack(packed)) {
      if (e.set == kChainTag) continue;
      const SetInfo& info = sets_[e.set];
      if (info.role == Role::kShared && !sharedSeen.insert(sharedId(e)).second) continue;
      visit(info.name, e.record);
    }
  }
}

std::set<std::string> LiveTable::chains() const {
  std::set<std::string> out;
  for (const auto& [name, count] : chainRefs_) out.insert(name);
  return out;
}

void addBackend(std::map<std::string, std::set<std::string>>& endpoints,
                const diff::ElementRecord& backend, std::size_t addressBytes) {
  endpoints[std::string(skeleton::frontOfBucketKey(backend.key))].insert(
      backend.value.substr(0, addressBytes));
}

std::vector<diff::ElementRecord> staleAffinity(
    const std::vector<diff::ElementRecord>& affinity,
    const std::map<std::string, std::set<std::string>>& endpoints,
    const std::set<std::string>* fronts, std::size_t addressBytes) {
  std::vector<diff::ElementRecord> out;
  auto lists = [&](const std::string& front, const std::string& endpoint) {
    auto it = endpoints.find(front);
    return it != endpoints.end() && it->second.count(endpoint) > 0;
  };
  for (const auto& r : affinity) {
    if (r.key.size() < 2 * addressBytes) continue;
    const IpFamily f = addressBytes == 4 ? IpFamily::kV4 : IpFamily::kV6;
    const std::string byAddress(skeleton::affinityAddressFront(r.key, f));
    const std::string byNodePort(skeleton::affinityNodePortFront(r.key, f));
    const std::string endpoint(skeleton::endpointAddress(r.value, f));
    bool stale;
    if (!fronts) {
      stale = !lists(byAddress, endpoint) && !lists(byNodePort, endpoint);
    } else if (fronts->count(byAddress)) {
      stale = !lists(byAddress, endpoint);
    } else if (fronts->count(byNodePort)) {
      stale = !lists(byNodePort, endpoint);
    } else {
      continue;  // a front this sync did not touch
    }
    if (stale) out.push_back(r);
  }
  return out;
}

std::map<std::string, std::set<std::string>> leftEndpoints(
    const std::map<std::string, std::set<std::string>>& before,
    const std::map<std::string, std::set<std::string>>& now) {
  std::map<std::string, std::set<std::string>> left;
  for (const auto& [front, endpoints] : before) {
    auto it = now.find(front);
    for (const auto& e : endpoints) {
      if (it == now.end() || !it->second.count(e))
        left[std::string(skeleton::protocolPort(front))].insert(e);
    }
  }
  return left;
}

std::vector<diff::ElementRecord> staleHashedAffinity(
    const std::vector<diff::ElementRecord>& affinity,
    const std::map<std::string, std::set<std::string>>& left,
    const std::map<std::string, std::set<std::string>>* endpoints) {
  std::map<std::string, std::set<std::string>> listed;  // protocol . port → endpoints
  if (endpoints) {
    for (const auto& [front, eps] : *endpoints)
      listed[std::string(skeleton::protocolPort(front))].insert(eps.begin(), eps.end());
  }
  std::vector<diff::ElementRecord> out;
  for (const auto& r : affinity) {
    if (r.key.size() != 16 || r.value.size() < 16) continue;
    const std::string port(skeleton::protocolPort(r.key));
    const std::string endpoint(skeleton::endpointAddress(r.value, IpFamily::kV6));
    auto gone = left.find(port);
    bool stale = gone != left.end() && gone->second.count(endpoint);
    if (!stale && endpoints) {
      auto it = listed.find(port);
      stale = it == listed.end() || !it->second.count(endpoint);
    }
    if (stale) out.push_back(r);
  }
  return out;
}

}  // namespace svcnft::writer
