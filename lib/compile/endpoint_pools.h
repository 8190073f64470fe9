// Which endpoints take new connections for one Service port and address family.
// kube-proxy's rules: ready endpoints; when none is ready, those both serving and
// terminating. Chosen separately for the whole cluster and for this node (the
// pools of the Cluster and Local traffic policies). Weight 0 (draining) endpoints
// are left out of both: existing connections keep their conntrack entry.
#pragma once

#include <cstdint>
#include <vector>

#include "model/service.h"

namespace svcnft {

struct Backend {
  IpAddress address;
  uint16_t port = 0;
  int weight = 1;
  bool local = false;  // on this node
  bool ready = true;
  bool serving = true;
  bool terminating = false;

  auto operator<=>(const Backend&) const = default;
};

struct EndpointPools {
  std::vector<Backend> cluster;  // every node
  std::vector<Backend> local;    // this node only
};

EndpointPools choosePools(const std::vector<Backend>& all);

}  // namespace svcnft
