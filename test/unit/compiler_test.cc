// The compiler, table-driven: manifests in, the IR elements that carry each
// semantic out. The rules themselves are fixed (skeleton) and covered by goldens.
#include <catch2/catch.hpp>
#include <filesystem>
#include <set>

#include "compile/render_nft.h"
#include "compile/skeleton.h"
#include "generated_inputs.h"
#include "manifest/loader.h"
#include "test_support.h"

using Catch::Matchers::Contains;
using Catch::Matchers::VectorContains;
using svcnft::testing::elements;
using svcnft::testing::hasChain;
using svcnft::testing::load;
using svcnft::testing::messages;
using Strings = std::vector<std::string>;

namespace {

const char* kNode = R"(nodeName: n1
nodeIPs: [198.18.0.1]
clusterCIDRs: [198.18.1.0/24, 198.18.2.0/24]
externalIPAllow: [198.18.200.0/24]
)";

std::string service(const std::string& name, const std::string& specExtra,
                    const std::string& ports = "[{name: http, port: 80, targetPort: 8080}]") {
  return "apiVersion: v1\nkind: Service\nmetadata: {name: " + name + ", namespace: ns}\nspec:\n" +
         specExtra + "  ports: " + ports + "\n---\n";
}

// One slice; each endpoint is "address[@node][!notready][~terminating]" (node n2
// when not given; "@" alone: no nodeName).
std::string slice(const std::string& svc, const std::vector<std::string>& eps,
                  const std::string& weights = "", const std::string& family = "IPv4",
                  const std::string& ports = "[{name: http, port: 8080}]") {
  std::string out =
      "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: " + svc + "-" +
      (family == "IPv4" ? "v4" : "v6") +
      "\n  namespace: ns\n  labels: {kubernetes.io/service-name: " + svc + "}\n";
  if (!weights.empty()) out += "  annotations: {svcnft.io/weights: '" + weights + "'}\n";
  out += "addressType: " + family + "\nports: " + ports + "\nendpoints:\n";
  for (std::string e : eps) {
    bool ready = e.find('!') == std::string::npos;
    bool terminating = e.find('~') == std::string::npos ? false : true;
    std::string node = "n2";
    auto at = e.find('@');
    std::string addr = e.substr(0, std::min(e.find_first_of("@!~"), e.size()));
    if (at != std::string::npos) node = e.substr(at + 1, e.find_first_of("!~", at) - at - 1);
    out += "  - addresses: [\"" + addr + "\"]\n" +
           (node.empty() ? "" : "    nodeName: " + node + "\n") +
           "    conditions: {ready: " + (ready ? "true" : "false") +
           ", serving: true, terminating: " + (terminating ? "true" : "false") + "}\n";
  }
  return out + "---\n";
}

svcnft::ir::Ruleset compile(const std::string& yaml, svcnft::Diagnostics* diagsOut = nullptr,
                            const std::string& node = kNode) {
  auto l = load(yaml, node);
  INFO(messages(l.diags));
  REQUIRE_FALSE(l.diags.hasErrors());
  auto rs = svcnft::compileRuleset(l.inputs, l.diags);
  if (diagsOut) *diagsOut = l.diags;
  return rs;
}

}  // namespace

TEST_CASE("ClusterIP: VIP:port goes to the cluster policy and three buckets", "[compiler]") {
  auto rs = compile(service("web", "  clusterIP: 198.18.100.10\n") +
                    slice("web", {"198.18.1.10@n1", "198.18.2.10", "198.18.2.11"}));
  CHECK(elements(rs, "service-ips-v4") ==
        Strings{"198.18.100.10 . tcp . 80 comment \"ns/web:http\" : goto svc-cluster-v4"});
  CHECK(elements(rs, "lb-v4") ==
        Strings{"198.18.100.10 . tcp . 80 comment \"ns/web:http\" : goto lb-v4-3"});
  CHECK(elements(rs, "backends-v4") ==
        Strings{"198.18.100.10 . tcp . 80 . 0 comment \"ns/web:http\" : 198.18.1.10 . 8080",
                "198.18.100.10 . tcp . 80 . 1 comment \"ns/web:http\" : 198.18.2.10 . 8080",
                "198.18.100.10 . tcp . 80 . 2 comment \"ns/web:http\" : 198.18.2.11 . 8080"});
  CHECK(hasChain(rs, "lb-v4-3"));
  CHECK(elements(rs, "hairpin-v4") == Strings{"198.18.1.10 . 198.18.1.10"});
  CHECK(elements(rs, "no-endpoints-v4").empty());
}

