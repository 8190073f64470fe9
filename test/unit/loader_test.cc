// The loader: every kind of bad input has its own test, and each checks that the
// message names FILE:LINE:COL, the object and the field.
#include <catch2/catch.hpp>

#include "test_support.h"

using Catch::Matchers::Contains;
using svcnft::testing::load;
using svcnft::testing::messages;

namespace {

const char* kNodePortService = R"(apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  type: NodePort
  ports:
    - {name: http, port: 80, targetPort: 8080, nodePort: 30080}
)";

}  // namespace

TEST_CASE("a valid Service loads with defaults filled in", "[loader]") {
  auto l = load(kNodePortService);
  REQUIRE_FALSE(l.diags.hasErrors());
  REQUIRE(l.inputs.services.size() == 1);
  const auto& s = l.inputs.services[0];
  CHECK(s.key() == "shop/web");
  CHECK(s.type == svcnft::ServiceType::kNodePort);
  REQUIRE(s.ports.size() == 1);
  CHECK(s.ports[0].protocol == svcnft::Protocol::kTcp);
  CHECK(s.ports[0].targetPortNumber == 8080);
  CHECK(s.ports[0].nodePort == 30080);
  CHECK(s.affinityTimeoutSeconds == 10800);
}

TEST_CASE("JSON, multi-document files and kind: List all load", "[loader]") {
  auto l = load(R"({"apiVersion": "v1", "kind": "List", "items": [
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"},
     "spec": {"clusterIP": "198.18.100.1", "ports": [{"port": 53, "protocol": "UDP"}]}},
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "ignored"}}
  ]})");
  REQUIRE_FALSE(l.diags.hasErrors());
  REQUIRE(l.inputs.services.size() == 1);
  CHECK(l.inputs.services[0].ports[0].protocol == svcnft::Protocol::kUdp);

  auto m = load(std::string(kNodePortService) + "---\n---\n" +
                R"(apiVersion: v1
kind: Service
metadata: {name: other}
spec: {ports: [{port: 81}]}
)");
  REQUIRE_FALSE(m.diags.hasErrors());
  CHECK(m.inputs.services.size() == 2);
}

TEST_CASE("malformed YAML is an error with its position", "[loader][errors]") {
  auto l = load("apiVersion: v1\nkind: Service\nmetadata: {name: x\n");
  REQUIRE(l.diags.hasErrors());
  CHECK_THAT(messages(l.diags), Contains("test.yaml:") && Contains("error: malformed YAML/JSON"));
}

TEST_CASE("a wrong field type names the object and the field", "[loader][errors]") {
  auto l = load(R"(apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  ports:
    - {port: "80"}
)");
  REQUIRE(l.diags.hasErrors());
  CHECK_THAT(messages(l.diags),
             Contains("test.yaml:6:14: error: Service default/web: spec.ports[0].port: "
                      "expected an integer"));
}

TEST_CASE("a list where a map belongs is a type error", "[loader][errors]") {
  auto l = load("apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: [1, 2]\n");
  CHECK_THAT(messages(l.diags), Contains("Service default/web: spec: expected a map"));
}

TEST_CASE("an address that does not parse is an error", "[loader][errors]") {
  auto l = load(R"(apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  clusterIP: 198.18.300.1
  ports: [{port: 80}]
)");
  CHECK_THAT(messages(l.diags),
             Contains("test.yaml:5:14: error: Service default/web: spec.clusterIP: "
                      "\"198.18.300.1\" is not an IPv4 or IPv6 address"));
}

TEST_CASE("a port outside 1-65535 is an error", "[loader][errors]") {
  for (const char* bad : {"0", "65536", "-1"}) {
    auto l = load(std::string("apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
                              "spec:\n  ports: [{port: ") +
                  bad + "}]\n");
    CHECK_THAT(messages(l.diags),
               Contains("spec.ports[0].port: " + std::string(bad) + " is outside 1-65535"));
  }
  auto t = load(
      "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
      "spec:\n  ports: [{port: 80, targetPort: 70000}]\n");
  CHECK_THAT(messages(t.diags), Contains("spec.ports[0].targetPort: 70000 is outside 1-65535"));
}

