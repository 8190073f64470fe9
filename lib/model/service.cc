#include "model/service.h"

namespace svcnft {

std::optional<Protocol> parseProtocol(const std::string& k8sName) {
  if (k8sName == "TCP") return Protocol::kTcp;
  if (k8sName == "UDP") return Protocol::kUdp;
  if (k8sName == "SCTP") return Protocol::kSctp;
  return std::nullopt;
}

namespace {

constexpr const char* kLocalTrafficModeNames[] = {"ClusterCIDR", "NodeCIDR", "BridgeInterface",
                                                  "InterfaceNamePrefix"};

}  // namespace

std::optional<LocalTrafficMode> localTrafficModeNamed(const std::string& name) {
  if (name.empty()) return LocalTrafficMode::kClusterCIDR;
  for (int i = 0; i < 4; ++i) {
    if (name == kLocalTrafficModeNames[i]) return static_cast<LocalTrafficMode>(i);
  }
  return std::nullopt;
}

const char* localTrafficModeName(LocalTrafficMode mode) {
  return kLocalTrafficModeNames[static_cast<int>(mode)];
}

const char* protocolK8sName(Protocol p) {
  switch (p) {
    case Protocol::kTcp:
      return "TCP";
    case Protocol::kUdp:
      return "UDP";
    case Protocol::kSctp:
      return "SCTP";
  }
  return "?";
}

const char* protocolNftName(Protocol p) {
  switch (p) {
    case Protocol::kTcp:
      return "tcp";
    case Protocol::kUdp:
      return "udp";
    case Protocol::kSctp:
      return "sctp";
  }
  return "?";
}

namespace {
const std::vector<std::string> kNoHints;
}

const std::vector<std::string>& TopologyHints::zonesOf(
    const std::shared_ptr<const TopologyHints>& hints) {
  return hints ? hints->zones : kNoHints;
}

const std::vector<std::string>& TopologyHints::nodesOf(
    const std::shared_ptr<const TopologyHints>& hints) {
  return hints ? hints->nodes : kNoHints;
}

bool Endpoint::operator==(const Endpoint& other) const {
  const bool sameHints = hints == other.hints || (hints && other.hints && *hints == *other.hints) ||
                         (zoneHints().empty() && nodeHints().empty() && other.zoneHints().empty() &&
                          other.nodeHints().empty());
  return address == other.address && ready == other.ready && serving == other.serving &&
         terminating == other.terminating && nodeName == other.nodeName && zone == other.zone &&
         weight == other.weight && sameHints;
}

}  // namespace svcnft