TEST_CASE(
    "hairpin: this node's endpoints, those of no known node, all behind a Local external front",
    "[compiler]") {
  // A pod is DNATed on its own node, so another node's endpoint cannot reach itself
  // through this node's ClusterIP, nor through an external front that masquerades
  // (Cluster policy). A Local-policy front sends pod traffic, unmasqueraded, to all
  // endpoints, so a pod of another node can be sent back to itself there.
  auto rs = compile(service("web", "  clusterIP: 198.18.100.10\n") +
                    slice("web", {"198.18.1.10@n1", "198.18.2.10", "198.18.2.11@"}) +
                    service("np", "  type: NodePort\n",
                            "[{name: http, port: 80, targetPort: 8080, nodePort: 30001}]") +
                    slice("np", {"198.18.2.30"}) +
                    service("local", "  type: NodePort\n  externalTrafficPolicy: Local\n",
                            "[{name: http, port: 80, targetPort: 8080, nodePort: 30002}]") +
                    slice("local", {"198.18.1.20@n1", "198.18.2.20"}));
  CHECK(elements(rs, "hairpin-v4") ==
        Strings{"198.18.1.10 . 198.18.1.10", "198.18.1.20 . 198.18.1.20",
                "198.18.2.11 . 198.18.2.11", "198.18.2.20 . 198.18.2.20"});
}

TEST_CASE("cluster-ips holds ClusterIPs only where serviceCIDRs make a rule read it",
          "[compiler]") {
  const std::string yaml =
      service("web", "  clusterIP: 198.18.100.10\n") + slice("web", {"198.18.2.10"});
  CHECK(elements(compile(yaml), "cluster-ips-v4").empty());
  auto rs = compile(yaml, nullptr, std::string(kNode) + "serviceCIDRs: [198.18.100.0/24]\n");
  CHECK(elements(rs, "cluster-ips-v4") == Strings{"198.18.100.10"});
}

TEST_CASE("NodePort: every node IP on nodePort, masqueraded (Cluster policy)", "[compiler]") {
  auto rs = compile(service("web", "  type: NodePort\n",
                            "[{name: http, port: 80, targetPort: 8080, nodePort: 30001}]") +
                    slice("web", {"198.18.1.10@n1", "198.18.2.10"}));
  CHECK(elements(rs, "nodeports-v4") ==
        Strings{"tcp . 30001 comment \"ns/web:http\" : goto np-external-v4"});
  CHECK(elements(rs, "np-backends-v4") ==
        Strings{"tcp . 30001 . 0 comment \"ns/web:http\" : 198.18.1.10 . 8080",
                "tcp . 30001 . 1 comment \"ns/web:http\" : 198.18.2.10 . 8080"});
  CHECK(elements(rs, "nodeport-ips-v4") == Strings{"198.18.0.1"});
  // No clusterIP in the manifest: no ClusterIP rules, the NodePort still works (docs/design.md semantics 10).
  CHECK(elements(rs, "service-ips-v4").empty());
}

TEST_CASE("no endpoint at all: every front rejects at once", "[compiler]") {
  auto rs = compile(service("web", "  type: NodePort\n  clusterIP: 198.18.100.10\n",
                            "[{port: 80, nodePort: 30001}]"));
  CHECK(elements(rs, "no-endpoints-v4") ==
        Strings{"198.18.100.10 . tcp . 80 comment \"ns/web:80\" : goto reject-service"});
  CHECK(elements(rs, "np-no-endpoints-v4") ==
        Strings{"tcp . 30001 comment \"ns/web:80\" : goto reject-service"});
  CHECK(elements(rs, "service-ips-v4").empty());
  CHECK(elements(rs, "nodeports-v4").empty());
}

