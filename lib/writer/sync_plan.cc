#include "writer/sync_plan.h"

#include <set>

#include "compile/skeleton_sets.h"
#include "nft/encode.h"
#include "nft/records.h"
#include "writer/live_table.h"

namespace svcnft::writer {

namespace {

// Session affinity entries that point at an endpoint the front no longer has must
// go in the same transaction, or clients would keep being sent to a removed pod
// until the timeout (up to hours). IPv4 affinity keys are client . address . proto
// . port; IPv6 ones hash client and address (staleHashedAffinity()); the endpoints
// a front may use are the values of its backends elements.
void addStaleAffinity(const Installed& installed,
                      const std::map<std::string, std::vector<diff::ElementRecord>>& want,
                      diff::Plan& plan) {
  for (IpFamily f : {IpFamily::kV4, IpFamily::kV6}) {
    const std::size_t addr = skeleton::addressBytes(f);
    const std::string affinitySet = skeleton::setName(skeleton::SetKind::kAffinity, f);
    auto affinity = installed.elements.find(affinitySet);
    if (affinity == installed.elements.end() || affinity->second.empty()) continue;
    // front key bytes (without the bucket) → endpoint addresses it balances over.
    std::map<std::string, std::set<std::string>> endpoints;
    for (auto set : {skeleton::SetKind::kBackends, skeleton::SetKind::kNpBackends}) {
      auto it = want.find(skeleton::setName(set, f));
      if (it == want.end()) continue;
      for (const auto& r : it->second) addBackend(endpoints, r, addr);
    }
    diff::SetDelta stale;
    stale.set = affinitySet;
    if (f == IpFamily::kV4) {
      stale.remove = staleAffinity(affinity->second, endpoints, /*fronts=*/nullptr, addr);
    } else {
      // What left a front since the installed backends (when they were read back).
      std::map<std::string, std::set<std::string>> installedEndpoints;
      for (auto set : {skeleton::SetKind::kBackends, skeleton::SetKind::kNpBackends}) {
        auto it = installed.elements.find(skeleton::setName(set, f));
        if (it == installed.elements.end()) continue;
        for (const auto& r : it->second) addBackend(installedEndpoints, r, addr);
      }
      stale.remove = staleHashedAffinity(affinity->second,
                                         leftEndpoints(installedEndpoints, endpoints), &endpoints);
    }
    if (!stale.remove.empty()) plan.sets.push_back(std::move(stale));
  }
}

}  // namespace

diff::Plan planSync(const ir::Ruleset& rs, const Installed& installed) {
  return planSync(rs, installedFrom(rs), installed);
}

diff::Plan planSync(const ir::Ruleset& rs, const Installed& desired, const Installed& installed,
                    bool refill) {
  diff::Plan plan;
  plan.refill = refill;
  auto replace = [&](std::string why) {
    plan.replaceAll = true;
    plan.why = std::move(why);
    return plan;
  };
  static const std::vector<std::string> kNoRules;
  static const std::vector<diff::ElementRecord> kNoElements;

  // 1. The skeleton: every set's declaration, every fixed chain and its rules.
  if (desired.sets != installed.sets) return replace("the table's sets differ from the skeleton");
  std::set<std::string> wantGenerated, haveGenerated, fixed;
  for (const auto& c : rs.chains) {
    if (c.generated) {
      wantGenerated.insert(c.name);
      continue;
    }
    fixed.insert(c.name);
    auto it = installed.chains.find(c.name);
    if (it == installed.chains.end() || it->second != desired.chains.at(c.name)) {
      return replace("chain " + c.name + " differs");
    }
    auto want = desired.rules.find(c.name);
    auto have = installed.rules.find(c.name);
    if ((want == desired.rules.end() ? kNoRules : want->second) !=
        (have == installed.rules.end() ? kNoRules : have->second)) {
      return replace("the rules of chain " + c.name + " differ");
    }
  }
  for (const auto& [name, sig] : installed.chains) {
    if (!fixed.count(name)) haveGenerated.insert(name);
  }

  // 2. Per-bucket-count chains come and go with the elements that use them.
  plan.chains = diff::diffChains(haveGenerated, wantGenerated);

  // 3. Elements. The affinity maps are the packet path's own state: not ours to diff.
  for (const auto& s : rs.sets) {
    if (s.dynamic) continue;
    if (refill) {
      diff::SetDelta d;
      d.set = s.name;
      d.flush = true;
      for (std::size_t i = 0; i < s.elements.size(); ++i) d.add.push_back(i);
      plan.sets.push_back(std::move(d));
      continue;
    }
    auto have = installed.elements.find(s.name);
    diff::SetDelta d =
        diff::diffSet(s.name, have == installed.elements.end() ? kNoElements : have->second,
                      desired.elements.at(s.name), s.interval && s.key.size() == 1);
    if (d.flush || !d.remove.empty() || !d.add.empty()) plan.sets.push_back(std::move(d));
  }
  addStaleAffinity(installed, desired.elements, plan);
  return plan;
}

Installed installedFrom(const ir::Ruleset& rs) {
  Installed out = installedShape(rs);
  for (const auto& s : rs.sets) out.elements[s.name] = nft::desiredRecords(rs.table, s);
  return out;
}

Installed installedShape(const ir::Ruleset& rs) {
  Installed out;
  uint32_t id = 1;
  for (const auto& s : rs.sets) {
    nft::SetPtr p = nft::encodeSet(rs.table, s, id++);
    out.sets[s.name] = nft::signatureOf(p.get());
  }
  for (const auto& c : rs.chains) {
    nft::ChainPtr p = nft::encodeChain(rs.table, c);
    out.chains[c.name] = nft::signatureOf(p.get());
    for (const auto& r : c.rules) {
      nft::RulePtr e = nft::encodeRule(rs.table, c.name, r);
      out.rules[c.name].push_back(nft::signatureOf(e.get()));
    }
  }
  return out;
}

}  // namespace svcnft::writer
