// One typed description of each set of the skeleton: its name, what its key and
// value hold, which front (address or NodePort) it is keyed by, and who puts its
// elements there. The compiler and the skeleton name sets through it; the writer's
// read-back, `show`, the live table and the UDP cleanup find sets and read element
// bytes through it, instead of set names as strings and byte offsets of their own.
//
// Bytes are the kernel's: each field of a concatenation padded to 4 bytes, addresses
// 4 or 16 bytes, ports big-endian, the bucket number in host order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "model/service.h"

namespace svcnft::skeleton {

enum class FrontKind : uint8_t { kAddress, kNodePort };

// In the skeleton's order (each family declares them in this order).
enum class SetKind : uint8_t {
  kClusterCidrs,
  kServiceCidrs,
  kNodePortIps,
  kNodePortCidrs,
  kClusterIps,
  kServiceIps,
  kNodePorts,
  kLb,
  kNpLb,
  kLbLocal,
  kNpLbLocal,
  kBackends,
  kNpBackends,
  kAffinity,
  kTargetPorts,
  kNpTargetPorts,
  kAffinityTimeouts,
  kNpAffinityTimeouts,
  kNoEndpoints,
  kNpNoEndpoints,
  kFirewallFronts,
  kFirewallAllow,
  kHairpin,
  kExternalIpsRefused,
};

enum class KeyLayout : uint8_t {
  kAddress,      // one address or CIDR
  kAddressPair,  // source . destination address (hairpin)
  kFront,        // the front: address . protocol . port, or protocol . port (NodePort)
  kFrontBucket,  // the front . the bucket
  kFrontSource,  // the front . the client's CIDR (loadBalancerSourceRanges)
  kClientFront,  // the client . the front (IPv6: two hashes of them . protocol . port)
};

enum class ValueLayout : uint8_t {
  kNone,
  kVerdict,   // a goto, a jump or drop
  kEndpoint,  // endpoint address . port
  kPort,      // a port
  kAddress,   // an endpoint address
};

enum class Owner : uint8_t {
  kNode,        // the node config's: the same whatever the Services
  kService,     // one Service's (the front it claims, its buckets, ...)
  kShared,      // an entry two Services may both need (a ClusterIP, a hairpin pair)
  kPacketPath,  // filled by the packet path with timeouts (session affinity)
};

struct SetSpec {
  SetKind kind;
  const char* stem;  // the name without its family: "backends"
  FrontKind front;   // for front-keyed layouts
  KeyLayout key;
  ValueLayout value;
  Owner owner;
};

// Every set, in the skeleton's order.
const std::vector<SetSpec>& setSpecs();
const SetSpec& spec(SetKind kind);

// "backends-v4".
std::string setName(SetKind kind, IpFamily f);
// The kind and family of one of our set names; nullopt for anything else.
std::optional<std::pair<SetKind, IpFamily>> setOf(std::string_view name);
// The NodePort twin of a set keyed by an address front (kLb → kNpLb), given the
// front: itself for an address front.
SetKind forFront(SetKind byAddress, FrontKind front);

// --- Element bytes ---
std::size_t addressBytes(IpFamily f);  // 4 or 16
// A front key: address . protocol . port (padded), or protocol . port.
std::size_t frontBytes(FrontKind front, IpFamily f);
// The front of a kFrontBucket key (what is left without the bucket).
std::string_view frontOfBucketKey(std::string_view key);
// The endpoint address of a kEndpoint or kAddress value.
std::string_view endpointAddress(std::string_view value, IpFamily f);
// The protocol . port a front key ends with (the last 8 bytes); all an IPv6
// affinity key (hashed client . address . protocol . port) names of its front.
std::string_view protocolPort(std::string_view key);
// An IPv4 affinity key (client . address . protocol . port): the front it names if
// that front is an address front, and if it is a NodePort (protocol . port).
std::string_view affinityAddressFront(std::string_view key, IpFamily f);
std::string_view affinityNodePortFront(std::string_view key, IpFamily f);

}  // namespace svcnft::skeleton
