#include "announce/wanted.h"

#include <algorithm>

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

std::optional<AddressRequest> addressRequestOf(const ServiceInput& in, const std::string& lbClass) {
  const Service* svc = in.service;
  if (!svc || svc->type != ServiceType::kLoadBalancer || lbClass.empty() ||
      svc->loadBalancerClass != lbClass || !svc->loadBalancerIPs.empty()) {
    return std::nullopt;
  }
  AddressRequest req{in.key, svc->ipFamilies};
  if (req.families.empty()) {
    for (const auto& a : svc->clusterIPs) {
      if (std::find(req.families.begin(), req.families.end(), a.family()) == req.families.end())
        req.families.push_back(a.family());
    }
  }
  if (req.families.empty()) req.families.push_back(IpFamily::kV4);
  return req;
}

}  // namespace svcnft::announce
