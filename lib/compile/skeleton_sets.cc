#include "compile/skeleton_sets.h"

namespace svcnft::skeleton {

namespace {

using F = FrontKind;
using K = KeyLayout;
using V = ValueLayout;
using O = Owner;

const std::vector<SetSpec> kSpecs = {
    {SetKind::kClusterCidrs, "cluster-cidrs", F::kAddress, K::kAddress, V::kNone, O::kNode},
    {SetKind::kServiceCidrs, "service-cidrs", F::kAddress, K::kAddress, V::kNone, O::kNode},
    {SetKind::kNodePortIps, "nodeport-ips", F::kAddress, K::kAddress, V::kNone, O::kNode},
    {SetKind::kNodePortCidrs, "nodeport-cidrs", F::kAddress, K::kAddress, V::kNone, O::kNode},
    {SetKind::kClusterIps, "cluster-ips", F::kAddress, K::kAddress, V::kNone, O::kShared},
    {SetKind::kServiceIps, "service-ips", F::kAddress, K::kFront, V::kVerdict, O::kService},
    {SetKind::kNodePorts, "nodeports", F::kNodePort, K::kFront, V::kVerdict, O::kService},
    {SetKind::kLb, "lb", F::kAddress, K::kFront, V::kVerdict, O::kService},
    {SetKind::kNpLb, "np-lb", F::kNodePort, K::kFront, V::kVerdict, O::kService},
    {SetKind::kLbLocal, "lb-local", F::kAddress, K::kFront, V::kVerdict, O::kService},
    {SetKind::kNpLbLocal, "np-lb-local", F::kNodePort, K::kFront, V::kVerdict, O::kService},
    {SetKind::kBackends, "backends", F::kAddress, K::kFrontBucket, V::kEndpoint, O::kService},
    {SetKind::kNpBackends, "np-backends", F::kNodePort, K::kFrontBucket, V::kEndpoint, O::kService},
    {SetKind::kAffinity, "affinity", F::kAddress, K::kClientFront, V::kAddress, O::kPacketPath},
    {SetKind::kTargetPorts, "target-ports", F::kAddress, K::kFront, V::kPort, O::kService},
    {SetKind::kNpTargetPorts, "np-target-ports", F::kNodePort, K::kFront, V::kPort, O::kService},
    {SetKind::kAffinityTimeouts, "affinity-timeouts", F::kAddress, K::kFront, V::kVerdict,
     O::kService},
    {SetKind::kNpAffinityTimeouts, "np-affinity-timeouts", F::kNodePort, K::kFront, V::kVerdict,
     O::kService},
    {SetKind::kNoEndpoints, "no-endpoints", F::kAddress, K::kFront, V::kVerdict, O::kService},
    {SetKind::kNpNoEndpoints, "np-no-endpoints", F::kNodePort, K::kFront, V::kVerdict, O::kService},
    {SetKind::kFirewallFronts, "firewall-fronts", F::kAddress, K::kFront, V::kNone, O::kService},
    {SetKind::kFirewallAllow, "firewall-allow", F::kAddress, K::kFrontSource, V::kNone,
     O::kService},
    {SetKind::kHairpin, "hairpin", F::kAddress, K::kAddressPair, V::kNone, O::kShared},
    {SetKind::kExternalIpsRefused, "external-ips-refused", F::kAddress, K::kFront, V::kNone,
     O::kShared},
};

std::string suffixOf(IpFamily f) { return f == IpFamily::kV4 ? "-v4" : "-v6"; }

}  // namespace

const std::vector<SetSpec>& setSpecs() { return kSpecs; }

const SetSpec& spec(SetKind kind) { return kSpecs[static_cast<std::size_t>(kind)]; }

std::string setName(SetKind kind, IpFamily f) { return spec(kind).stem + suffixOf(f); }

std::optional<std::pair<SetKind, IpFamily>> setOf(std::string_view name) {
  if (name.size() < 4) return std::nullopt;
  const std::string_view tail = name.substr(name.size() - 3);
  const std::string_view stem = name.substr(0, name.size() - 3);
  IpFamily f;
  if (tail == "-v4") {
    f = IpFamily::kV4;
  } else if (tail == "-v6") {
    f = IpFamily::kV6;
  } else {
    return std::nullopt;
  }
  for (const auto& s : kSpecs) {
    if (stem == s.stem) return std::make_pair(s.kind, f);
  }
  return std::nullopt;
}

SetKind forFront(SetKind byAddress, FrontKind front) {
  if (front == FrontKind::kAddress) return byAddress;
  switch (byAddress) {
    case SetKind::kServiceIps:
      return SetKind::kNodePorts;
    case SetKind::kLb:
      return SetKind::kNpLb;
    case SetKind::kLbLocal:
      return SetKind::kNpLbLocal;
    case SetKind::kBackends:
      return SetKind::kNpBackends;
    case SetKind::kTargetPorts:
      return SetKind::kNpTargetPorts;
    case SetKind::kAffinityTimeouts:
      return SetKind::kNpAffinityTimeouts;
    case SetKind::kNoEndpoints:
      return SetKind::kNpNoEndpoints;
    default:
      return byAddress;  // no NodePort twin
  }
}

std::size_t addressBytes(IpFamily f) { return f == IpFamily::kV4 ? 4 : 16; }

std::size_t frontBytes(FrontKind front, IpFamily f) {
  return (front == FrontKind::kAddress ? addressBytes(f) : 0) + 4 + 4;
}

std::string_view frontOfBucketKey(std::string_view key) {
  return key.size() >= 4 ? key.substr(0, key.size() - 4) : key;
}

std::string_view endpointAddress(std::string_view value, IpFamily f) {
  return value.substr(0, addressBytes(f));
}

std::string_view protocolPort(std::string_view key) {
  return key.size() >= 8 ? key.substr(key.size() - 8) : key;
}

std::string_view affinityAddressFront(std::string_view key, IpFamily f) {
  return key.size() >= addressBytes(f) ? key.substr(addressBytes(f)) : std::string_view();
}

std::string_view affinityNodePortFront(std::string_view key, IpFamily f) {
  return key.size() >= 2 * addressBytes(f) ? key.substr(2 * addressBytes(f)) : std::string_view();
}

}  // namespace svcnft::skeleton
