#include "compile/endpoint_pools.h"

#include <algorithm>
#include <tuple>

namespace svcnft {

namespace {

std::vector<Backend> usable(const std::vector<Backend>& candidates) {
  std::vector<Backend> chosen;
  const bool anyReady =
      std::any_of(candidates.begin(), candidates.end(), [](const Backend& b) { return b.ready; });
  for (const auto& b : candidates) {
    const bool take = anyReady ? b.ready : (b.serving && b.terminating);
    if (take && b.weight > 0) chosen.push_back(b);
  }
  // By address (unique within a Service port's endpoints): the order buckets and
  // elements come in, whatever order the slices listed them.
  std::sort(chosen.begin(), chosen.end(), [](const Backend& a, const Backend& b) {
    return std::tie(a.address, a.port) < std::tie(b.address, b.port);
  });
  return chosen;
}

bool has(const std::vector<std::string>& list, const std::string& name) {
  return !name.empty() && std::find(list.begin(), list.end(), name) != list.end();
}

enum class Topology { kNone, kSameNode, kSameZone };

// kube-proxy's topologyModeFromHints: hints count only when every ready endpoint
// has one of the kind and at least one names this node (or its zone).
Topology topologyFromHints(const std::vector<Backend>& all, const NodeTopology& here) {
  bool anyReady = false, allNode = true, forNode = false, allZone = true, forZone = false;
  for (const auto& b : all) {
    if (!b.ready) continue;
    anyReady = true;
    if (b.nodeHints().empty()) {
      allNode = false;
    } else if (has(b.nodeHints(), here.nodeName)) {
      forNode = true;
    }
    if (b.zoneHints().empty()) {
      allZone = false;
    } else if (has(b.zoneHints(), here.zone)) {
      forZone = true;
    }
  }
  if (!anyReady) return Topology::kNone;
  if (allNode && forNode) return Topology::kSameNode;
  if (allZone && forZone) return Topology::kSameZone;
  return Topology::kNone;
}

}  // namespace

EndpointPools choosePools(const std::vector<Backend>& all, const NodeTopology& here) {
  EndpointPools pools;
  const Topology topology = topologyFromHints(all, here);
  std::vector<Backend> candidates;
  for (const auto& b : all) {
    // Topology narrows the ready endpoints; the fallback to serving-terminating ones
    // (no ready endpoint anywhere) never looks at hints.
    const bool hinted = topology == Topology::kNone ||
                        (topology == Topology::kSameNode ? has(b.nodeHints(), here.nodeName)
                                                         : has(b.zoneHints(), here.zone));
    if (!b.ready || hinted) candidates.push_back(b);
  }
  pools.cluster = usable(candidates);
  std::vector<Backend> local;
  std::copy_if(all.begin(), all.end(), std::back_inserter(local),
               [](const Backend& b) { return b.local; });
  pools.local = usable(local);
  return pools;
}

}  // namespace svcnft