TEST_CASE("a protocol other than TCP, UDP or SCTP is an error", "[loader][errors]") {
  auto l = load(
      "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
      "spec:\n  ports: [{port: 80, protocol: ICMP}]\n");
  CHECK_THAT(messages(l.diags),
             Contains("test.yaml:5:32: error: Service default/web: spec.ports[0].protocol: "
                      "\"ICMP\" is not TCP, UDP or SCTP"));
}

TEST_CASE("a nodePort outside nodePortRange is an error", "[loader][errors]") {
  auto l = load(kNodePortService, "nodePortRange: 31000-31999\n");
  CHECK_THAT(messages(l.diags),
             Contains("test.yaml:7:58: error: Service shop/web: spec.ports[0].nodePort: "
                      "30080 is outside nodePortRange 31000-31999"));
  auto d = load(R"(apiVersion: v1
kind: Service
metadata: {name: web}
spec: {type: NodePort, ports: [{port: 80, nodePort: 29999}]}
)");
  CHECK_THAT(messages(d.diags), Contains("29999 is outside nodePortRange 30000-32767"));
}

TEST_CASE("one nodePort used by two Services names both", "[loader][errors]") {
  auto l = load(std::string(kNodePortService) + R"(---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec:
  type: LoadBalancer
  ports: [{port: 443, nodePort: 30080}]
)");
  const std::string m = messages(l.diags);
  CHECK_THAT(m, Contains("Service shop/api: spec.ports[0].nodePort: 30080/TCP is already used "
                         "by Service shop/web"));
  // The same number on another protocol is no conflict.
  auto u = load(std::string(kNodePortService) + R"(---
apiVersion: v1
kind: Service
metadata: {name: dns, namespace: shop}
spec: {type: NodePort, ports: [{port: 53, protocol: UDP, nodePort: 30080}]}
)");
  CHECK_FALSE(u.diags.hasErrors());
}

TEST_CASE("weights outside 0-1000 or malformed are errors", "[loader][errors]") {
  auto slice = [](const std::string& weights) {
    return std::string(R"(apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-1
  labels: {kubernetes.io/service-name: web}
  annotations:
    svcnft.io/weights: ')") +
           weights + R"('
addressType: IPv4
endpoints: [{addresses: [198.18.1.10]}]
)";
  };
  auto big = load(slice(R"({"198.18.1.10": 1001})"));
  CHECK_THAT(messages(big.diags),
             Contains("test.yaml:7:24: error: EndpointSlice default/web-1: "
                      "metadata.annotations[svcnft.io/weights]: weight 1001 of 198.18.1.10 is "
                      "outside 0-1000"));
  auto neg = load(slice(R"({"198.18.1.10": -1})"));
  CHECK_THAT(messages(neg.diags), Contains("weight -1 of 198.18.1.10 is outside 0-1000"));
  auto broken = load(slice(R"({"198.18.1.10": )"));
  CHECK_THAT(messages(broken.diags), Contains("svcnft.io/weights]: malformed JSON"));
  auto notObject = load(slice(R"([1, 2])"));
  CHECK_THAT(messages(notObject.diags), Contains("expected a JSON object"));
  auto badKey = load(slice(R"({"pod-a": 3})"));
  CHECK_THAT(messages(badKey.diags), Contains("\"pod-a\" is not an IPv4 or IPv6 address"));
  auto ok = load(slice(R"({"198.18.1.10": 0})"));
  REQUIRE_FALSE(ok.diags.hasErrors());
  CHECK(ok.inputs.slices.at(0).endpoints.at(0).weight == 0);
}

TEST_CASE("an externalIP outside externalIPAllow is left out alone, LB IPs are exempt",
          "[loader][warnings]") {
  const std::string svc = R"(apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: LoadBalancer
  externalIPs: [198.18.50.1, 198.18.60.2]
  ports: [{port: 80, nodePort: 30080}]
status:
  loadBalancer:
    ingress: [{ip: 198.18.70.1}, {ip: 198.18.71.1, ipMode: Proxy}]
)";
  auto none = load(svc);  // default: nothing allowed (CVE-2020-8554)
  const std::string m = messages(none.diags);
  CHECK_FALSE(none.diags.hasErrors());
  CHECK_THAT(m, Contains("test.yaml:6:17: warning: Service default/web: spec.externalIPs[0]: "
                         "198.18.50.1 is outside externalIPAllow of the node config; this "
                         "address is left out (CVE-2020-8554)"));
  CHECK_THAT(m, Contains("spec.externalIPs[1]: 198.18.60.2 is outside"));
  CHECK_THAT(m, !Contains("198.18.70.1"));  // written by a controller into status: not checked
  REQUIRE(none.inputs.services.size() == 1);
  CHECK(none.inputs.services[0].externalIPs.empty());
  CHECK(none.inputs.services[0].loadBalancerIPs.size() == 1);

  auto some = load(svc, "externalIPAllow: [198.18.50.0/24]\n");
  CHECK_FALSE(some.diags.hasErrors());
  REQUIRE(some.inputs.services.size() == 1);
  CHECK(some.inputs.services[0].externalIPs.size() == 1);
  CHECK(some.inputs.services[0].externalIPs[0].str() == "198.18.50.1");
  CHECK_THAT(messages(some.diags), Contains("198.18.60.2 is outside"));
}

