// v1 Node → NodeFacts: what the cluster says of this node.
#include "manifest/loader.h"
#include "manifest/parsers.h"

namespace svcnft::manifest {

NodeFacts parseNodeObject(const YamlNode& object, const std::string& origin, Diagnostics& diags) {
  NodeFacts facts;
  FieldReader r(diags, origin, "Node", object);
  if (!object.isMap()) {
    r.error(object, "(top level)", "expected a Kubernetes object (a map)");
    return facts;
  }
  if (auto name = r.string(r.map(object, "metadata", "metadata"), "name", "metadata.name")) {
    r.setObject("Node " + *name);
  }
  YamlNode labels = r.map(r.map(object, "metadata", "metadata"), "labels", "metadata.labels");
  facts.zone = r.string(labels, "topology.kubernetes.io/zone",
                        "metadata.labels[topology.kubernetes.io/zone]")
                   .value_or("");

  YamlNode deletion = r.map(object, "metadata", "metadata")["deletionTimestamp"];
  facts.leaving = deletion.defined() && !deletion.isNull();
  YamlNode taints = r.sequence(r.map(object, "spec", "spec"), "taints", "spec.taints");
  for (std::size_t i = 0; i < taints.size(); ++i) {
    if (!taints[i].isMap()) continue;
    auto key = r.string(taints[i], "key", "spec.taints[" + std::to_string(i) + "].key");
    if (key && *key == "ToBeDeletedByClusterAutoscaler") facts.leaving = true;
  }

  YamlNode cidrs = r.sequence(r.map(object, "spec", "spec"), "podCIDRs", "spec.podCIDRs");
  for (std::size_t i = 0; i < cidrs.size(); ++i) {
    if (auto c = parseCidrField(r, cidrs[i], "spec.podCIDRs[" + std::to_string(i) + "]")) {
      facts.podCIDRs.push_back(*c);
    }
  }

  // kube-proxy's primary node IPs: per family the first InternalIP, else the first
  // ExternalIP (k8s.io/component-helpers node util GetNodeHostIPs).
  std::optional<IpAddress> internal[2], external[2];
  YamlNode addrs = r.sequence(r.map(object, "status", "status"), "addresses", "status.addresses");
  for (std::size_t i = 0; i < addrs.size(); ++i) {
    const std::string path = "status.addresses[" + std::to_string(i) + "]";
    const YamlNode item = addrs[i];
    if (!item.isMap()) continue;
    const std::string type = r.string(item, "type", path + ".type").value_or("");
    if (type != "InternalIP" && type != "ExternalIP") continue;  // Hostname, InternalDNS, ...
    YamlNode value = item["address"];
    if (!value.defined()) continue;
    auto a = parseAddressField(r, value, path + ".address");
    if (!a) continue;
    auto& slot = (type == "InternalIP" ? internal : external)[a->family() == IpFamily::kV4 ? 0 : 1];
    if (!slot) slot = *a;
  }
  for (int f = 0; f < 2; ++f) {
    if (internal[f]) {
      facts.addresses.push_back(*internal[f]);
    } else if (external[f]) {
      facts.addresses.push_back(*external[f]);
    }
  }
  return facts;
}

}  // namespace svcnft::manifest
