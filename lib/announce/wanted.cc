#include "announce/wanted.h"

namespace svcnft::announce {

std::vector<Announcement> announcementsOf(const ServiceInput& in, const std::string& nodeName,
                                          const std::string& lbClass) {
  std::vector<Announcement> out;
  const Service* svc = in.service;
  if (!svc || svc->type != ServiceType::kLoadBalancer || svc->loadBalancerIPs.empty()) return out;
  if (!svc->loadBalancerClass.empty() && svc->loadBalancerClass != lbClass) return out;
  bool candidate = svc->externalTrafficPolicy == TrafficPolicy::kCluster;
  for (const auto* slice : in.slices) {
    for (const auto& e : slice->endpoints) {
      if (e.ready && !nodeName.empty() && e.nodeName == nodeName) candidate = true;
    }
  }
  for (const auto& a : svc->loadBalancerIPs) out.push_back({a, in.key, candidate});
  return out;
}

}  // namespace svcnft::announce