TEST_CASE("an EndpointSlice of an unknown Service is a warning", "[loader][warnings]") {
  auto l = load(R"(apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ghost-1, labels: {kubernetes.io/service-name: ghost}}
addressType: IPv4
endpoints: [{addresses: [198.18.1.10]}]
)");
  CHECK_FALSE(l.diags.hasErrors());
  CHECK_THAT(messages(l.diags), Contains("test.yaml:1:1: warning: EndpointSlice default/ghost-1") &&
                                    Contains("Service default/ghost is not defined"));
}

TEST_CASE("legacy Endpoints become slices per family, not-ready kept apart", "[loader]") {
  auto l = load(R"(apiVersion: v1
kind: Endpoints
metadata: {name: web}
subsets:
  - addresses: [{ip: 198.18.1.10, nodeName: n1}, {ip: "2001:db8::10"}]
    notReadyAddresses: [{ip: 198.18.1.11}]
    ports: [{name: http, port: 8080}]
)");
  REQUIRE_FALSE(l.diags.hasErrors());
  REQUIRE(l.inputs.slices.size() == 2);
  const auto& v4 = l.inputs.slices[0];
  CHECK(v4.serviceName == "web");
  REQUIRE(v4.endpoints.size() == 2);
  CHECK(v4.endpoints[0].ready);
  CHECK(v4.endpoints[0].nodeName == "n1");
  CHECK_FALSE(v4.endpoints[1].ready);
  CHECK(l.inputs.slices[1].addressType == svcnft::IpFamily::kV6);
  CHECK(v4.ports.at(0).port == 8080);
}

TEST_CASE("node config errors name the field", "[loader][errors]") {
  svcnft::Diagnostics d;
  svcnft::manifest::parseNodeConfigText(
      "nodeIPs: [127.0.0.1]\nnodePortRange: 40000-30000\ntable: 'bad name'\n"
      "clusterCIDRs: [198.18.0.0/99]\nmasqueradeAll: yes-please\n",
      "node.yaml", d);
  const std::string m = svcnft::testing::messages(d);
  CHECK_THAT(m, Contains("node.yaml:1:11: error: node config: nodeIPs[0]: 127.0.0.1 is a "
                         "loopback address"));
  CHECK_THAT(m, Contains("nodePortRange: \"40000-30000\" is not a port range"));
  CHECK_THAT(m, Contains("table: \"bad name\" is not a table name"));
  CHECK_THAT(m, Contains("clusterCIDRs[0]: \"198.18.0.0/99\" is not a CIDR"));
  CHECK_THAT(m, Contains("masqueradeAll: expected true or false"));
}

TEST_CASE("positions stay right across documents, and one bad document spoils no other",
          "[loader][errors]") {
  auto l = load(R"(# a comment before the first document
apiVersion: v1
kind: Service
metadata: {name: first}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: broken
---
apiVersion: v1
kind: Service
metadata: {name: third}
spec: {ports: [{port: 99999}]}
...
---
apiVersion: v1
kind: Service
metadata: {name: fourth}
spec: {ports: [{port: 81}]}
)");
  const std::string m = messages(l.diags);
  CHECK_THAT(m, Contains("test.yaml:10:1: error: malformed YAML/JSON"));
  CHECK_THAT(m, Contains("test.yaml:14:23: error: Service default/third: spec.ports[0].port: "
                         "99999 is outside 1-65535"));
  // An object with an error is left out whole; the others load.
  REQUIRE(l.inputs.services.size() == 2);
  CHECK(l.inputs.services[1].name == "fourth");
  CHECK(l.inputs.services[1].where.line == 17);
}

