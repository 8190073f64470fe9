// Synthetic clusters for scale tests: S Services x E endpoints whose features
// repeat every 10 Services, so 10 Services already use every chain kind and bucket
// count that 10,000 use.
#pragma once

#include "model/service.h"

namespace svcnft::testing {

inline IpAddress v4(uint32_t n) { return IpAddress::v4(n); }

inline Inputs generate(int services, int endpointsPerService) {
  Inputs in;
  in.node.nodeName = "n1";
  in.node.nodeIPs = {*IpAddress::parse("198.18.0.1")};
  in.node.clusterCIDRs = {*Cidr::parse("198.19.0.0/16")};
  in.node.nodePortRange = {1024, 65535};
  for (int i = 0; i < services; ++i) {
    Service s;
    s.ns = "bench";
    s.name = "svc-" + std::to_string(i);
    const int kind = i % 10;
    s.type = kind == 0 || kind == 2 || kind == 3 ? ServiceType::kNodePort : ServiceType::kClusterIP;
    s.clusterIPs = {v4(0xC6120000u + 0x8000u + static_cast<uint32_t>(i))};  // 198.18.128.0+
    s.externalTrafficPolicy =
        kind == 0 || kind == 3 ? TrafficPolicy::kLocal : TrafficPolicy::kCluster;
    s.clientIPAffinity = kind == 0 || kind == 4;
    ServicePort p;
    p.name = "http";
    p.port = 80;
    p.targetPortNumber = 8080;
    if (s.type == ServiceType::kNodePort) p.nodePort = static_cast<uint16_t>(20000 + i);
    s.ports = {p};
    in.services.push_back(s);

    EndpointSlice slice;
    slice.ns = "bench";
    slice.name = s.name + "-1";
    slice.serviceName = s.name;
    slice.ports = {{"http", Protocol::kTcp, 8080}};
    for (int e = 0; e < endpointsPerService; ++e) {
      Endpoint ep;
      ep.address = v4(0xC6130000u + static_cast<uint32_t>(i * endpointsPerService + e));
      ep.nodeName = e % 2 == 0 ? "n1" : "n2";
      ep.weight = e == 0 && (kind == 0 || kind == 5) ? 3 : 1;
      slice.endpoints.push_back(ep);
    }
    in.slices.push_back(slice);
  }
  return in;
}

}  // namespace svcnft::testing