TEST_CASE("externalTrafficPolicy Local: local pool at the offset, cluster pool for pods",
          "[compiler]") {
  const std::string spec =
      "  type: NodePort\n  externalTrafficPolicy: Local\n  externalIPs: [198.18.200.5]\n";
  auto rs =
      compile(service("web", spec, "[{name: http, port: 80, targetPort: 8080, nodePort: 30001}]") +
              slice("web", {"198.18.1.10@n1", "198.18.2.10@n2"}));
  CHECK(elements(rs, "service-ips-v4") ==
        Strings{"198.18.200.5 . tcp . 80 comment \"ns/web:http\" : goto svc-external-local-v4"});
  CHECK(elements(rs, "lb-local-v4") ==
        Strings{"198.18.200.5 . tcp . 80 comment \"ns/web:http\" : goto lb-local-v4-1"});
  CHECK_THAT(elements(rs, "backends-v4"),
             VectorContains(std::string(
                 "198.18.200.5 . tcp . 80 . 65536 comment \"ns/web:http\" : 198.18.1.10 . 8080")));
  CHECK(elements(rs, "np-lb-local-v4") ==
        Strings{"tcp . 30001 comment \"ns/web:http\" : goto np-lb-local-v4-1"});
  CHECK(elements(rs, "lb-v4") ==  // the short-circuit pool: all endpoints
        Strings{"198.18.200.5 . tcp . 80 comment \"ns/web:http\" : goto lb-v4-2"});
  CHECK(elements(rs, "no-endpoints-v4").empty());
}

TEST_CASE("externalTrafficPolicy Local with no local endpoint drops outside clients",
          "[compiler]") {
  auto rs = compile(service("web", "  type: NodePort\n  externalTrafficPolicy: Local\n",
                            "[{port: 80, nodePort: 30001}]") +
                    slice("web", {"198.18.2.10@n2"}, "", "IPv4", "[{port: 80}]"));
  CHECK(elements(rs, "np-no-endpoints-v4") == Strings{"tcp . 30001 comment \"ns/web:80\" : drop"});
  // Pods and the node still get in through the cluster pool.
  CHECK(elements(rs, "nodeports-v4") ==
        Strings{"tcp . 30001 comment \"ns/web:80\" : goto np-external-local-v4"});
  CHECK(elements(rs, "np-lb-local-v4").empty());
}

TEST_CASE("internalTrafficPolicy Local: only local endpoints, drop when none", "[compiler]") {
  const std::string svc =
      service("web", "  clusterIP: 198.18.100.10\n  internalTrafficPolicy: Local\n");
  auto some = compile(svc + slice("web", {"198.18.1.10@n1", "198.18.2.10@n2"}));
  CHECK(elements(some, "backends-v4") ==
        Strings{"198.18.100.10 . tcp . 80 . 0 comment \"ns/web:http\" : 198.18.1.10 . 8080"});
  auto none = compile(svc + slice("web", {"198.18.2.10@n2"}));
  CHECK(elements(none, "no-endpoints-v4") ==
        Strings{"198.18.100.10 . tcp . 80 comment \"ns/web:http\" : drop"});
}

TEST_CASE("ready endpoints first, serving+terminating only when none is ready", "[compiler]") {
  const std::string svc = service("web", "  clusterIP: 198.18.100.10\n");
  auto mixed = compile(svc + slice("web", {"198.18.2.10", "198.18.2.11!~", "198.18.2.12!"}));
  CHECK(elements(mixed, "backends-v4") ==
        Strings{"198.18.100.10 . tcp . 80 . 0 comment \"ns/web:http\" : 198.18.2.10 . 8080"});
  auto draining = compile(svc + slice("web", {"198.18.2.11!~", "198.18.2.12!"}));
  CHECK(elements(draining, "backends-v4") ==
        Strings{"198.18.100.10 . tcp . 80 . 0 comment \"ns/web:http\" : 198.18.2.11 . 8080"});
}