TEST_CASE("large files parse in parallel with the same result and diagnostics", "[loader]") {
  // 3,000 documents: well above the size at which parsing is spread over threads.
  std::string text;
  std::vector<std::string> docs;
  for (int i = 0; i < 3000; ++i) {
    std::string doc = "apiVersion: v1\nkind: Service\nmetadata: {name: s" + std::to_string(i) +
                      "}\nspec: {ports: [{port: " + (i == 1777 ? std::string("0") : "80") + "}]}\n";
    if (i == 2500) doc = "apiVersion: v1\nkind: Service\nmetadata: {name: [\n";
    docs.push_back(doc);
    text += (i ? "---\n" : "") + doc;
  }
  svcnft::Manifests whole;
  svcnft::Diagnostics wholeDiags;
  svcnft::manifest::parseManifestText(text, "big.yaml", whole, wholeDiags);

  // The same documents one by one (each far below the parallel threshold).
  svcnft::Manifests serial;
  svcnft::Diagnostics serialDiags;
  int line = 1;
  for (std::size_t i = 0; i < docs.size(); ++i) {
    std::string padded(static_cast<std::size_t>(line - 1), '\n');  // keep line numbers
    svcnft::manifest::parseManifestText(padded + (i ? "---\n" : "") + docs[i], "big.yaml", serial,
                                    serialDiags);
    line += static_cast<int>(std::count(docs[i].begin(), docs[i].end(), '\n')) + (i ? 1 : 0);
  }
  REQUIRE(whole.services.size() == serial.services.size());
  for (std::size_t i = 0; i < whole.services.size(); ++i) {
    CHECK(whole.services[i].name == serial.services[i].name);
    CHECK(whole.services[i].where.line == serial.services[i].where.line);
  }
  CHECK(messages(wholeDiags) == messages(serialDiags));
  CHECK_THAT(messages(wholeDiags),
             Contains("Service default/s1777: spec.ports[0].port: 0 is outside"));
  CHECK_THAT(messages(wholeDiags), Contains("malformed YAML/JSON"));
}

TEST_CASE("names follow Kubernetes' rules, each kind its own", "[loader][errors]") {
  auto svc = [](const std::string& meta, const std::string& ports) {
    return "apiVersion: v1\nkind: Service\nmetadata: " + meta + "\nspec:\n  ports: " + ports + "\n";
  };
  // Service names are DNS-1035 labels: no capitals, no leading digit, at most 63.
  for (const std::string& bad :
       std::vector<std::string>{"Web", "1web", "web-", "we_b", std::string(64, 'a')}) {
    auto l = load(svc("{name: \"" + bad + "\"}", "[{port: 80}]"));
    CHECK_THAT(messages(l.diags), Contains("metadata.name: \"" + bad.substr(0, 80)));
    CHECK_THAT(messages(l.diags), Contains("is not a DNS-1035 label"));
    CHECK(l.inputs.services.empty());
  }
  CHECK_FALSE(
      load(svc("{name: \"" + std::string(63, 'a') + "\"}", "[{port: 80}]")).diags.hasErrors());
  auto ns = load(svc("{name: web, namespace: Shop}", "[{port: 80}]"));
  CHECK_THAT(messages(ns.diags),
             Contains("test.yaml:3:34: error: Service: metadata.namespace: \"Shop\" is not a "
                      "DNS-1123 label"));
  auto port = load(svc("{name: web}", "[{name: Http, port: 80}]"));
  CHECK_THAT(messages(port.diags),
             Contains("spec.ports[0].name: \"Http\" is not a DNS-1123 label"));
  auto target = load(svc("{name: web}", "[{port: 80, targetPort: web--http}]"));
  CHECK_THAT(messages(target.diags),
             Contains("spec.ports[0].targetPort: \"web--http\" is not a port name"));
  auto longTarget = load(svc("{name: web}", "[{port: 80, targetPort: abcdefghijklmnop}]"));
  CHECK_THAT(messages(longTarget.diags), Contains("is not a port name (at most 15 characters"));

  const std::string slice =
      "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: %N\n"
      "  labels: {kubernetes.io/service-name: %S}\naddressType: IPv4\n"
      "endpoints: [{addresses: [198.18.2.1], nodeName: %H}]\n";
  auto fill = [&](std::string name, std::string service, std::string host) {
    std::string out = slice;
    out.replace(out.find("%N"), 2, name);
    out.replace(out.find("%S"), 2, service);
    out.replace(out.find("%H"), 2, host);
    return out;
  };
  // Slice and node names are DNS-1123 subdomains: dots allowed, 253 at most.
  CHECK_FALSE(
      load(svc("{name: web}", "[{port: 80}]") + "---\n" + fill("web.v4-1", "web", "node-1.example"))
          .diags.hasErrors());
  CHECK_THAT(messages(load(fill("web..1", "web", "n1")).diags),
             Contains("metadata.name: \"web..1\" is not a DNS-1123 subdomain"));
  CHECK_THAT(
      messages(load(fill("web", "we b", "n1")).diags),
      Contains("metadata.labels[kubernetes.io/service-name]: \"we b\" is not a label value"));
  CHECK_THAT(messages(load(fill("web", "web", "Node_1")).diags),
             Contains("endpoints[0].nodeName: \"Node_1\" is not a DNS-1123 subdomain"));
}

