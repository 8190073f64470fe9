// Checks across objects and against the node config. Per-field checks live in
// the parsers; what needs more than one object lives here.
#include <map>
#include <set>

#include "manifest/loader.h"

namespace svcnft::manifest {

namespace {

// "FILE:LINE", or just the name for objects without positions (API objects).
std::string place(const SourceLocation& where) {
  return where.line > 0 ? where.file.str() + ":" + std::to_string(where.line) : where.file.str();
}

bool allowed(const IpAddress& a, const std::vector<Cidr>& allow) {
  for (const auto& c : allow) {
    if (c.contains(a)) return true;
  }
  return false;
}

void refuseExternalIPs(Manifests& m, const NodeConfig& node, Diagnostics& diags) {
  // Guards CVE-2020-8554: a Service may only claim spec.externalIPs the operator
  // allowed. A refused address is left out alone; the Service and the rest of its
  // file still apply. LoadBalancer ingress IPs are exempt: a controller writes them
  // into status, which users cannot (kube-proxy's DenyServiceExternalIPs guard
  // looks at spec.externalIPs only).
  for (auto& svc : m.services) {
    std::vector<IpAddress> kept;
    std::vector<SourceLocation> keptWhere;
    for (std::size_t i = 0; i < svc.externalIPs.size(); ++i) {
      const SourceLocation& where =
          i < svc.externalIPWhere.size() ? svc.externalIPWhere[i] : svc.where;
      if (allowed(svc.externalIPs[i], node.externalIPAllow)) {
        kept.push_back(svc.externalIPs[i]);
        keptWhere.push_back(where);
        continue;
      }
      svc.refusedExternalIPs.push_back(svc.externalIPs[i]);
      diags.warning(where, "Service " + svc.key() + ": spec.externalIPs[" + std::to_string(i) +
                               "]: " + svc.externalIPs[i].str() +
                               " is outside externalIPAllow of the node config; this address "
                               "is left out (CVE-2020-8554)");
    }
    svc.externalIPs = std::move(kept);
    svc.externalIPWhere = std::move(keptWhere);
  }
}

}  // namespace

void validate(Manifests& m, const NodeConfig& node, Diagnostics& diags,
              std::vector<RefusedObject>* refused) {
  refuseExternalIPs(m, node, diags);
  std::map<std::string, const Service*> byKey;
  // (protocol, nodePort) → the first Service that claimed it.
  std::map<std::pair<Protocol, uint16_t>, const Service*> nodePorts;
  std::set<const Service*> bad;  // Services an error is about

  for (const auto& svc : m.services) {
    const int errorsBefore = diags.errorCount();
    auto [it, fresh] = byKey.emplace(svc.key(), &svc);
    if (!fresh) {
      diags.error(svc.where, "Service " + svc.key() + ": defined twice (first at " +
                                 place(it->second->where) + ")");
      bad.insert(&svc);
      continue;
    }
    for (std::size_t i = 0; i < svc.ports.size(); ++i) {
      const ServicePort& p = svc.ports[i];
      if (p.nodePort == 0 || !svc.hasNodePorts()) continue;
      const std::string field =
          "Service " + svc.key() + ": spec.ports[" + std::to_string(i) + "].nodePort: ";
      if (!node.nodePortRange.contains(p.nodePort)) {
        diags.error(p.nodePortWhere, field + std::to_string(p.nodePort) +
                                         " is outside nodePortRange " +
                                         std::to_string(node.nodePortRange.first) + "-" +
                                         std::to_string(node.nodePortRange.last));
        continue;
      }
      auto [owner, first] = nodePorts.emplace(std::make_pair(p.protocol, p.nodePort), &svc);
      if (!first) {
        diags.error(p.nodePortWhere, field + std::to_string(p.nodePort) + "/" +
                                         protocolK8sName(p.protocol) +
                                         " is already used by Service " + owner->second->key() +
                                         " (" + place(owner->second->where) + ")");
      }
    }
    if (diags.errorCount() > errorsBefore) bad.insert(&svc);
  }
  if (refused && !bad.empty()) {
    for (const Service* svc : bad) refused->push_back({"Service", svc->key(), svc->where});
    // A Service defined twice keeps its first definition; the second goes.
    std::vector<Service> kept;
    for (auto& svc : m.services) {
      if (!bad.count(&svc)) kept.push_back(std::move(svc));
    }
    m.services = std::move(kept);
  }

  for (const auto& slice : m.slices) {
    if (!byKey.count(slice.serviceKey())) {
      diags.warning(slice.where, "EndpointSlice " + slice.ns + "/" + slice.name +
                                     ": metadata.labels[kubernetes.io/service-name]: Service " +
                                     slice.serviceKey() + " is not defined; slice ignored");
    }
  }
}

}  // namespace svcnft::manifest
