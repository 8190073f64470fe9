// The Kubernetes objects svcnft acts on, as plain values with no file format:
// Services, their endpoints (EndpointSlice form; legacy Endpoints are converted to
// it by the loader) and this node's configuration. Every object remembers where it
// was read (SourceLocation) so later stages can name it in errors.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/diagnostics.h"
#include "common/shared_name.h"
#include "model/address.h"

namespace svcnft {

enum class Protocol : uint8_t { kTcp, kUdp, kSctp };
std::optional<Protocol> parseProtocol(const std::string& k8sName);  // "TCP", "UDP", "SCTP"
const char* protocolK8sName(Protocol p);                            // "TCP"
const char* protocolNftName(Protocol p);                            // "tcp"

enum class ServiceType : uint8_t { kClusterIP, kNodePort, kLoadBalancer, kExternalName };
enum class TrafficPolicy : uint8_t { kCluster, kLocal };

inline constexpr int kDefaultAffinityTimeoutSeconds = 10800;

struct ServicePort {
  std::string name;
  Protocol protocol = Protocol::kTcp;
  uint16_t port = 0;
  uint16_t targetPortNumber = 0;  // 0: not a number (see targetPortName) or unset
  std::string targetPortName;     // set when targetPort is a named port
  uint16_t nodePort = 0;          // 0: none
  SourceLocation where;
  SourceLocation nodePortWhere;
  bool operator==(const ServicePort&) const = default;
};

struct Service {
  std::string ns;
  std::string name;
  ServiceType type = ServiceType::kClusterIP;
  bool headless = false;  // clusterIP: None
  std::vector<IpAddress> clusterIPs;
  std::vector<IpFamily> ipFamilies;  // as written; empty when not given
  std::vector<ServicePort> ports;
  std::vector<IpAddress> externalIPs;
  std::vector<IpAddress> loadBalancerIPs;           // status ingress IPs, minus ipMode Proxy
  std::vector<SourceLocation> externalIPWhere;      // parallel to externalIPs
  // spec.externalIPs outside the node config's externalIPAllow: left out of the
  // rules (CVE-2020-8554), kept to be reported (log, metric, `svcnft show`).
  std::vector<IpAddress> refusedExternalIPs;
  std::vector<SourceLocation> loadBalancerIPWhere;  // parallel to loadBalancerIPs
  std::vector<Cidr> loadBalancerSourceRanges;
  // Which load balancer implementation announces it (empty: the cluster's default).
  std::string loadBalancerClass;
  TrafficPolicy externalTrafficPolicy = TrafficPolicy::kCluster;
  TrafficPolicy internalTrafficPolicy = TrafficPolicy::kCluster;
  bool clientIPAffinity = false;
  int affinityTimeoutSeconds = kDefaultAffinityTimeoutSeconds;
  uint16_t healthCheckNodePort = 0;
  SourceLocation where;

  std::string key() const { return ns + "/" + name; }
  // NodePort and LoadBalancer Services open their ports' nodePorts.
  bool hasNodePorts() const {
    return type == ServiceType::kNodePort || type == ServiceType::kLoadBalancer;
  }
  bool operator==(const Service&) const = default;
};

// Topology hints the EndpointSlice controller writes (hints.forZones, forNodes)
// for a Service with trafficDistribution or topology-aware routing.
struct TopologyHints {
  std::vector<std::string> zones;
  std::vector<std::string> nodes;
  bool operator==(const TopologyHints&) const = default;

  // The zones and nodes of `hints`, none when it is null (most endpoints).
  static const std::vector<std::string>& zonesOf(const std::shared_ptr<const TopologyHints>& hints);
  static const std::vector<std::string>& nodesOf(const std::shared_ptr<const TopologyHints>& hints);
};

// Kept compact (56 bytes; the weight fills the gap after the flags): the agent
// holds every endpoint of the cluster.
struct Endpoint {
  IpAddress address;
  bool ready = true;
  bool serving = true;
  bool terminating = false;
  int weight = 1;  // svcnft.io/weights; 0 = draining
  SharedName nodeName;
  SharedName zone;
  // Most endpoints have none: shared and immutable, null when there are none.
  std::shared_ptr<const TopologyHints> hints;

