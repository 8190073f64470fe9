// The watched directory, object by object: an invalid object is left out alone and
// keeps its last good version; the rest of its file applies. What cannot be told
// apart (malformed YAML) keeps the whole file as it was.
#include "source/file_source.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "test_support.h"

using namespace svcnft;
using Catch::Matchers::Contains;

namespace {

std::string service(const std::string& name, const std::string& port, int nodePort = 30080) {
  return "apiVersion: v1\nkind: Service\nmetadata: {name: " + name +
         ", namespace: ns}\nspec: {type: NodePort, ports: [{port: " + port +
         ", nodePort: " + std::to_string(nodePort) + "}]}\n---\n";
}

std::string slice(const std::string& svc, const std::string& address) {
  return "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: " + svc +
         "-1, namespace: ns, labels: {kubernetes.io/service-name: " + svc +
         "}}\naddressType: IPv4\nports: [{port: 80}]\nendpoints: [{addresses: [" + address +
         "]}]\n---\n";
}

struct Dir {
  std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("svcnft-files-" + std::to_string(getpid()));
  Dir() {
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~Dir() { std::filesystem::remove_all(path); }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(path / name) << text;
  }
};

int portOf(const source::Inventory& inv, const std::string& key) {
  const ServiceInput in = inv.lookup(key);
  return in.service ? in.service->ports.at(0).port : -1;
}

std::string endpointOf(const source::Inventory& inv, const std::string& key) {
  const ServiceInput in = inv.lookup(key);
  return in.slices.empty() ? "" : in.slices[0]->endpoints.at(0).address.str();
}

}  // namespace

TEST_CASE("files: an invalid object keeps its last good version, the rest applies", "[files]") {
  Dir dir;
  dir.write("a.yaml", service("web", "80", 30080) + service("api", "90", 30090) +
                          slice("web", "198.18.1.11"));
  Diagnostics setup;
  source::FileSource files(dir.path.string(), NodeConfig{}, setup);
  source::Inventory inv;
  Diagnostics first;
  files.refresh(inv, first);
  REQUIRE_FALSE(first.hasErrors());
  REQUIRE(portOf(inv, "ns/web") == 80);

  // web gets a port out of range (a parse error), api a nodePort out of range (a
  // validation error), web's slice a new endpoint, and a new Service is broken.
  dir.write("a.yaml", service("web", "70000", 30080) + service("api", "91", 80) +
                          slice("web", "198.18.1.12") + service("new", "-1", 30070));
  files.consumeEvents();
  Diagnostics second;
  files.refresh(inv, second);
  const std::string said = svcnft::testing::messages(second);
  CHECK(portOf(inv, "ns/web") == 80);                 // last good version
  CHECK(portOf(inv, "ns/api") == 90);                 // last good version
  CHECK(endpointOf(inv, "ns/web") == "198.18.1.12");  // the valid object applied
  CHECK(portOf(inv, "ns/new") == -1);                 // never good: left out
  CHECK_THAT(said, Contains("a.yaml:4:"));            // web's error, where it is
  CHECK_THAT(said, Contains("Service ns/web: its last good version stays in force"));
  CHECK_THAT(said, Contains("Service ns/api: its last good version stays in force"));
  CHECK_THAT(said, Contains("Service ns/new: left out until it is fixed"));
  CHECK(second.errorCount() == 3);

  // Fixed: the new versions apply.
  dir.write("a.yaml", service("web", "81", 30080) + service("api", "91", 30091) +
                          slice("web", "198.18.1.12"));
  files.consumeEvents();
  Diagnostics third;
  files.refresh(inv, third);
  CHECK_FALSE(third.hasErrors());
  CHECK(portOf(inv, "ns/web") == 81);
  CHECK(portOf(inv, "ns/api") == 91);

  // Malformed YAML cannot be told apart object by object: the whole file stays.
  dir.write("a.yaml", service("web", "82", 30080) + "apiVersion: v1\nkind: [\n---\n");
  files.consumeEvents();
  Diagnostics fourth;
  files.refresh(inv, fourth);
  CHECK(portOf(inv, "ns/web") == 81);
  CHECK_THAT(svcnft::testing::messages(fourth),
             Contains("the file's last good contents stay in force"));
}