TEST_CASE("weights become buckets, weight 0 takes no new connection", "[compiler]") {
  auto rs = compile(service("web", "  clusterIP: 198.18.100.10\n") +
                    slice("web", {"198.18.2.10", "198.18.2.11", "198.18.2.12", "198.18.2.13"},
                          R"({"198.18.2.12": 2, "198.18.2.13": 0})"));
  CHECK(elements(rs, "lb-v4") ==
        Strings{"198.18.100.10 . tcp . 80 comment \"ns/web:http\" : goto lb-v4-4"});
  CHECK(elements(rs, "backends-v4") ==
        Strings{"198.18.100.10 . tcp . 80 . 0 comment \"ns/web:http\" : 198.18.2.10 . 8080",
                "198.18.100.10 . tcp . 80 . 1 comment \"ns/web:http\" : 198.18.2.11 . 8080",
                "198.18.100.10 . tcp . 80 . 2 comment \"ns/web:http\" : 198.18.2.12 . 8080",
                "198.18.100.10 . tcp . 80 . 3 comment \"ns/web:http\" : 198.18.2.12 . 8080"});
  auto allDrained = compile(service("web", "  clusterIP: 198.18.100.10\n") +
                            slice("web", {"198.18.2.10"}, R"({"198.18.2.10": 0})"));
  CHECK(elements(allDrained, "no-endpoints-v4").size() == 1);
}

TEST_CASE("sessionAffinity ClientIP: target port and timeout chain", "[compiler]") {
  auto rs = compile(service("web",
                            "  clusterIP: 198.18.100.10\n  sessionAffinity: ClientIP\n"
                            "  sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}\n") +
                    slice("web", {"198.18.2.10", "198.18.2.11"}));
  CHECK(elements(rs, "target-ports-v4") ==
        Strings{"198.18.100.10 . tcp . 80 comment \"ns/web:http\" : 8080"});
  CHECK(elements(rs, "affinity-timeouts-v4") ==
        Strings{"198.18.100.10 . tcp . 80 comment \"ns/web:http\" : goto affinity-v4-60s"});
  CHECK(hasChain(rs, "affinity-v4-60s"));
  auto defaulted =
      compile(service("web", "  clusterIP: 198.18.100.10\n  sessionAffinity: ClientIP\n") +
              slice("web", {"198.18.2.10"}));
  CHECK(hasChain(defaulted, "affinity-v4-10800s"));
}

TEST_CASE("loadBalancerSourceRanges admit only their sources (and the LB IP) to LB IPs",
          "[compiler]") {
  std::string lb = service("web",
                           "  type: LoadBalancer\n  loadBalancerSourceRanges: [198.18.9.0/24, "
                           "\"2001:db8:9::/48\"]\n",
                           "[{port: 80, nodePort: 30001}]");
  lb.resize(lb.size() - 4);  // reopen the document ("---\n") to add its status
  lb += "status: {loadBalancer: {ingress: [{ip: 198.18.200.9}]}}\n---\n";
  auto rs = compile(lb + slice("web", {"198.18.2.10"}, "", "IPv4", "[{port: 80}]"));
  CHECK(elements(rs, "firewall-fronts-v4") ==
        Strings{"198.18.200.9 . tcp . 80 comment \"ns/web:80\""});
  // The LB IP itself is admitted too: a cloud load balancer that hairpins a node's
  // own traffic SNATs it to the LB IP (kube-proxy allows it the same way).
  CHECK(elements(rs, "firewall-allow-v4") ==
        Strings{"198.18.200.9 . tcp . 80 . 198.18.9.0/24 comment \"ns/web:80\"",
                "198.18.200.9 . tcp . 80 . 198.18.200.9 comment \"ns/web:80\""});
  CHECK(elements(rs, "service-ips-v4") ==
        Strings{"198.18.200.9 . tcp . 80 comment \"ns/web:80\" : goto svc-external-v4"});
}

