// What every source hands the agent, with no file format and no kernel in it:
// the objects one part of the input holds (a file, or one API object), and one
// Service's inputs as the compiler takes them Service by Service; and what the
// cluster says of this node.
#pragma once

#include <string>
#include <vector>

#include "model/service.h"

namespace svcnft {

// The objects read from one part of the input, in the order read.
struct Manifests {
  std::vector<Service> services;
  std::vector<EndpointSlice> slices;
};

// One Service's inputs now. service == nullptr: the Service is gone (its slices,
// if any, are ignored, as the batch compile ignores slices of unknown Services).
struct ServiceInput {
  std::string key;  // "namespace/name"
  const Service* service = nullptr;
  std::vector<const EndpointSlice*> slices;  // in input order
};

// What the cluster says of this node (the Node object), beyond the node config.
struct NodeFacts {
  std::vector<IpAddress> addresses;  // primary addresses, one per family: NodePort targets
  std::vector<Cidr> podCIDRs;        // spec.podCIDRs
  std::string zone;                  // label topology.kubernetes.io/zone
  // Being deleted (metadata.deletionTimestamp) or about to be (the cluster
  // autoscaler's ToBeDeletedByClusterAutoscaler taint): load balancers should stop
  // sending new traffic here, so /healthz says the node is not eligible.
  bool leaving = false;
  bool operator==(const NodeFacts&) const = default;
};

}  // namespace svcnft
