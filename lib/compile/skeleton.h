// The fixed part of the ruleset: every set/map and every chain whose rules do not
// depend on Services. Its shape depends only on the node config (clusterCIDRs
// given or not, nodeIPs given or not, serviceCIDRs given or not, masqueradeAll).
// rules/skeleton.nft is this, rendered for the reference node config.
//
// How a new connection flows (per family; v4 shown):
//   nat prerouting/output → services: ip daddr . l4proto . dport vmap @service-ips-v4
//     (node IPs: l4proto . dport vmap @nodeports-v4)
//   → a policy chain (svc-cluster / svc-external / svc-external-local, np-* for
//     NodePorts): marks for masquerade as the traffic policy says, tries the
//     session-affinity map, then vmap @lb-v4 (or @lb-local-v4) → goto lb-v4-N
//   → lb-v4-N: dnat to the endpoint in @backends-v4 keyed by the front and
//     `numgen random mod N`. Local-pool buckets sit at kLocalPoolOffset.
//   Nothing matched (no usable endpoint) → filter endpoints-check rejects or drops.
#pragma once

#include <cstdint>
#include <string>

#include "compile/ir.h"
#include "compile/skeleton_sets.h"
#include "model/service.h"

namespace svcnft::skeleton {

inline constexpr uint32_t kMasqueradeMark = 0x4000;    // kube-proxy's bit, so tooling agrees
inline constexpr uint32_t kLocalPoolOffset = 65536;    // above any cluster bucket number
inline constexpr uint32_t kAffinityEntries = 1 << 20;  // clients remembered per family
// Seeds of the two hashes that key IPv6 session affinity (client . front address).
inline constexpr uint32_t kAffinitySeeds[2] = {0x9e3779b9, 0x7f4a7c15};

// Per-family names: sets and policy chains end in "-v4" or "-v6".
std::string suffix(IpFamily f);
std::string name(const char* base, IpFamily f);  // name("service-ips", v4) = "service-ips-v4"

// Name of the chain that picks among N buckets of a pool.
std::string lbChainName(FrontKind kind, bool localPool, IpFamily f, int buckets);
// Its one rule.
ir::Rule lbChainRule(FrontKind kind, bool localPool, IpFamily f, int buckets);
// Chain recording session affinity with a given timeout, and its rule.
std::string affinityChainName(IpFamily f, int timeoutSeconds);
ir::Rule affinityChainRule(IpFamily f, int timeoutSeconds);

// Policy chains that service-ips / nodeports elements point to.
inline constexpr const char* kSvcCluster = "svc-cluster";
inline constexpr const char* kSvcExternal = "svc-external";
inline constexpr const char* kSvcExternalLocal = "svc-external-local";
inline constexpr const char* kNpCluster = "np-cluster";
inline constexpr const char* kNpExternal = "np-external";
inline constexpr const char* kNpExternalLocal = "np-external-local";
inline constexpr const char* kRejectChain = "reject-service";

// Builds sets (empty) and fixed chains for this node config.
ir::Ruleset build(const NodeConfig& node);

}  // namespace svcnft::skeleton