TEST_CASE("dual-stack Services program both families", "[compiler]") {
  auto rs = compile(
      service("web",
              "  clusterIPs: [198.18.100.10, \"2001:db8:100::10\"]\n  ipFamilies: [IPv4, IPv6]\n") +
      slice("web", {"198.18.2.10"}) + slice("web", {"2001:db8:2::10"}, "", "IPv6"));
  CHECK(elements(rs, "service-ips-v6") ==
        Strings{"2001:db8:100::10 . tcp . 80 comment \"ns/web:http\" : goto svc-cluster-v6"});
  CHECK(
      elements(rs, "backends-v6") ==
      Strings{"2001:db8:100::10 . tcp . 80 . 0 comment \"ns/web:http\" : [2001:db8:2::10] . 8080"});
  CHECK(elements(rs, "backends-v4").size() == 1);
}

TEST_CASE("headless and ExternalName Services get no rules", "[compiler]") {
  auto rs = compile(service("h", "  clusterIP: None\n") + service("e", "  type: ExternalName\n") +
                    slice("h", {"198.18.2.10"}));
  CHECK(rs.elementCount() == 3);  // only the node's: cluster-cidrs x2, nodeport-ips x1
}

TEST_CASE("targetPort resolves through the slice's port of the same name", "[compiler]") {
  svcnft::Diagnostics d;
  auto rs = compile(service("web", "  clusterIP: 198.18.100.10\n",
                            "[{name: web, port: 80, targetPort: http-alt}]") +
                        slice("web", {"198.18.2.10"}, "", "IPv4", "[{name: web, port: 9090}]"),
                    &d);
  CHECK(elements(rs, "backends-v4") ==
        Strings{"198.18.100.10 . tcp . 80 . 0 comment \"ns/web:web\" : 198.18.2.10 . 9090"});

  auto unmatched =
      compile(service("web", "  clusterIP: 198.18.100.10\n",
                      "[{name: web, port: 80, targetPort: http-alt}]") +
                  slice("web", {"198.18.2.10"}, "", "IPv4", "[{name: other, port: 9090}]"),
              &d);
  CHECK_FALSE(d.hasErrors());
  CHECK_THAT(messages(d), Contains("warning: Service ns/web: port web: named targetPort "
                                   "\"http-alt\" matches no port"));
  CHECK(elements(unmatched, "no-endpoints-v4").size() == 1);
}

TEST_CASE("two Services on one address and port is an error naming both", "[compiler]") {
  auto l = load(
      service("a", "  clusterIP: 198.18.100.10\n") + service("b", "  clusterIP: 198.18.100.10\n"),
      kNode);
  auto rs = svcnft::compileRuleset(l.inputs, l.diags);
  CHECK(l.diags.hasErrors());
  CHECK_THAT(messages(l.diags), Contains("Service ns/b: 198.18.100.10:80/TCP is already served "
                                         "by Service ns/a"));
}

TEST_CASE("serviceCIDRs: ClusterIPs listed for reject, the ranges for drop", "[compiler]") {
  auto rs = compile(service("web", "  clusterIP: 198.18.100.10\n") + slice("web", {"198.18.2.10"}),
                    nullptr, std::string(kNode) + "serviceCIDRs: [198.18.100.0/24]\n");
  CHECK(elements(rs, "cluster-ips-v4") == Strings{"198.18.100.10"});
  CHECK(elements(rs, "service-cidrs-v4") == Strings{"198.18.100.0/24"});
  const auto& check = rs.chains;
  bool found = false;
  for (const auto& c : check) {
    for (const auto& r : c.rules) found |= r.text == "ip daddr @service-cidrs-v4 drop";
  }
  CHECK(found);
}

TEST_CASE("long names are shortened to 128 bytes in comments, never rejected", "[compiler]") {
  // The longest names Kubernetes allows: 63 for the namespace and the Service.
  const std::string longName(63, 'a');
  const std::string longNs(63, 'n');
  auto inNs = [&](std::string text) {
    for (std::size_t at; (at = text.find("namespace: ns")) != std::string::npos;)
      text.replace(at, 13, "namespace: " + longNs);
    return text;
  };
  auto rs = compile(
      inNs(service(longName, "  clusterIP: 198.18.100.10\n") + slice(longName, {"198.18.2.10"})));
  const auto& e = rs.findSet("service-ips-v4")->elements.at(0);
  CHECK(e.comment.size() == 128);
  CHECK(e.comment.str().rfind(longNs + "/aaaa", 0) == 0);
}

