// EndpointSlice and legacy Endpoints → model::EndpointSlice, with weights.
#include <ctime>
#include <map>

#include "manifest/parsers.h"

namespace svcnft::manifest {

namespace {

constexpr const char* kWeightsAnnotation = "svcnft.io/weights";
constexpr int kMaxWeight = 1000;

// svcnft.io/weights: a JSON object from endpoint address to integer weight 0-1000.
// Returns address → weight; reports a malformed value at the annotation.
std::map<IpAddress, int> parseWeights(FieldReader& r, const YamlNode& doc) {
  std::map<IpAddress, int> weights;
  YamlNode meta = r.map(doc, "metadata", "metadata");
  YamlNode annotations = r.map(meta, "annotations", "metadata.annotations");
  if (!annotations.defined()) return weights;
  YamlNode raw = annotations[kWeightsAnnotation];
  if (!raw.defined() || raw.isNull()) return weights;
  const std::string path = std::string("metadata.annotations[") + kWeightsAnnotation + "]";
  if (!raw.isScalar()) {
    r.error(raw, path, "expected a JSON object as a string");
    return weights;
  }
  YamlDocument parsedDoc;
  if (auto err = parseYaml(raw.scalar(), parsedDoc)) {
    r.error(raw, path, "malformed JSON: " + err->message);
    return weights;
  }
  const YamlNode parsed = parsedDoc.root();
  if (!parsed.isMap()) {
    r.error(raw, path, "expected a JSON object from address to weight");
    return weights;
  }
  for (std::size_t i = 0; i < parsed.size(); ++i) {
    const std::string key(parsed.keyAt(i));
    auto addr = IpAddress::parse(key);
    if (!addr) {
      r.error(raw, path, "\"" + key + "\" is not an IPv4 or IPv6 address");
      continue;
    }
    int64_t w = 0;
    if (!isPlainInteger(parsed.valueAt(i), &w)) {
      r.error(raw, path, "weight of " + key + " is not an integer");
      continue;
    }
    if (w < 0 || w > kMaxWeight) {
      r.error(raw, path, "weight " + std::to_string(w) + " of " + key + " is outside 0-1000");
      continue;
    }
    weights[*addr] = static_cast<int>(w);
  }
  return weights;
}

void applyWeights(FieldReader& r, const YamlNode& doc, const std::map<IpAddress, int>& weights,
                  std::vector<EndpointSlice>& slices) {
  std::map<IpAddress, bool> used;
  for (auto& s : slices) {
    for (auto& e : s.endpoints) {
      auto it = weights.find(e.address);
      if (it != weights.end()) {
        e.weight = it->second;
        used[e.address] = true;
      }
    }
  }
  for (const auto& [addr, w] : weights) {
    if (!used.count(addr)) {
      r.warning(doc["metadata"]["annotations"][kWeightsAnnotation],
                std::string("metadata.annotations[") + kWeightsAnnotation + "]",
                "weight for " + addr.str() + ", which is not an endpoint of this object");
    }
  }
}

// Kubernetes' bounds on an EndpointSlice (discovery validation in the API server).
constexpr std::size_t kMaxSliceEndpoints = 1000;
constexpr std::size_t kMaxEndpointAddresses = 100;
constexpr std::size_t kMaxSlicePorts = 20000;

// requireNames: legacy Endpoints name each port of a subset with several.
std::vector<EndpointPort> parseEndpointPorts(FieldReader& r, const YamlNode& list,
                                             const std::string& path, bool requireNames) {
  std::vector<EndpointPort> ports;
  if (!list.defined()) return ports;
  if (list.size() > kMaxSlicePorts) {
    r.error(list, path,
            std::to_string(list.size()) + " ports; Kubernetes allows at most " +
                std::to_string(kMaxSlicePorts));
    return ports;
  }
  std::map<std::string, std::size_t> names;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string p = path + "[" + std::to_string(i) + "]";
    const YamlNode item = list[i];
    if (!item.isMap()) {
      r.error(item, p, "expected a map");
      continue;
    }
    EndpointPort ep;
    ep.name = r.string(item, "name", p + ".name").value_or("");
    if (ep.name.empty() && requireNames && list.size() > 1) {
      r.error(item, p + ".name", "missing; a subset with several ports names each one");
      continue;
    }
    if (!ep.name.empty()) {
      if (!checkName(r, item["name"], p + ".name", dns1123LabelProblem(ep.name))) continue;
      auto [first, fresh] = names.emplace(ep.name, i);
      if (!fresh) {
        r.error(item["name"], p + ".name",
                "\"" + ep.name + "\" is already the name of " + path + "[" +
                    std::to_string(first->second) + "]");
        continue;
      }
    }
    auto proto = parseProtocolField(r, item, p + ".protocol");
    YamlNode portNode = item["port"];
    if (!portNode.defined() || portNode.isNull()) continue;  // "all ports": unusable for DNAT
    auto port = parsePortField(r, portNode, p + ".port");
    if (!proto || !port) continue;
    ep.protocol = *proto;
    ep.port = *port;
    ports.push_back(ep);
  }
  return ports;
}

constexpr const char* kTriggerTimeAnnotation = "endpoints.kubernetes.io/last-change-trigger-time";

// The trigger-time annotation: RFC 3339 in UTC with optional fractions
// ("2026-12-04T21:17:22.123456789Z"), as the EndpointSlice controller writes it.
// Unparsable: warned about and left out; it only feeds a metric.
double parseTriggerTime(FieldReader& r, const YamlNode& doc) {
  YamlNode annotations = doc["metadata"]["annotations"];
  if (!annotations.isMap()) return 0;
  YamlNode raw = annotations[kTriggerTimeAnnotation];
  if (!raw.isScalar()) return 0;
  const std::string text(raw.scalar());
  std::tm tm{};
  const char* rest = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  double fraction = 0;
  if (rest && *rest == '.') {
    double scale = 0.1;
    for (++rest; *rest >= '0' && *rest <= '9'; ++rest, scale /= 10)
      fraction += (*rest - '0') * scale;
  }
  if (!rest || (std::string_view(rest) != "Z" && std::string_view(rest) != "+00:00")) {
    r.warning(raw, std::string("metadata.annotations[") + kTriggerTimeAnnotation + "]",
              "\"" + text + "\" is not an RFC 3339 UTC time; ignored");
    return 0;
  }
  return static_cast<double>(timegm(&tm)) + fraction;
}

}  // namespace