TEST_CASE("a Service's ports: named when several, names and numbers once each",
          "[loader][errors]") {
  auto l = load(R"(apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  ports:
    - {name: http, port: 80}
    - {port: 81}
    - {name: http, port: 82}
    - {name: again, port: 80}
    - {name: dns, port: 80, protocol: UDP}
)");
  const std::string text = messages(l.diags);
  CHECK_THAT(text, Contains("test.yaml:7:7: error: Service default/web: spec.ports[1].name: "
                            "missing; a Service with several ports names each one"));
  CHECK_THAT(text, Contains("test.yaml:8:14: error: Service default/web: spec.ports[2].name: "
                            "\"http\" is already the name of spec.ports[0]"));
  CHECK_THAT(text, Contains("test.yaml:9:27: error: Service default/web: spec.ports[3].port: "
                            "80/TCP is already spec.ports[0]"));
  CHECK_THAT(text, !Contains("spec.ports[4]"));  // 80/UDP is another port
}

TEST_CASE("input size: Kubernetes' bounds, and svcnft's on Service ports", "[loader][errors]") {
  std::string ports;
  for (int i = 0; i < 101; ++i) {
    ports += "    - {name: p" + std::to_string(i) + ", port: " + std::to_string(1000 + i) + "}\n";
  }
  auto many =
      load("apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  ports:\n" + ports);
  CHECK_THAT(messages(many.diags),
             Contains("test.yaml:6:5: error: Service default/web: spec.ports: 101 ports; svcnft "
                      "takes at most 100 per Service"));

  auto slice = [](int endpoints, int addresses) {
    std::string out =
        "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: web-1\n"
        "  labels: {kubernetes.io/service-name: web}\naddressType: IPv4\nendpoints:\n";
    for (int e = 0; e < endpoints; ++e) {
      out += "- addresses: [";
      for (int a = 0; a < addresses; ++a) {
        out += std::string(a ? ", " : "") + "198.18." + std::to_string(e / 250 + a) + "." +
               std::to_string(e % 250 + 1);
      }
      out += "]\n";
    }
    return out;
  };
  auto tooMany = load(slice(1001, 1));
  CHECK_THAT(messages(tooMany.diags),
             Contains("test.yaml:8:1: error: EndpointSlice default/web-1: endpoints: 1001 "
                      "endpoints; Kubernetes allows at most 1000 per slice"));
  CHECK(tooMany.inputs.slices.empty());
  CHECK_FALSE(load(slice(1000, 1)).diags.hasErrors());
  CHECK_THAT(messages(load(slice(1, 101)).diags),
             Contains("endpoints[0].addresses: 101 addresses; Kubernetes allows at most 100"));
  CHECK_THAT(messages(load(slice(1, 0)).diags),
             Contains("endpoints[0].addresses: missing; an endpoint has 1 to 100 addresses"));
  // Only an endpoint's first address is used, as kube-proxy does.
  auto two = load(slice(1, 2));
  REQUIRE_FALSE(two.diags.hasErrors());
  REQUIRE(two.inputs.slices.at(0).endpoints.size() == 1);
  CHECK(two.inputs.slices.at(0).endpoints[0].address.str() == "198.18.0.1");
}
