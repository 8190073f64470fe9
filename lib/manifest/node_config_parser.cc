// The node config file (--node-config) → NodeConfig.
#include <charconv>
#include <regex>

#include "manifest/loader.h"
#include "manifest/parsers.h"
#include "manifest/traffic_fields.h"

namespace svcnft::manifest {

namespace {

void parseCidrList(FieldReader& r, const YamlNode& doc, const char* key, std::vector<Cidr>& out) {
  YamlNode list = r.sequence(doc, key, key);
  if (!list.defined()) return;
  for (std::size_t i = 0; i < list.size(); ++i) {
    auto c = parseCidrField(r, list[i], std::string(key) + "[" + std::to_string(i) + "]");
    if (c) out.push_back(*c);
  }
}

bool parseRange(const std::string& text, PortRange& out) {
  auto dash = text.find('-');
  if (dash == std::string::npos) return false;
  int first = 0, last = 0;
  auto a = std::from_chars(text.data(), text.data() + dash, first);
  auto b = std::from_chars(text.data() + dash + 1, text.data() + text.size(), last);
  if (a.ec != std::errc() || a.ptr != text.data() + dash || b.ec != std::errc() ||
      b.ptr != text.data() + text.size()) {
    return false;
  }
  if (first < 1 || last > 65535 || first > last) return false;
  out.first = static_cast<uint16_t>(first);
  out.last = static_cast<uint16_t>(last);
  return true;
}

}  // namespace

NodeConfig parseNodeConfigText(const std::string& text, const std::string& fileName,
                               Diagnostics& diags) {
  NodeConfig cfg;
  YamlDocument parsed;
  if (auto err = parseYaml(text, parsed)) {
    diags.error({fileName, err->mark.line + 1, err->mark.column + 1},
                "malformed YAML/JSON: " + err->message);
    return cfg;
  }
  const YamlNode doc = parsed.root();
  if (!doc.defined() || doc.isNull()) return cfg;
  FieldReader r(diags, fileName, "node config", doc);
  if (!doc.isMap()) {
    r.error(doc, "(top level)", "expected a map");
    return cfg;
  }
  cfg.nodeName = r.string(doc, "nodeName", "nodeName").value_or("");
  // This node's zone, for topology hints (in API mode the Node's label fills it in).
  cfg.zone = r.string(doc, "zone", "zone").value_or("");
  YamlNode ips = r.sequence(doc, "nodeIPs", "nodeIPs");
  if (ips.defined()) {
    for (std::size_t i = 0; i < ips.size(); ++i) {
      const std::string path = "nodeIPs[" + std::to_string(i) + "]";
      auto a = parseAddressField(r, ips[i], path);
      if (!a) continue;
      if (a->isLoopback()) {
        // NodePorts on loopback need route_localnet, which we never set (CVE-2020-8558).
        r.error(ips[i], path, a->str() + " is a loopback address; NodePorts never listen there");
        continue;
      }
      cfg.nodeIPs.push_back(*a);
    }
  }
  parseCidrList(r, doc, "clusterCIDRs", cfg.clusterCIDRs);
  parseCidrList(r, doc, "externalIPAllow", cfg.externalIPAllow);
  parseCidrList(r, doc, "serviceCIDRs", cfg.serviceCIDRs);
  parseCidrList(r, doc, "loadBalancerPools", cfg.loadBalancerPools);
  if (auto range = r.string(doc, "nodePortRange", "nodePortRange")) {
    if (!parseRange(*range, cfg.nodePortRange)) {
      r.error(doc["nodePortRange"], "nodePortRange",
              "\"" + *range + "\" is not a port range FIRST-LAST within 1-65535");
    }
  }
  // nodePortAddresses and detectLocalMode: kube-proxy's fields, kube-proxy's meaning.
  if (YamlNode list = r.sequence(doc, "nodePortAddresses", "nodePortAddresses"); list.defined()) {
    NodePortAddresses read = readNodePortAddresses(r, list);
    cfg.nodePortsOnPrimary = read.primary;
    cfg.nodePortCIDRs = std::move(read.cidrs);
    for (const auto& l : read.loopback) {
      r.error(list, l, "NodePorts are never served on loopback (CVE-2020-8558)");
    }
  }
  if (auto mode = r.string(doc, "detectLocalMode", "detectLocalMode")) {
    if (auto parsed = localTrafficModeNamed(*mode)) {
      cfg.localTraffic = *parsed;
    } else {
      r.error(doc["detectLocalMode"], "detectLocalMode",
              "\"" + *mode +
                  "\" is not one of ClusterCIDR, NodeCIDR, BridgeInterface, InterfaceNamePrefix");
    }
  }
  const bool byInterface = cfg.localTraffic == LocalTrafficMode::kBridgeInterface ||
                           cfg.localTraffic == LocalTrafficMode::kInterfaceNamePrefix;
  const auto iface = r.string(doc, "localInterface", "localInterface");
  if (byInterface && !isInterfaceName(iface.value_or(""))) {
    r.error(iface ? doc["localInterface"] : doc["detectLocalMode"], "localInterface",
            notAnInterfaceName(iface.value_or(""), localTrafficModeName(cfg.localTraffic)));
  } else if (!byInterface && iface) {
    r.error(doc["localInterface"], "localInterface",
            "only used with detectLocalMode BridgeInterface or InterfaceNamePrefix");
  } else if (iface) {
    cfg.localInterface = *iface;
  }
  cfg.masqueradeAll = r.boolean(doc, "masqueradeAll", "masqueradeAll").value_or(false);
  if (auto table = r.string(doc, "table", "table")) {
    static const std::regex kName("[A-Za-z][A-Za-z0-9_-]{0,63}");
    if (!std::regex_match(*table, kName)) {
      r.error(doc["table"], "table",
              "\"" + *table + "\" is not a table name (a letter, then letters, digits, _ or -)");
    } else {
      cfg.table = *table;
    }
  }
  return cfg;
}

}  // namespace svcnft::manifest
