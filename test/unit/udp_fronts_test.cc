// Which UDP fronts the conntrack cleanup looks at after a sync.
#include "agent/udp_fronts.h"

#include <catch2/catch.hpp>

#include "test_support.h"

using svcnft::IpAddress;
using svcnft::agent::changedFronts;
using svcnft::agent::udpFronts;

namespace {

const char* kDns = R"(apiVersion: v1
kind: Service
metadata: {name: dns, namespace: kube-system}
spec: {type: NodePort, clusterIP: 198.18.100.53, ports: [{name: dns, port: 53, protocol: UDP, nodePort: 30053}, {name: tcp, port: 53}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: dns, namespace: kube-system, labels: {kubernetes.io/service-name: dns}}
addressType: IPv4
ports: [{name: dns, port: 53, protocol: UDP}, {name: tcp, port: 53}]
endpoints: [{addresses: [ENDPOINT]}]
)";

struct Compiled {
  svcnft::testing::Loaded loaded;
  svcnft::ir::Ruleset rs;
};

Compiled compile(const std::string& yaml) {
  Compiled c{svcnft::testing::load(yaml), {}};
  REQUIRE_FALSE(c.loaded.diags.hasErrors());
  c.rs = svcnft::compileRuleset(c.loaded.inputs, c.loaded.diags);
  return c;
}

svcnft::agent::UdpFronts frontsWith(const std::string& endpoints) {
  std::string yaml = kDns;
  yaml.replace(yaml.find("[{addresses: [ENDPOINT]}]"), 25, endpoints);
  const Compiled c = compile(yaml);
  return udpFronts(c.rs, c.loaded.inputs);
}

std::set<IpAddress> addresses(std::initializer_list<const char*> list) {
  std::set<IpAddress> out;
  for (const char* a : list) out.insert(*IpAddress::parse(a));
  return out;
}

}  // namespace

TEST_CASE("UDP fronts: ClusterIP and NodePort, TCP left out", "[conntrack]") {
  const auto fronts = frontsWith("[{addresses: [198.18.2.11]}]");
  REQUIRE(fronts.size() == 2);
  const auto vip = fronts.at({false, *IpAddress::parse("198.18.100.53"), 53});
  CHECK(vip == addresses({"198.18.2.11"}));
  CHECK(fronts.count({true, IpAddress(), 30053}) == 1);
}

TEST_CASE("a replaced endpoint marks its fronts changed, nothing else does", "[conntrack]") {
  const auto before = frontsWith("[{addresses: [198.18.2.11]}]");
  const auto after = frontsWith("[{addresses: [198.18.3.11]}]");
  const auto c = changedFronts(before, after);
  CHECK(c.size() == 2);
  CHECK(c.at({false, *IpAddress::parse("198.18.100.53"), 53}) == addresses({"198.18.3.11"}));
  CHECK(changedFronts(after, after).empty());
  // First sync after a start: every front is new, so flows made before it are checked.
  CHECK(changedFronts({}, after).size() == 2);
}

TEST_CASE("serving endpoints keep their flows, terminating ones too, others do not",
          "[conntrack]") {
  // 2.11 and 2.13 ready; 2.12 terminating but serving (not chosen while a ready
  // one is); 2.14 not serving: only its flows are stale.
  const auto fronts = frontsWith(
      "[{addresses: [198.18.2.11]},"
      " {addresses: [198.18.2.12], conditions: {ready: false, serving: true, terminating: true}},"
      " {addresses: [198.18.2.13]},"
      " {addresses: [198.18.2.14], conditions: {ready: false, serving: false, terminating: "
      "true}}]");
  const auto vip = fronts.at({false, *IpAddress::parse("198.18.100.53"), 53});
  CHECK(vip == addresses({"198.18.2.11", "198.18.2.12", "198.18.2.13"}));
  CHECK(fronts.at({true, IpAddress(), 30053}) == vip);
}

TEST_CASE("draining and Local-policy endpoints count as live for the cleanup", "[conntrack]") {
  const Compiled c = compile(R"(apiVersion: v1
kind: Service
metadata: {name: dns, namespace: kube-system}
spec: {type: NodePort, externalTrafficPolicy: Local, clusterIP: 198.18.100.53,
       ports: [{name: dns, port: 53, protocol: UDP, nodePort: 30053}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: dns
  namespace: kube-system
  labels: {kubernetes.io/service-name: dns}
  annotations: {svcnft.io/weights: '{"198.18.2.12": 0}'}
addressType: IPv4
ports: [{name: dns, port: 53, protocol: UDP}]
endpoints:
  - {addresses: [198.18.2.11], nodeName: other}
  - {addresses: [198.18.2.12], nodeName: other}
)");
  const auto fronts = udpFronts(c.rs, c.loaded.inputs);
  // The rules send new NodePort flows nowhere (no local endpoint) and new ClusterIP
  // flows only to 2.11; flows already made to either endpoint stay.
  CHECK(fronts.at({true, IpAddress(), 30053}) == addresses({"198.18.2.11", "198.18.2.12"}));
  CHECK(fronts.at({false, *IpAddress::parse("198.18.100.53"), 53}) ==
        addresses({"198.18.2.11", "198.18.2.12"}));
}
