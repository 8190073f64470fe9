// v1 Service → model::Service.
#include <algorithm>
#include <map>

#include "manifest/parsers.h"

namespace svcnft::manifest {

bool checkName(FieldReader& r, const YamlNode& node, const FieldPath& path,
               const std::optional<std::string>& problem) {
  if (!problem) return true;
  r.error(node, path, *problem);
  return false;
}

std::optional<ObjectName> parseObjectName(FieldReader& r, const YamlNode& doc,
                                          NameCheck nameProblem) {
  YamlNode meta = r.map(doc, "metadata", "metadata");
  auto name = r.string(meta, "name", "metadata.name");
  if (!name || name->empty()) {
    r.error(meta.defined() ? meta : doc, "metadata.name", "missing");
    return std::nullopt;
  }
  auto ns = r.string(meta, "namespace", "metadata.namespace");
  if (!checkName(r, meta["name"], "metadata.name", nameProblem(*name))) return std::nullopt;
  if (ns && !ns->empty() &&
      !checkName(r, meta["namespace"], "metadata.namespace", dns1123LabelProblem(*ns))) {
    return std::nullopt;
  }
  return ObjectName{ns && !ns->empty() ? *ns : "default", *name};
}

std::optional<IpAddress> parseAddressField(FieldReader& r, const YamlNode& node,
                                           const FieldPath& path) {
  auto text = r.asString(node, path);
  if (!text) return std::nullopt;
  auto addr = IpAddress::parse(*text);
  if (!addr) {
    r.error(node, path, "\"" + *text + "\" is not an IPv4 or IPv6 address");
    return std::nullopt;
  }
  // ::ffff:a.b.c.d names an IPv4 address as IPv6: the kernel would match it in
  // neither family's rules, and Kubernetes refuses it in Service and endpoint IPs.
  const auto& b = addr->bytes();
  if (addr->family() == IpFamily::kV6 && std::all_of(b.begin(), b.begin() + 10,
                                                     [](uint8_t x) { return x == 0; }) &&
      b[10] == 0xff && b[11] == 0xff) {
    r.error(node, path, "\"" + *text + "\" is an IPv4-mapped IPv6 address; write the IPv4 address");
    return std::nullopt;
  }
  return addr;
}

std::optional<Cidr> parseCidrField(FieldReader& r, const YamlNode& node,
                                   const std::string& path) {
  auto text = r.asString(node, path);
  if (!text) return std::nullopt;
  std::string trimmed = *text;
  trimmed.erase(std::remove(trimmed.begin(), trimmed.end(), ' '), trimmed.end());
  auto cidr = Cidr::parse(trimmed, /*allowHostBits=*/true);
  if (!cidr) r.error(node, path, "\"" + *text + "\" is not a CIDR");
  return cidr;
}

std::optional<uint16_t> parsePortField(FieldReader& r, const YamlNode& node,
                                       const std::string& path) {
  auto v = r.asInteger(node, path);
  if (!v) return std::nullopt;
  if (*v < 1 || *v > 65535) {
    r.error(node, path, std::to_string(*v) + " is outside 1-65535");
    return std::nullopt;
  }
  return static_cast<uint16_t>(*v);
}

std::optional<Protocol> parseProtocolField(FieldReader& r, const YamlNode& parent,
                                           const std::string& path) {
  YamlNode n = parent["protocol"];
  if (!n.defined() || n.isNull()) return Protocol::kTcp;
  auto text = r.asString(n, path);
  if (!text) return std::nullopt;
  auto p = parseProtocol(*text);
  if (!p) r.error(n, path, "\"" + *text + "\" is not TCP, UDP or SCTP");
  return p;
}

namespace {

std::optional<TrafficPolicy> parsePolicy(FieldReader& r, const YamlNode& spec, const char* key,
                                         const std::string& path) {
  auto text = r.string(spec, key, path);
  if (!text || *text == "Cluster" || text->empty()) return TrafficPolicy::kCluster;
  if (*text == "Local") return TrafficPolicy::kLocal;
  r.error(spec[key], path, "\"" + *text + "\" is not Cluster or Local");
  return std::nullopt;
}

// svcnft's own bound, where Kubernetes sets none: each Service port multiplies
// the kernel elements of every endpoint, so that a short file could otherwise ask
// for millions of them. 100 is what the EndpointSlice API documents per slice.
constexpr std::size_t kMaxServicePorts = 100;

// Kubernetes' rules across a Service's ports: names required when there are
// several, names unique, and each (port, protocol) once.
void checkPortSet(FieldReader& r, const YamlNode& ports, const std::vector<ServicePort>& list,
                  const std::vector<std::size_t>& index) {
  std::map<std::string, std::size_t> names;
  std::map<std::pair<Protocol, uint16_t>, std::size_t> numbers;
  for (std::size_t k = 0; k < list.size(); ++k) {
    const ServicePort& sp = list[k];
    const std::size_t i = index[k];
    const std::string path = "spec.ports[" + std::to_string(i) + "]";
    if (sp.name.empty() && ports.size() > 1) {
      r.error(ports[i], path + ".name", "missing; a Service with several ports names each one");
    } else if (!sp.name.empty()) {
      auto [first, fresh] = names.emplace(sp.name, i);
      if (!fresh) {
        r.error(ports[i]["name"], path + ".name",
                "\"" + sp.name + "\" is already the name of spec.ports[" +
                    std::to_string(first->second) + "]");
      }
    }
    auto [first, fresh] = numbers.emplace(std::make_pair(sp.protocol, sp.port), i);
    if (!fresh) {
      r.error(ports[i]["port"], path + ".port",
              std::to_string(sp.port) + "/" + protocolK8sName(sp.protocol) +
                  " is already spec.ports[" + std::to_string(first->second) + "]");
    }
  }
}

void parsePorts(FieldReader& r, const YamlNode& spec, Service& svc) {
  YamlNode ports = r.sequence(spec, "ports", "spec.ports");
  if (!ports.defined()) return;
  if (ports.size() > kMaxServicePorts) {
    r.error(ports, "spec.ports",
            std::to_string(ports.size()) + " ports; svcnft takes at most " +
                std::to_string(kMaxServicePorts) + " per Service");
    return;
  }
  std::vector<std::size_t> index;  // spec.ports index of each parsed port
  for (std::size_t i = 0; i < ports.size(); ++i) {
    const YamlNode p = ports[i];
    const std::string path = "spec.ports[" + std::to_string(i) + "]";
    if (!p.isMap()) {
      r.error(p, path, "expected a map");
      continue;
    }
    ServicePort sp;
    sp.where = r.at(p);
    sp.name = r.string(p, "name", path + ".name").value_or("");
    if (!sp.name.empty() &&
        !checkName(r, p["name"], path + ".name", dns1123LabelProblem(sp.name))) {
      continue;
    }
    auto proto = parseProtocolField(r, p, path + ".protocol");
    YamlNode portNode = p["port"];
    if (!portNode.defined() || portNode.isNull()) {
      r.error(p, path + ".port", "missing");
      continue;
    }
    auto port = parsePortField(r, portNode, path + ".port");
    if (!proto || !port) continue;
    sp.protocol = *proto;
    sp.port = *port;

    YamlNode target = p["targetPort"];
    if (target.defined() && !target.isNull()) {
      int64_t n = 0;
      if (isPlainInteger(target, &n)) {
        auto tp = parsePortField(r, target, path + ".targetPort");
        if (!tp) continue;
        sp.targetPortNumber = *tp;
      } else if (target.isScalar() && !target.scalar().empty()) {
        sp.targetPortName = std::string(target.scalar());
        if (!checkName(r, target, path + ".targetPort",
                       ianaServiceNameProblem(sp.targetPortName))) {
          continue;
        }
      } else {
        r.error(target, path + ".targetPort", "expected a port number or a port name");
        continue;
      }
    } else {
      sp.targetPortNumber = sp.port;  // Kubernetes defaults targetPort to port
    }

    YamlNode nodePort = p["nodePort"];
    if (nodePort.defined() && !nodePort.isNull()) {
      auto np = parsePortField(r, nodePort, path + ".nodePort");
      if (!np) continue;
      sp.nodePort = *np;
      sp.nodePortWhere = r.at(nodePort);
    }
    svc.ports.push_back(sp);
    index.push_back(i);
  }
  checkPortSet(r, ports, svc.ports, index);
}

void parseAddresses(FieldReader& r, const YamlNode& list, const std::string& path,
                    std::vector<IpAddress>& out, std::vector<SourceLocation>* where = nullptr) {
  if (!list.defined()) return;
  for (std::size_t i = 0; i < list.size(); ++i) {
    auto a = parseAddressField(r, list[i], path + "[" + std::to_string(i) + "]");
    if (!a) continue;
    out.push_back(*a);
    if (where) where->push_back(r.at(list[i]));
  }
}

void parseClusterIPs(FieldReader& r, const YamlNode& spec, Service& svc) {
  YamlNode list = r.sequence(spec, "clusterIPs", "spec.clusterIPs");
  auto single = r.string(spec, "clusterIP", "spec.clusterIP");
  auto isNone = [](std::string_view s) { return s == "None"; };
  if (list.defined() && list.size() > 0) {
    if (list[0].isScalar() && isNone(list[0].scalar())) {
      svc.headless = true;
      return;
    }
    parseAddresses(r, list, "spec.clusterIPs", svc.clusterIPs);
    return;
  }
  if (!single || single->empty()) return;
  if (isNone(*single)) {
    svc.headless = true;
    return;
  }
  auto a = parseAddressField(r, spec["clusterIP"], "spec.clusterIP");
  if (a) svc.clusterIPs.push_back(*a);
}

void parseLoadBalancerStatus(FieldReader& r, const YamlNode& doc, Service& svc) {
  YamlNode status = r.map(doc, "status", "status");
  YamlNode lb = r.map(status, "loadBalancer", "status.loadBalancer");
  YamlNode ingress = r.sequence(lb, "ingress", "status.loadBalancer.ingress");
  if (!ingress.defined()) return;
  for (std::size_t i = 0; i < ingress.size(); ++i) {
    const std::string path = "status.loadBalancer.ingress[" + std::to_string(i) + "]";
    const YamlNode item = ingress[i];
    if (!item.isMap()) {
      r.error(item, path, "expected a map");
      continue;
    }
    // An ingress with ipMode Proxy is a proxying load balancer: it needs no rules.
    auto mode = r.string(item, "ipMode", path + ".ipMode");
    if (mode && *mode == "Proxy") continue;
    if (!item["ip"].defined() || item["ip"].isNull()) continue;  // hostname-only ingress
    auto a = parseAddressField(r, item["ip"], path + ".ip");
    if (!a) continue;
    svc.loadBalancerIPs.push_back(*a);
    svc.loadBalancerIPWhere.push_back(r.at(item["ip"]));
  }
}

}  // namespace

std::optional<Service> parseService(FieldReader& r, const YamlNode& doc) {
  auto id = parseObjectName(r, doc, dns1035LabelProblem);
  if (!id) return std::nullopt;
  Service svc;
  svc.ns = id->ns;
  svc.name = id->name;
  svc.where = r.at(doc);
  r.setObject("Service " + svc.key());

  YamlNode spec = r.map(doc, "spec", "spec");
  auto type = r.string(spec, "type", "spec.type").value_or("ClusterIP");
  if (type == "ClusterIP") {
    svc.type = ServiceType::kClusterIP;
  } else if (type == "NodePort") {
    svc.type = ServiceType::kNodePort;
  } else if (type == "LoadBalancer") {
    svc.type = ServiceType::kLoadBalancer;
  } else if (type == "ExternalName") {
    svc.type = ServiceType::kExternalName;
  } else {
    r.error(spec["type"], "spec.type",
            "\"" + type + "\" is not ClusterIP, NodePort, LoadBalancer or ExternalName");
    return std::nullopt;
  }

  parseClusterIPs(r, spec, svc);
  svc.loadBalancerClass =
      r.string(spec, "loadBalancerClass", "spec.loadBalancerClass").value_or("");
  YamlNode families = r.sequence(spec, "ipFamilies", "spec.ipFamilies");
  if (families.defined()) {
    for (std::size_t i = 0; i < families.size(); ++i) {
      const std::string path = "spec.ipFamilies[" + std::to_string(i) + "]";
      auto f = r.asString(families[i], path);
      if (!f) continue;
      if (*f == "IPv4") {
        svc.ipFamilies.push_back(IpFamily::kV4);
      } else if (*f == "IPv6") {
        svc.ipFamilies.push_back(IpFamily::kV6);
      } else {
        r.error(families[i], path, "\"" + *f + "\" is not IPv4 or IPv6");
      }
    }
  }
  parsePorts(r, spec, svc);
  parseAddresses(r, r.sequence(spec, "externalIPs", "spec.externalIPs"), "spec.externalIPs",
                 svc.externalIPs, &svc.externalIPWhere);
  if (svc.type == ServiceType::kLoadBalancer) parseLoadBalancerStatus(r, doc, svc);

  YamlNode ranges = r.sequence(spec, "loadBalancerSourceRanges", "spec.loadBalancerSourceRanges");
  if (ranges.defined()) {
    for (std::size_t i = 0; i < ranges.size(); ++i) {
      auto c =
          parseCidrField(r, ranges[i], "spec.loadBalancerSourceRanges[" + std::to_string(i) + "]");
      if (c) svc.loadBalancerSourceRanges.push_back(*c);
    }
  }

  if (auto p = parsePolicy(r, spec, "externalTrafficPolicy", "spec.externalTrafficPolicy")) {
    svc.externalTrafficPolicy = *p;
  }
  if (auto p = parsePolicy(r, spec, "internalTrafficPolicy", "spec.internalTrafficPolicy")) {
    svc.internalTrafficPolicy = *p;
  }

  auto affinity = r.string(spec, "sessionAffinity", "spec.sessionAffinity").value_or("None");
  if (affinity == "ClientIP") {
    svc.clientIPAffinity = true;
  } else if (affinity != "None") {
    r.error(spec["sessionAffinity"], "spec.sessionAffinity",
            "\"" + affinity + "\" is not None or ClientIP");
  }
  YamlNode cfg = r.map(spec, "sessionAffinityConfig", "spec.sessionAffinityConfig");
  YamlNode clientIP = r.map(cfg, "clientIP", "spec.sessionAffinityConfig.clientIP");
  const std::string timeoutPath = "spec.sessionAffinityConfig.clientIP.timeoutSeconds";
  if (auto t = r.integer(clientIP, "timeoutSeconds", timeoutPath)) {
    // Kubernetes' own bound: 1 second to 1 day.
    if (*t < 1 || *t > 86400) {
      r.error(clientIP["timeoutSeconds"], timeoutPath, std::to_string(*t) + " is outside 1-86400");
    } else {
      svc.affinityTimeoutSeconds = static_cast<int>(*t);
    }
  }

  YamlNode hc = spec["healthCheckNodePort"];
  if (hc.defined() && !hc.isNull()) {
    if (auto p = parsePortField(r, hc, "spec.healthCheckNodePort")) svc.healthCheckNodePort = *p;
  }
  return svc;
}

}  // namespace svcnft::manifest
