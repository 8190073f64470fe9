// What a node would announce for one Service: its LoadBalancer ingress addresses,
// when the Service is of the class this node announces for, and whether the node
// is a candidate (externalTrafficPolicy Local: only with a ready endpoint here, or
// the traffic it drew would be dropped). Pure.
#pragma once

#include <string>
#include <vector>

#include "announce/announcer.h"
#include "model/inputs.h"

namespace svcnft::announce {

// `lbClass`: the loadBalancerClass this node announces for; Services without a
// class are announced too (svcnft is then the cluster's default implementation).
std::vector<Announcement> announcementsOf(const ServiceInput& in, const std::string& nodeName,
                                          const std::string& lbClass);

}  // namespace svcnft::announce
