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

svcnft::ir::Ruleset compileWith(const std::string& endpoint) {
  std::string yaml = kDns;
  yaml.replace(yaml.find("ENDPOINT"), 8, endpoint);
  auto l = svcnft::testing::load(yaml);
  REQUIRE_FALSE(l.diags.hasErrors());
  return svcnft::compileRuleset(l.inputs, l.diags);
}

}  // namespace

TEST_CASE("UDP fronts: ClusterIP and NodePort, TCP left out", "[conntrack]") {
  const auto fronts = udpFronts(compileWith("198.18.2.11"));
  REQUIRE(fronts.size() == 2);
  const auto vip = fronts.at({false, *IpAddress::parse("198.18.100.53"), 53});
  CHECK(vip == std::set<IpAddress>{*IpAddress::parse("198.18.2.11")});
  CHECK(fronts.count({true, IpAddress(), 30053}) == 1);
}

TEST_CASE("a replaced endpoint marks its fronts changed; nothing else does", "[conntrack]") {
  const auto before = udpFronts(compileWith("198.18.2.11"));
  const auto after = udpFronts(compileWith("198.18.3.11"));
  const auto c = changedFronts(before, after);
  CHECK(c.size() == 2);
  CHECK(c.at({false, *IpAddress::parse("198.18.100.53"), 53}) ==
        std::set<IpAddress>{*IpAddress::parse("198.18.3.11")});
  CHECK(changedFronts(after, after).empty());
  // First sync after a start: every front is new, so flows made before it are checked.
  CHECK(changedFronts({}, after).size() == 2);
}
