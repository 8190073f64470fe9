#include "agent/udp_fronts.h"

#include <algorithm>

#include "compile/skeleton.h"

namespace svcnft::agent {

namespace {

bool isUdp(const ir::Datum& d) {
  const auto* p = std::get_if<Protocol>(&d);
  return p && *p == Protocol::kUdp;
}

uint16_t portOf(const ir::Datum& d) { return std::get<ir::Port>(d).value; }

}  // namespace

namespace {

// Every UDP front of the inputs' Services, with their serving endpoints.
UdpFronts servingEndpoints(const std::vector<ServiceInput>& inputs) {
  UdpFronts out;
  for (const auto& in : inputs) {
    if (!in.service) continue;
    const Service& svc = *in.service;
    for (const auto& sp : svc.ports) {
      if (sp.protocol != Protocol::kUdp) continue;
      std::set<IpAddress> serving;
      for (const EndpointSlice* slice : in.slices) {
        const bool carries =
            std::any_of(slice->ports.begin(), slice->ports.end(), [&](const EndpointPort& p) {
              return p.protocol == Protocol::kUdp && p.name == sp.name;
            });
        if (!carries) continue;
        for (const auto& e : slice->endpoints) {
          if (e.serving) serving.insert(e.address);
        }
      }
      auto sameFamily = [&](const IpAddress& a) {
        std::set<IpAddress> of;
        for (const auto& e : serving) {
          if (e.family() == a.family()) of.insert(e);
        }
        return of;
      };
      for (const auto* list : {&svc.clusterIPs, &svc.externalIPs, &svc.loadBalancerIPs}) {
        for (const auto& a : *list) out[{false, a, sp.port}] = sameFamily(a);
      }
      if (sp.nodePort != 0 && svc.hasNodePorts()) out[{true, IpAddress(), sp.nodePort}] = serving;
    }
  }
  return out;
}

}  // namespace

UdpFronts udpFronts(const ir::Ruleset& rs, const std::vector<ServiceInput>& inputs) {
  // The fronts come from the rules: only what is installed can have flows of ours.
  std::set<UdpFrontKey> installed;
  for (IpFamily f : {IpFamily::kV4, IpFamily::kV6}) {
    for (auto set : {skeleton::SetKind::kServiceIps, skeleton::SetKind::kNoEndpoints}) {
      if (const ir::Set* s = rs.findSet(skeleton::setName(set, f))) {
        for (const auto& e : s->elements) {
          if (isUdp(e.key[1]))
            installed.insert({false, std::get<IpAddress>(e.key[0]), portOf(e.key[2])});
        }
      }
    }
    for (auto set : {skeleton::SetKind::kNodePorts, skeleton::SetKind::kNpNoEndpoints}) {
      if (const ir::Set* s = rs.findSet(skeleton::setName(set, f))) {
        for (const auto& e : s->elements) {
          if (isUdp(e.key[0])) installed.insert({true, IpAddress(), portOf(e.key[1])});
        }
      }
    }
  }
  const UdpFronts serving = servingEndpoints(inputs);
  UdpFronts out;
  for (const auto& key : installed) {
    auto it = serving.find(key);
    out[key] = it == serving.end() ? std::set<IpAddress>{} : it->second;
  }
  return out;
}

UdpFronts udpFronts(const ir::Ruleset& rs, const Inputs& inputs) {
  std::map<std::string, ServiceInput> byKey;
  for (const auto& svc : inputs.services) {
    auto& in = byKey[svc.key()];
    in.key = svc.key();
    in.service = &svc;
  }
  for (const auto& slice : inputs.slices) {
    auto it = byKey.find(slice.serviceKey());
    if (it != byKey.end()) it->second.slices.push_back(&slice);
  }
  std::vector<ServiceInput> list;
  list.reserve(byKey.size());
  for (auto& [key, in] : byKey) list.push_back(std::move(in));
  return udpFronts(rs, list);
}

UdpFronts changedFronts(const UdpFronts& before, const UdpFronts& after) {
  UdpFronts out;
  for (const auto& [key, had] : before) {
    auto it = after.find(key);
    if (it == after.end()) {
      out[key] = {};
    } else if (it->second != had) {
      out[key] = it->second;
    }
  }
  for (const auto& [key, has] : after) {
    if (!before.count(key)) out[key] = has;
  }
  return out;
}

}  // namespace svcnft::agent
