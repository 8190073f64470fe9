// Which endpoints take new connections for one Service port and address family.
// kube-proxy's rules: ready endpoints; when none is ready, those both serving and
// terminating. Chosen separately for the whole cluster and for this node (the
// pools of the Cluster and Local traffic policies). Weight 0 (draining) endpoints
// are left out of both: existing connections keep their conntrack entry.
// Topology (kube-proxy's CategorizeEndpoints): the cluster pool keeps only the ready
// endpoints hinted for this node (hints.forNodes) when every ready endpoint has a
// node hint and some is for this node; else those hinted for this node's zone
// (hints.forZones), on the same terms; else all. The Local pool ignores hints.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/service.h"

namespace svcnft {

struct Backend {
  IpAddress address;
  uint16_t port = 0;
  int weight = 1;
  bool local = false;      // on this node
  bool elsewhere = false;  // on another node, by its nodeName (neither: not known)
  bool ready = true;
  bool serving = true;
  bool terminating = false;
  std::shared_ptr<const TopologyHints> hints;  // null: none

  const std::vector<std::string>& zoneHints() const { return TopologyHints::zonesOf(hints); }
  const std::vector<std::string>& nodeHints() const { return TopologyHints::nodesOf(hints); }
};

// Where this node is, for topology hints.
struct NodeTopology {
  std::string nodeName;
  std::string zone;
};

struct EndpointPools {
  std::vector<Backend> cluster;  // every node
  std::vector<Backend> local;    // this node only
};

EndpointPools choosePools(const std::vector<Backend>& all, const NodeTopology& here = {});

}  // namespace svcnft