  const std::vector<std::string>& zoneHints() const { return TopologyHints::zonesOf(hints); }
  const std::vector<std::string>& nodeHints() const { return TopologyHints::nodesOf(hints); }
  bool operator==(const Endpoint& other) const;
};

struct EndpointPort {
  std::string name;
  Protocol protocol = Protocol::kTcp;
  uint16_t port = 0;
  bool operator==(const EndpointPort&) const = default;
};

struct EndpointSlice {
  std::string ns;
  std::string name;
  std::string serviceName;
  IpFamily addressType = IpFamily::kV4;
  std::vector<Endpoint> endpoints;
  std::vector<EndpointPort> ports;
  // endpoints.kubernetes.io/last-change-trigger-time, Unix seconds (0: none): when
  // the change this slice carries was triggered, for the programming latency.
  double triggerTime = 0;
  SourceLocation where;

  std::string serviceKey() const { return ns + "/" + serviceName; }
  bool operator==(const EndpointSlice&) const = default;
};

struct PortRange {
  uint16_t first = 30000;
  uint16_t last = 32767;
  bool contains(uint16_t p) const { return p >= first && p <= last; }
  bool operator==(const PortRange&) const = default;
};

// How traffic from this node's pods is told apart from the rest (kube-proxy's
// detectLocalMode): it is masqueraded less and short-circuits externalTrafficPolicy
// Local.
enum class LocalTrafficMode : uint8_t {
  kClusterCIDR,          // source in clusterCIDRs
  kNodeCIDR,             // source in this node's podCIDRs
  kBridgeInterface,      // arrives on the bridge `localInterface`
  kInterfaceNamePrefix,  // arrives on an interface whose name starts with `localInterface`
};

// kube-proxy's names: ClusterCIDR, NodeCIDR, BridgeInterface, InterfaceNamePrefix
// ("" reads as ClusterCIDR, kube-proxy's default).
std::optional<LocalTrafficMode> localTrafficModeNamed(const std::string& name);
const char* localTrafficModeName(LocalTrafficMode mode);

struct NodeConfig {
  std::string nodeName;
  std::vector<IpAddress> nodeIPs;  // empty: every local address (fib daddr type local)
  // Non-empty: NodePorts only on this node's addresses within these ranges (and on
  // nodeIPs), as kube-proxy's nodePortAddresses with CIDRs.
  std::vector<Cidr> nodePortCIDRs;
  // In API mode, the Node's primary addresses take NodePorts when nodeIPs is empty
  // (nodePortAddresses "primary", kube-proxy's nftables default).
  bool nodePortsOnPrimary = true;
  std::vector<Cidr> clusterCIDRs;
  LocalTrafficMode localTraffic = LocalTrafficMode::kClusterCIDR;
  std::string localInterface;  // the bridge, or the name prefix
  PortRange nodePortRange;
  std::vector<Cidr> externalIPAllow;
  std::vector<Cidr> serviceCIDRs;
  // Where the announcer takes LoadBalancer addresses from for Services of its
  // loadBalancerClass that have none (announce/allocator.h).
  std::vector<Cidr> loadBalancerPools;
  bool masqueradeAll = false;
  std::string table = "svcnft";
  // This node's pod networks (the Node's spec.podCIDRs in API mode) and topology
  // zone (`zone`, or the Node's topology.kubernetes.io/zone label): kept for
  // topology-aware routing and local-traffic detection.
  std::vector<Cidr> podCIDRs;
  std::string zone;
  bool operator==(const NodeConfig&) const = default;
};

// Everything the compiler needs, already validated.
struct Inputs {
  std::vector<Service> services;
  std::vector<EndpointSlice> slices;
  NodeConfig node;
};

}  // namespace svcnft