std::optional<EndpointSlice> parseEndpointSlice(FieldReader& r, const YamlNode& doc) {
  auto id = parseObjectName(r, doc, dns1123SubdomainProblem);
  if (!id) return std::nullopt;
  EndpointSlice slice;
  slice.ns = id->ns;
  slice.name = id->name;
  slice.where = r.at(doc);
  r.setObject("EndpointSlice " + slice.ns + "/" + slice.name);

  YamlNode labels = r.map(r.map(doc, "metadata", "metadata"), "labels", "metadata.labels");
  auto svcName =
      r.string(labels, "kubernetes.io/service-name", "metadata.labels[kubernetes.io/service-name]");
  if (!svcName || svcName->empty()) {
    r.warning(doc, "metadata.labels[kubernetes.io/service-name]",
              "missing; the slice belongs to no Service and is ignored");
    return std::nullopt;
  }
  if (!checkName(r, labels["kubernetes.io/service-name"],
                 "metadata.labels[kubernetes.io/service-name]", labelValueProblem(*svcName))) {
    return std::nullopt;
  }
  slice.serviceName = *svcName;

  auto type = r.string(doc, "addressType", "addressType").value_or("IPv4");
  if (type == "IPv4") {
    slice.addressType = IpFamily::kV4;
  } else if (type == "IPv6") {
    slice.addressType = IpFamily::kV6;
  } else if (type == "FQDN") {
    return std::nullopt;  // FQDN slices carry no addresses to DNAT to
  } else {
    r.error(doc["addressType"], "addressType", "\"" + type + "\" is not IPv4, IPv6 or FQDN");
    return std::nullopt;
  }

  YamlNode endpoints = r.sequence(doc, "endpoints", "endpoints");
  if (endpoints.size() > kMaxSliceEndpoints) {
    r.error(endpoints, "endpoints",
            std::to_string(endpoints.size()) + " endpoints; Kubernetes allows at most " +
                std::to_string(kMaxSliceEndpoints) + " per slice");
    return std::nullopt;
  }
  if (endpoints.defined()) {
    const FieldPath endpointsPath("endpoints");
    slice.endpoints.reserve(endpoints.size());
    for (std::size_t i = 0; i < endpoints.size(); ++i) {
      const FieldPath path(endpointsPath, i);
      const YamlNode item = endpoints[i];
      if (!item.isMap()) {
        r.error(item, path, "expected a map");
        continue;
      }
      const FieldPath condsPath(path, "conditions");
      YamlNode conds = r.map(item, "conditions", condsPath);
      // Kubernetes: an absent ready means ready; an absent serving means "as ready".
      const bool ready = r.boolean(conds, "ready", {condsPath, "ready"}).value_or(true);
      const bool serving = r.boolean(conds, "serving", {condsPath, "serving"}).value_or(ready);
      const bool terminating =
          r.boolean(conds, "terminating", {condsPath, "terminating"}).value_or(false);
      const FieldPath nodePath(path, "nodeName");
      const std::string node = r.string(item, "nodeName", nodePath).value_or("");
      if (!node.empty() &&
          !checkName(r, item["nodeName"], nodePath, dns1123SubdomainProblem(node))) {
        continue;
      }
      const std::string zone = r.string(item, "zone", {path, "zone"}).value_or("");
      std::vector<std::string> zoneHints, nodeHints;
      const FieldPath hintsPath(path, "hints");
      YamlNode hints = r.map(item, "hints", hintsPath);
      for (auto [key, out] :
           {std::pair{"forZones", &zoneHints}, std::pair{"forNodes", &nodeHints}}) {
        if (!hints.defined()) break;
        const FieldPath hpath(hintsPath, key);
        YamlNode list = r.sequence(hints, key, hpath);
        for (std::size_t h = 0; h < list.size(); ++h) {
          const FieldPath ipath(hpath, h);
          if (!list[h].isMap()) {
            r.error(list[h], ipath, "expected a map with a name");
            continue;
          }
          if (auto name = r.string(list[h], "name", {ipath, "name"}); name && !name->empty()) {
            out->push_back(*name);
          }
        }
      }
      const FieldPath addrsPath(path, "addresses");
      YamlNode addrs = r.sequence(item, "addresses", addrsPath);
      if (addrs.size() == 0 || addrs.size() > kMaxEndpointAddresses) {
        r.error(addrs.defined() ? addrs : item, addrsPath,
                addrs.size() == 0
                    ? std::string("missing; an endpoint has 1 to 100 addresses")
                    : std::to_string(addrs.size()) + " addresses; Kubernetes allows at most 100");
        continue;
      }
      // Every address must be valid, but only the first is used: the API defines no
      // meaning for the others, and kube-proxy ignores them too.
      std::optional<IpAddress> first;
      for (std::size_t j = 0; j < addrs.size(); ++j) {
        const FieldPath apath(addrsPath, j);
        auto a = parseAddressField(r, addrs[j], apath);
        if (!a) continue;
        if (a->family() != slice.addressType) {
          r.error(addrs[j], apath,
                  a->str() + " is not of addressType " + familyName(slice.addressType));
          continue;
        }
        if (j == 0) first = *a;
      }
      if (first) {
        std::shared_ptr<const TopologyHints> hinted;
        if (!zoneHints.empty() || !nodeHints.empty()) {
          hinted = std::make_shared<const TopologyHints>(
              TopologyHints{std::move(zoneHints), std::move(nodeHints)});
        }
        slice.endpoints.push_back(
            {*first, ready, serving, terminating, 1, node, zone, std::move(hinted)});
      }
    }
  }
  slice.ports = parseEndpointPorts(r, r.sequence(doc, "ports", "ports"), "ports", false);
  slice.triggerTime = parseTriggerTime(r, doc);

  std::vector<EndpointSlice> one;
  one.push_back(std::move(slice));
  applyWeights(r, doc, parseWeights(r, doc), one);
  return std::move(one.front());
}

