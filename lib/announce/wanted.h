// What a node would announce for one Service: its LoadBalancer ingress addresses,
// when the Service is of the class this node announces for, and whether the node
// is a candidate (externalTrafficPolicy Local: only with a ready endpoint here, or
// the traffic it drew would be dropped). Pure.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "announce/allocator.h"
#include "announce/announcer.h"
#include "model/inputs.h"

namespace svcnft::announce {

// `lbClass`: the loadBalancerClass this node announces for; Services without a
// class are announced too (svcnft is then the cluster's default implementation).
std::vector<Announcement> announcementsOf(const ServiceInput& in, const std::string& nodeName,
                                          const std::string& lbClass);

// The Service's request for addresses from the pools: when it claims `lbClass`
// (explicitly: a Service without a class gets its addresses elsewhere) and has none.
std::optional<AddressRequest> addressRequestOf(const ServiceInput& in, const std::string& lbClass);

}  // namespace svcnft::announce