TEST_CASE("SCTP and UDP ports compile like TCP", "[compiler]") {
  auto rs = compile(
      service("sig", "  clusterIP: 198.18.100.20\n",
              "[{name: s, port: 3868, protocol: SCTP}, {name: d, port: 53, protocol: UDP}]") +
      slice("sig", {"198.18.2.10"}, "", "IPv4",
            "[{name: s, port: 3868, protocol: SCTP}, {name: d, port: 53, protocol: UDP}]"));
  CHECK(elements(rs, "service-ips-v4") ==
        Strings{"198.18.100.20 . udp . 53 comment \"ns/sig:d\" : goto svc-cluster-v4",
                "198.18.100.20 . sctp . 3868 comment \"ns/sig:s\" : goto svc-cluster-v4"});
}

TEST_CASE("masqueradeAll masquerades cluster traffic, never externalTrafficPolicy Local",
          "[compiler]") {
  const std::string node = std::string(kNode) + "masqueradeAll: true\n";
  const std::string text =
      svcnft::renderNft(compile(service("web", "  clusterIP: 198.18.100.10\n"), nullptr, node));
  // The body of one chain, as nft prints it.
  auto chainBody = [&](const std::string& name) {
    const auto at = text.find("chain " + name + " {");
    REQUIRE(at != std::string::npos);
    return text.substr(at, text.find("}", at) - at);
  };
  for (const char* f : {"v4", "v6"}) {
    INFO(f);
    CHECK_THAT(chainBody(std::string("svc-cluster-") + f), Contains("jump mark-for-masquerade"));
    CHECK_THAT(chainBody(std::string("svc-external-") + f), Contains("jump mark-for-masquerade"));
    for (const char* local : {"svc-external-local-", "np-external-local-"}) {
      CHECK_THAT(chainBody(local + std::string(f)), !Contains("mark-for-masquerade"));
    }
  }
}

namespace {

// The addresses the cluster pool of ns/web's ClusterIP balances over.
std::set<std::string> clusterPool(const svcnft::ir::Ruleset& rs) {
  std::set<std::string> out;
  for (const auto& e : elements(rs, "backends-v4")) {
    const auto colon = e.rfind(" : ");
    out.insert(e.substr(colon + 3, e.find(" . ", colon) - colon - 3));
  }
  return out;
}

// Service web with endpoints "address|zoneHint|nodeHint|ready" (hints may be empty).
std::string hinted(const std::vector<std::string>& eps, const std::string& policy = "Cluster") {
  std::string out = service("web",
                            "  clusterIP: 198.18.100.10\n  type: NodePort\n"
                            "  externalTrafficPolicy: " +
                                policy + "\n",
                            "[{name: http, port: 80, nodePort: 30001}]") +
                    "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n"
                    "  name: web-v4\n  namespace: ns\n  labels: {kubernetes.io/service-name: web}\n"
                    "addressType: IPv4\nports: [{name: http, port: 8080}]\nendpoints:\n";
  for (const auto& e : eps) {
    std::vector<std::string> f;
    std::size_t start = 0;
    for (std::size_t bar; (bar = e.find('|', start)) != std::string::npos; start = bar + 1)
      f.push_back(e.substr(start, bar - start));
    f.push_back(e.substr(start));
    const bool ready = f.size() < 4 || f[3] != "no";
    out += "  - addresses: [" + f[0] +
           "]\n    nodeName: n2\n    conditions: {ready: " + (ready ? "true" : "false") +
           ", serving: true, terminating: " + (ready ? "false" : "true") +
           "}\n    hints: {forZones: [" +
           (f.size() > 1 && !f[1].empty() ? "{name: " + f[1] + "}" : "") + "], forNodes: [" +
           (f.size() > 2 && !f[2].empty() ? "{name: " + f[2] + "}" : "") + "]}\n";
  }
  return out + "---\n";
}

const std::string kZoneNode = std::string(kNode) + "zone: z1\n";

}  // namespace

