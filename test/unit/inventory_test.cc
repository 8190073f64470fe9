// The agent's inventory: which Services a file change touches, what a Service's
// inputs are across files (in the batch compile's order), and which problems
// between files send the agent the full way.
#include "source/inventory.h"

#include <catch2/catch.hpp>

#include "test_support.h"

using namespace svcnft;

namespace {

Manifests parse(const std::string& text, const std::string& file) {
  Manifests m;
  Diagnostics d;
  manifest::parseManifestText(text, file, m, d);
  REQUIRE_FALSE(d.hasErrors());
  return m;
}

std::string service(const std::string& name, int nodePort = 0) {
  return "apiVersion: v1\nkind: Service\nmetadata: {name: " + name +
         ", namespace: ns}\nspec: {type: " + (nodePort ? "NodePort" : "ClusterIP") +
         ", clusterIP: 198.18.100." + std::to_string(name.size()) + ", ports: [{port: 80" +
         (nodePort ? ", nodePort: " + std::to_string(nodePort) : "") + "}]}\n---\n";
}

std::string slice(const std::string& name, const std::string& svc, const std::string& address) {
  return "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: " + name +
         ", namespace: ns, labels: {kubernetes.io/service-name: " + svc +
         "}}\naddressType: IPv4\nendpoints: [{addresses: [" + address + "]}]\n---\n";
}

}  // namespace

TEST_CASE("a file change names only the Services whose objects differ", "[inventory]") {
  source::Inventory inv;
  auto changed = inv.replace(
      "a.yaml",
      parse(service("web") + service("api") + slice("web-1", "web", "198.18.1.1"), "a.yaml"));
  CHECK(changed == std::set<std::string>{"ns/api", "ns/web"});
  CHECK(inv.serviceCount() == 2);
  CHECK(inv.endpointCount() == 1);

  // The same text again: nothing changed.
  CHECK(inv.replace("a.yaml",
                    parse(service("web") + service("api") + slice("web-1", "web", "198.18.1.1"),
                          "a.yaml"))
            .empty());
  // web's endpoint moves: only web.
  changed = inv.replace(
      "a.yaml",
      parse(service("web") + service("api") + slice("web-1", "web", "198.18.1.2"), "a.yaml"));
  CHECK(changed == std::set<std::string>{"ns/web"});
  // The file goes: both.
  CHECK(inv.replace("a.yaml", {}) == std::set<std::string>{"ns/api", "ns/web"});
  CHECK(inv.serviceCount() == 0);
  CHECK(inv.endpointCount() == 0);
  CHECK(inv.serviceKeys().empty());
}

TEST_CASE("a Service's inputs come together from every file, in file order", "[inventory]") {
  source::Inventory inv;
  inv.replace("c.yaml", parse(slice("web-c", "web", "198.18.1.3"), "c.yaml"));
  inv.replace("a.yaml", parse(slice("web-a", "web", "198.18.1.1"), "a.yaml"));
  CHECK(inv.lookup("ns/web").service == nullptr);  // slices alone: no Service yet
  CHECK(inv.replace("b.yaml", parse(service("web"), "b.yaml")) == std::set<std::string>{"ns/web"});
  const ServiceInput in = inv.lookup("ns/web");
  REQUIRE(in.service);
  CHECK(in.service->name == "web");
  REQUIRE(in.slices.size() == 2);
  CHECK(in.slices[0]->name == "web-a");
  CHECK(in.slices[1]->name == "web-c");
  CHECK(inv.serviceKeys() == std::vector<std::string>{"ns/web"});
  // all() is what the batch compile reads: files by name, objects in file order.
  const Manifests all = inv.all();
  REQUIRE(all.slices.size() == 2);
  CHECK(all.slices[0].name == "web-a");
  CHECK(all.services.size() == 1);
}

TEST_CASE("problems between files are counted until they are gone", "[inventory]") {
  source::Inventory inv;
  inv.replace("a.yaml", parse(service("web", 30001), "a.yaml"));
  CHECK_FALSE(inv.hasConflicts());
  inv.replace("b.yaml", parse(service("api", 30001), "b.yaml"));  // the same nodePort
  CHECK(inv.hasConflicts());
  inv.replace("b.yaml", parse(service("api", 30002), "b.yaml"));
  CHECK_FALSE(inv.hasConflicts());
  inv.replace("c.yaml", parse(service("web"), "c.yaml"));  // web defined twice
  CHECK(inv.hasConflicts());
  CHECK(inv.lookup("ns/web").service->where.file == "a.yaml");  // the first, as validate says
  inv.replace("c.yaml", {});
  CHECK_FALSE(inv.hasConflicts());
  CHECK(inv.serviceCount() == 2);
}