std::vector<EndpointSlice> parseLegacyEndpoints(FieldReader& r, const YamlNode& doc) {
  std::vector<EndpointSlice> out;
  auto id = parseObjectName(r, doc, dns1123SubdomainProblem);
  if (!id) return out;
  r.setObject("Endpoints " + id->ns + "/" + id->name);
  YamlNode subsets = r.sequence(doc, "subsets", "subsets");
  if (!subsets.defined()) return out;
  for (std::size_t i = 0; i < subsets.size(); ++i) {
    const std::string path = "subsets[" + std::to_string(i) + "]";
    const YamlNode subset = subsets[i];
    if (!subset.isMap()) {
      r.error(subset, path, "expected a map");
      continue;
    }
    // Legacy Endpoints may mix families in one subset; slices may not.
    EndpointSlice v4, v6;
    const auto ports =
        parseEndpointPorts(r, r.sequence(subset, "ports", path + ".ports"), path + ".ports", true);
    for (auto* s : {&v4, &v6}) {
      s->ns = id->ns;
      s->name = id->name;
      s->serviceName = id->name;  // an Endpoints object is named after its Service
      s->where = r.at(subset);
      s->ports = ports;
    }
    v6.addressType = IpFamily::kV6;
    for (const char* field : {"addresses", "notReadyAddresses"}) {
      const bool ready = std::string(field) == "addresses";
      const std::string fpath = path + "." + field;
      YamlNode list = r.sequence(subset, field, fpath);
      if (!list.defined()) continue;
      for (std::size_t j = 0; j < list.size(); ++j) {
        const std::string apath = fpath + "[" + std::to_string(j) + "]";
        const YamlNode item = list[j];
        if (!item.isMap()) {
          r.error(item, apath, "expected a map");
          continue;
        }
        YamlNode ipNode = item["ip"];
        if (!ipNode.defined() || ipNode.isNull()) {
          r.error(item, apath + ".ip", "missing");
          continue;
        }
        auto a = parseAddressField(r, ipNode, apath + ".ip");
        if (!a) continue;
        const std::string node = r.string(item, "nodeName", apath + ".nodeName").value_or("");
        if (!node.empty() &&
            !checkName(r, item["nodeName"], apath + ".nodeName", dns1123SubdomainProblem(node))) {
          continue;
        }
        auto& target = a->family() == IpFamily::kV4 ? v4 : v6;
        target.endpoints.push_back({*a, ready, ready, false, 1, node, {}, nullptr});
      }
    }
    for (auto* s : {&v4, &v6}) {
      if (!s->endpoints.empty()) out.push_back(*s);
    }
  }
  applyWeights(r, doc, parseWeights(r, doc), out);
  return out;
}

}  // namespace svcnft::manifest