TEST_CASE("topology hints: this zone's endpoints when every ready one has a hint",
          "[compiler][topology]") {
  using S = std::set<std::string>;
  auto pool = [](const std::vector<std::string>& eps) {
    return clusterPool(compile(hinted(eps), nullptr, kZoneNode));
  };
  CHECK(pool({"198.18.2.10|z1", "198.18.2.11|z2", "198.18.2.12|z1"}) ==
        S{"198.18.2.10", "198.18.2.12"});
  // One ready endpoint without a hint: hints are ignored, as kube-proxy does.
  CHECK(pool({"198.18.2.10|z1", "198.18.2.11|", "198.18.2.12|z2"}) ==
        S{"198.18.2.10", "198.18.2.11", "198.18.2.12"});
  // Every endpoint hinted, none for this zone: all of them.
  CHECK(pool({"198.18.2.10|z2", "198.18.2.11|z3"}) == S{"198.18.2.10", "198.18.2.11"});
  // A not-ready endpoint without hints does not count against them.
  CHECK(pool({"198.18.2.10|z1", "198.18.2.11|z2", "198.18.2.12|||no"}) == S{"198.18.2.10"});
  // Node hints (PreferSameNode) come first when every ready endpoint has one.
  CHECK(pool({"198.18.2.10|z1|n9", "198.18.2.11|z1|n1", "198.18.2.12|z2|n1"}) ==
        S{"198.18.2.11", "198.18.2.12"});
  CHECK(pool({"198.18.2.10|z1|n9", "198.18.2.11|z1|", "198.18.2.12|z2|n1"}) ==
        S{"198.18.2.10", "198.18.2.11"});  // a node hint missing: zone hints decide
  // No ready endpoint: the serving-terminating fallback ignores hints.
  CHECK(pool({"198.18.2.10|z2||no", "198.18.2.11|z1||no"}) == S{"198.18.2.10", "198.18.2.11"});
  // Without a zone for this node, zone hints cannot match: all endpoints.
  CHECK(clusterPool(compile(hinted({"198.18.2.10|z1", "198.18.2.11|z2"}))) ==
        S{"198.18.2.10", "198.18.2.11"});
}

TEST_CASE("every skeleton set's key and value fit an element's fields held in place",
          "[compiler]") {
  // The examples use every set of both families; the skeleton's declarations bound
  // what any input can put in an element.
  int compiled = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(SVCNFT_SOURCE_DIR) + "/examples")) {
    const std::string dir = entry.path().string();
    if (!std::filesystem::exists(dir + "/node-config.yaml") ||
        !std::filesystem::exists(dir + "/manifests.yaml")) {
      continue;
    }
    INFO(dir);
    ++compiled;
    svcnft::Diagnostics d;
    svcnft::NodeConfig node = svcnft::manifest::loadNodeConfig(dir + "/node-config.yaml", d);
    svcnft::Manifests m = svcnft::manifest::loadManifests({dir + "/manifests.yaml"}, d);
    svcnft::manifest::validate(m, node, d);
    REQUIRE_FALSE(d.hasErrors());
    const svcnft::Inputs in{std::move(m.services), std::move(m.slices), node};
    const svcnft::ir::Ruleset rs = svcnft::compileRuleset(in, d);
    for (const auto& set : rs.sets) {
      INFO(set.name);
      CHECK(set.key.size() <= svcnft::ir::kMaxKeyFields);
      CHECK(set.data.size() <= svcnft::ir::kMaxDataFields);
      for (const auto& e : set.elements) {
        CHECK_FALSE(e.key.overflowed());
        CHECK_FALSE(e.data.overflowed());
        CHECK(e.key.size() == set.key.size());
      }
    }
  }
  CHECK(compiled >= 10);
}

