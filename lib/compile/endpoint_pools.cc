#include "compile/endpoint_pools.h"

#include <algorithm>

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
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

}  // namespace

EndpointPools choosePools(const std::vector<Backend>& all) {
  EndpointPools pools;
  pools.cluster = usable(all);
  std::vector<Backend> local;
  std::copy_if(all.begin(), all.end(), std::back_inserter(local),
               [](const Backend& b) { return b.local; });
  pools.local = usable(local);
  return pools;
}

}  // namespace svcnft
