// Fuzz target: any bytes as what the API server sends: a JSON object decoded by
// simdjson into the manifest tree, then read as a Service, an EndpointSlice and a
// Node, as the API source does with list items and watch events.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "manifest/json_tree.h"
#include "manifest/loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  svcnft::manifest::YamlDocument doc;
  if (svcnft::manifest::parseJson(text, doc)) return 0;
  const svcnft::manifest::YamlNode root = doc.root();
  const svcnft::manifest::YamlNode object = root["object"].defined() ? root["object"] : root;
  svcnft::Diagnostics diags;
  svcnft::Manifests m;
  svcnft::manifest::parseObject(object, "Service", "/api/v1/services", m, diags);
  svcnft::manifest::parseObject(object, "EndpointSlice", "/apis/discovery.k8s.io/v1", m, diags);
  (void)svcnft::manifest::parseNodeObject(object, "/api/v1/nodes", diags);
  svcnft::manifest::validate(m, svcnft::NodeConfig{}, diags);
  return 0;
}