TEST_CASE("the typed description of the skeleton's sets matches what the skeleton declares",
          "[compiler]") {
  namespace sk = svcnft::skeleton;
  using svcnft::IpFamily;
  svcnft::NodeConfig node;
  const svcnft::ir::Ruleset rs = sk::build(node);
  // Each family declares every described set once, in the description's order.
  std::vector<std::pair<sk::SetKind, IpFamily>> seen;
  for (const auto& set : rs.sets) {
    INFO(set.name);
    const auto of = sk::setOf(set.name);
    REQUIRE(of.has_value());
    CHECK(sk::setName(of->first, of->second) == set.name);
    seen.push_back(*of);
    const sk::SetSpec& s = sk::spec(of->first);
    CHECK(s.kind == of->first);
    const std::size_t frontFields = s.front == sk::FrontKind::kAddress ? 3 : 2;
    switch (s.key) {
      case sk::KeyLayout::kAddress:
        CHECK(set.key.size() == 1);
        break;
      case sk::KeyLayout::kAddressPair:
        CHECK(set.key.size() == 2);
        break;
      case sk::KeyLayout::kFront:
        CHECK(set.key.size() == frontFields);
        break;
      case sk::KeyLayout::kFrontBucket:
      case sk::KeyLayout::kFrontSource:
        CHECK(set.key.size() == frontFields + 1);
        break;
      case sk::KeyLayout::kClientFront:
        CHECK(set.key.size() == 4);
        break;
    }
    CHECK(set.verdictMap == (s.value == sk::ValueLayout::kVerdict));
    CHECK(set.data.size() ==
          (s.value == sk::ValueLayout::kEndpoint                                       ? 2u
           : s.value == sk::ValueLayout::kPort || s.value == sk::ValueLayout::kAddress ? 1u
                                                                                       : 0u));
    CHECK(set.dynamic == (s.owner == sk::Owner::kPacketPath));
  }
  const auto& specs = sk::setSpecs();
  REQUIRE(seen.size() == 2 * specs.size());
  for (std::size_t i = 0; i < seen.size(); ++i) {
    CHECK(seen[i].first == specs[i % specs.size()].kind);
    CHECK(seen[i].second == (i < specs.size() ? IpFamily::kV4 : IpFamily::kV6));
  }
  // A NodePort twin is keyed by a NodePort front; names outside ours are not sets.
  for (const auto& s : specs) {
    const sk::SetKind twin = sk::forFront(s.kind, sk::FrontKind::kNodePort);
    if (twin != s.kind) CHECK(sk::spec(twin).front == sk::FrontKind::kNodePort);
  }
  CHECK_FALSE(sk::setOf("backends").has_value());
  CHECK_FALSE(sk::setOf("lb-v4-10").has_value());
  CHECK_FALSE(sk::setOf("handover-v4").has_value());
}

TEST_CASE("elements as compiled are the sorted ones in Service order, for every example",
          "[compiler]") {
  std::vector<svcnft::Inputs> all;
  for (auto& example : svcnft::testing::examples()) {
    REQUIRE_FALSE(example.diags.hasErrors());
    all.push_back(std::move(example.inputs));
  }
  all.push_back(svcnft::testing::generate(300, 7));
  int unsorted = 0;
  for (const auto& in : all) {
    svcnft::Diagnostics a, b;
    const auto byKey = svcnft::compileRuleset(in, a);
    const auto asCompiled = svcnft::compileRuleset(in, b, svcnft::ElementOrder::kAsCompiled);
    CHECK(messages(a) == messages(b));
    CHECK(byKey.chains.size() == asCompiled.chains.size());
    REQUIRE(byKey.sets.size() == asCompiled.sets.size());
    for (std::size_t i = 0; i < byKey.sets.size(); ++i) {
      INFO(byKey.sets[i].name);
      Strings sorted, compiled;
      for (const auto& e : byKey.sets[i].elements) sorted.push_back(svcnft::renderElement(e));
      for (const auto& e : asCompiled.sets[i].elements) {
        compiled.push_back(svcnft::renderElement(e));
      }
      if (compiled != sorted) ++unsorted;
      std::sort(sorted.begin(), sorted.end());
      std::sort(compiled.begin(), compiled.end());
      CHECK(compiled == sorted);
    }
  }
  CHECK(unsorted > 0);  // the order does differ somewhere: the option is not a no-op
}
