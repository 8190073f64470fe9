// KubeProxyConfiguration (kubeproxy.config.k8s.io/v1alpha1) → KubeProxyConfig.
#include <algorithm>
#include <initializer_list>

#include "manifest/go_duration.h"
#include "manifest/kube_proxy_config.h"
#include "manifest/loader.h"
#include "manifest/parsers.h"
#include "manifest/traffic_fields.h"

namespace svcnft::manifest {

namespace {

using std::chrono::milliseconds;

constexpr const char* kApiVersion = "kubeproxy.config.k8s.io/v1alpha1";
constexpr int64_t kSecond = 1'000'000'000;

// Absent, null, empty, 0, false, "" or 0s, all through: what a generated file
// writes for a setting nobody set.
bool isZero(const YamlNode& n) {
  if (!n.defined() || n.isNull()) return true;
  if (n.isScalar()) {
    const std::string_view v = n.scalar();
    return v.empty() || v == "0" || v == "false" || v == "0s";
  }
  for (std::size_t i = 0; i < n.size(); ++i) {
    if (!isZero(n.isMap() ? n.valueAt(i) : n[i])) return false;
  }
  return true;
}

class ConfigReader {
 public:
  ConfigReader(FieldReader& r, KubeProxyConfig& out) : r_(r), out_(out) {}

  // Each key of `map` must be one of `known`: kube-proxy decodes strictly.
  void refuseUnknown(const YamlNode& map, const std::string& prefix,
                     std::initializer_list<std::string_view> known) {
    if (!map.isMap()) return;
    for (std::size_t i = 0; i < map.size(); ++i) {
      const std::string_view key = map.keyAt(i);
      if (std::find(known.begin(), known.end(), key) != known.end()) continue;
      r_.error(map.valueAt(i), prefix + std::string(key),
               "unknown field (kube-proxy refuses it too)");
    }
  }

  std::optional<milliseconds> duration(const YamlNode& parent, const char* key,
                                       const std::string& path) {
    auto ns = durationNs(parent, key, path);
    if (!ns) return std::nullopt;
    return milliseconds(*ns / 1'000'000);
  }

  std::optional<int64_t> durationNs(const YamlNode& parent, const char* key,
                                    const std::string& path) {
    auto text = r_.string(parent, key, path);
    if (!text) return std::nullopt;
    auto ns = parseGoDuration(*text);
    if (!ns || *ns < 0) {
      r_.error(parent[key], path,
               "\"" + *text + "\" is not a duration (like 30s, 1m or 1h30m; not negative)");
      return std::nullopt;
    }
    return ns;
  }

  // A field svcnft does not use: named when its value is not kube-proxy's default
  // (`defaults`: texts that mean the default; an empty map or list always does).
  void unused(const YamlNode& parent, const char* key, const std::string& path,
              std::initializer_list<std::string_view> defaults, const std::string& why) {
    if (!parent.isMap()) return;
    const YamlNode n = parent[key];
    if (isZero(n)) return;
    if (n.isScalar() && std::find(defaults.begin(), defaults.end(), n.scalar()) != defaults.end()) {
      return;
    }
    out_.notApplied.push_back(path + " (" + why + ")");
  }

  // As unused(), for a duration whose default is `defaultNs`.
  void unusedDuration(const YamlNode& parent, const char* key, const std::string& path,
                      int64_t defaultNs, const std::string& why) {
    auto ns = durationNs(parent, key, path);  // 0 is unset: the default
    if (ns && *ns != 0 && *ns != defaultNs) out_.notApplied.push_back(path + " (" + why + ")");
  }

  FieldReader& r() { return r_; }
  KubeProxyConfig& out() { return out_; }

 private:
  FieldReader& r_;
  KubeProxyConfig& out_;
};

void readClientConnection(ConfigReader& c, const YamlNode& doc) {
  const YamlNode cc = c.r().map(doc, "clientConnection", "clientConnection");
  if (!cc.defined()) return;
  c.refuseUnknown(cc, "clientConnection.",
                  {"kubeconfig", "acceptContentTypes", "contentType", "qps", "burst"});
  c.out().kubeconfig = c.r().string(cc, "kubeconfig", "clientConnection.kubeconfig").value_or("");
  const char* why = "svcnft's API client sets its own";
  c.unused(cc, "acceptContentTypes", "clientConnection.acceptContentTypes", {""}, why);
  c.unused(cc, "contentType", "clientConnection.contentType",
           {"", "application/vnd.kubernetes.protobuf"}, why);
  c.unused(cc, "qps", "clientConnection.qps", {"5", "0"}, why);
  c.unused(cc, "burst", "clientConnection.burst", {"10", "0"}, why);
}

void readLogging(ConfigReader& c, const YamlNode& doc) {
  const YamlNode logging = c.r().map(doc, "logging", "logging");
  if (!logging.defined()) return;
  const char* why = "svcnft logs one format of its own";
  c.unused(logging, "format", "logging.format", {"", "text"}, why);
  c.unused(logging, "verbosity", "logging.verbosity", {"0"}, why);
  c.unused(logging, "vmodule", "logging.vmodule", {""}, why);
  c.unused(logging, "options", "logging.options", {}, why);
  // flushFrequency: a duration, or an integer of nanoseconds.
  c.unused(logging, "flushFrequency", "logging.flushFrequency", {"5s", "5000000000", "0"}, why);
  c.refuseUnknown(logging, "logging.",
                  {"format", "flushFrequency", "verbosity", "vmodule", "options"});
}

// iptables, ipvs and nftables: the section of the file's mode is used; another
// mode's settings are named as not applied.
void readModeSections(ConfigReader& c, const YamlNode& doc) {
  FieldReader& r = c.r();
  KubeProxyConfig& out = c.out();
  for (const char* section : {"iptables", "ipvs", "nftables"}) {
    const YamlNode s = r.map(doc, section, section);
    if (!s.defined()) continue;
    const std::string p = std::string(section) + ".";
    const bool ours = out.mode == section;
    const std::string otherMode = "the mode is " + out.mode;
    if (std::string_view(section) == "ipvs") {
      c.refuseUnknown(s, p,
                      {"syncPeriod", "minSyncPeriod", "scheduler", "excludeCIDRs", "strictARP",
                       "tcpTimeout", "tcpFinTimeout", "udpTimeout"});
      const char* why = "IPVS settings; svcnft programs nftables";
      c.unused(s, "scheduler", p + "scheduler", {""}, why);
      c.unused(s, "excludeCIDRs", p + "excludeCIDRs", {}, why);
      c.unused(s, "strictARP", p + "strictARP", {"false"}, why);
      for (const char* t : {"tcpTimeout", "tcpFinTimeout", "udpTimeout"}) {
        c.unusedDuration(s, t, p + t, 0, why);
      }
    } else {
      if (std::string_view(section) == "iptables") {
        c.refuseUnknown(s, p,
                        {"masqueradeBit", "masqueradeAll", "syncPeriod", "minSyncPeriod",
                         "localhostNodePorts"});
      } else {
        c.refuseUnknown(s, p, {"masqueradeBit", "masqueradeAll", "syncPeriod", "minSyncPeriod"});
      }
      if (auto bit = r.integer(s, "masqueradeBit", p + "masqueradeBit"); bit && *bit != 14) {
        out.notApplied.push_back(p +
                                 "masqueradeBit (svcnft marks with kube-proxy's default, "
                                 "bit 14)");
      }
      const auto all = r.boolean(s, "masqueradeAll", p + "masqueradeAll");
      if (ours) {
        out.masqueradeAll = all.value_or(false);
      } else if (all.value_or(false)) {
        out.notApplied.push_back(p + "masqueradeAll (" + otherMode + ")");
      }
    }
    const auto sync = c.duration(s, "syncPeriod", p + "syncPeriod");
    const auto minSync = c.duration(s, "minSyncPeriod", p + "minSyncPeriod");
    if (ours) {
      // As kube-proxy's defaulting: 0 is unset (30 s; 1 s, or none for ipvs).
      if (sync && sync->count() > 0) out.syncPeriod = *sync;
      if (minSync && minSync->count() > 0) out.minSyncPeriod = *minSync;
    }  // another mode's periods mean nothing to its own mode either
  }
  // iptables mode serves NodePorts on 127.0.0.1 unless told not to; svcnft never
  // does (it would need route_localnet: CVE-2020-8558).
  const auto localhost = r.boolean(r.map(doc, "iptables", "iptables"), "localhostNodePorts",
                                   "iptables.localhostNodePorts");
  if (out.mode == "iptables" && localhost.value_or(true)) {
    out.notApplied.push_back(
        "iptables.localhostNodePorts (svcnft never serves NodePorts on "
        "127.0.0.1: CVE-2020-8558)");
  }
}

void readDetectLocal(ConfigReader& c, const YamlNode& doc) {
  FieldReader& r = c.r();
  KubeProxyConfig& out = c.out();
  const YamlNode detect = r.map(doc, "detectLocal", "detectLocal");
  c.refuseUnknown(detect, "detectLocal.", {"bridgeInterface", "interfaceNamePrefix"});
  const std::string mode = r.string(doc, "detectLocalMode", "detectLocalMode").value_or("");
  const auto parsed = localTrafficModeNamed(mode);
  if (!parsed) {
    r.error(doc["detectLocalMode"], "detectLocalMode",
            "\"" + mode +
                "\" is not one of ClusterCIDR, NodeCIDR, BridgeInterface, InterfaceNamePrefix");
    return;
  }
  out.localTraffic = *parsed;
  const char* field = *parsed == LocalTrafficMode::kBridgeInterface       ? "bridgeInterface"
                      : *parsed == LocalTrafficMode::kInterfaceNamePrefix ? "interfaceNamePrefix"
                                                                          : nullptr;
  if (!field) return;
  const std::string path = std::string("detectLocal.") + field;
  const std::string name = r.string(detect, field, path).value_or("");
  if (!isInterfaceName(name)) {
    r.error(detect.defined() ? detect[field] : doc["detectLocalMode"], path,
            notAnInterfaceName(name, mode));
    return;
  }
  out.localInterface = name;
}

void readClusterCIDR(ConfigReader& c, const YamlNode& doc) {
  FieldReader& r = c.r();
  const auto text = r.string(doc, "clusterCIDR", "clusterCIDR");
  if (!text || text->empty()) return;
  std::size_t start = 0;
  std::vector<Cidr> cidrs;
  while (start <= text->size()) {
    const std::size_t comma = std::min(text->find(',', start), text->size());
    const std::string part = text->substr(start, comma - start);
    // kube-proxy accepts host bits here ("10.0.0.1/8" means 10.0.0.0/8).
    if (auto cidr = Cidr::parse(part, /*allowHostBits=*/true)) {
      cidrs.push_back(*cidr);
    } else {
      r.error(doc["clusterCIDR"], "clusterCIDR",
              "\"" + part + "\" is not a CIDR (a comma-separated list: one per IP family)");
      return;
    }
    start = comma + 1;
  }
  // As kube-proxy: at most one range per family (a dual-stack pair).
  if (cidrs.size() > 2 || (cidrs.size() == 2 && cidrs[0].family() == cidrs[1].family())) {
    r.error(doc["clusterCIDR"], "clusterCIDR",
            "\"" + *text + "\": at most one CIDR per IP family (a dual-stack pair)");
    return;
  }
  c.out().clusterCIDRs = std::move(cidrs);
}

void readNodePortAddresses(ConfigReader& c, const YamlNode& doc) {
  KubeProxyConfig& out = c.out();
  // kube-proxy's default: "primary" in nftables mode, "all" in the others.
  const YamlNode list = c.r().sequence(doc, "nodePortAddresses", "nodePortAddresses");
  if (!list.defined() || list.size() == 0) {
    if (out.mode == "nftables") {
      out.nodePortsOnPrimary = true;
    } else {
      out.nodePortCIDRs = {*Cidr::parse("0.0.0.0/0"), *Cidr::parse("::/0")};
    }
    return;
  }
  NodePortAddresses read = readNodePortAddresses(c.r(), list);
  out.nodePortsOnPrimary = read.primary;
  out.nodePortCIDRs = std::move(read.cidrs);
  for (const auto& l : read.loopback) {
    out.notApplied.push_back(l + " (svcnft never serves NodePorts on loopback: CVE-2020-8558)");
  }
}

// host:port, or a bare host (kube-proxy adds its default port to it).
std::string withPort(const std::string& address, int defaultPort) {
  if (address.empty()) return address;
  if (address.front() == '[') {
    return address.find("]:") == std::string::npos ? address + ":" + std::to_string(defaultPort)
                                                   : address;
  }
  const auto colons = std::count(address.begin(), address.end(), ':');
  if (colons == 0) return address + ":" + std::to_string(defaultPort);
  if (colons > 1) return "[" + address + "]:" + std::to_string(defaultPort);  // bare IPv6
  return address;
}

void readConntrack(ConfigReader& c, const YamlNode& doc) {
  FieldReader& r = c.r();
  ConntrackSettings& ct = c.out().conntrack;
  // kube-proxy's defaults, which apply when the file says nothing.
  ct.maxPerCore = 32768;
  ct.min = 131072;
  ct.tcpEstablishedTimeout = 24 * 3600;
  ct.tcpCloseWaitTimeout = 3600;
  const YamlNode s = r.map(doc, "conntrack", "conntrack");
  if (!s.defined()) return;
  c.refuseUnknown(s, "conntrack.",
                  {"maxPerCore", "min", "tcpEstablishedTimeout", "tcpCloseWaitTimeout",
                   "tcpBeLiberal", "udpTimeout", "udpStreamTimeout"});
  auto count = [&](const char* key, int64_t& field) {
    const std::string path = std::string("conntrack.") + key;
    if (auto v = r.integer(s, key, path)) {
      if (*v < 0 || *v > INT32_MAX) {
        r.error(s[key], path, std::to_string(*v) + " is out of range (0 to 2147483647)");
      } else {
        field = *v;
      }
    }
  };
  count("maxPerCore", ct.maxPerCore);
  count("min", ct.min);
  auto seconds = [&](const char* key, std::optional<int64_t>& field) {
    const std::string path = std::string("conntrack.") + key;
    const YamlNode n = s[key];
    if (!n.defined() || n.isNull()) return;  // unset: kube-proxy's default stays
    if (auto ns = c.durationNs(s, key, path)) {
      // 0 (or under a second) leaves the sysctl as it is, as in kube-proxy.
      if (*ns >= kSecond) {
        field = *ns / kSecond;
      } else {
        field.reset();
      }
    }
  };
  seconds("tcpEstablishedTimeout", ct.tcpEstablishedTimeout);
  seconds("tcpCloseWaitTimeout", ct.tcpCloseWaitTimeout);
  seconds("udpTimeout", ct.udpTimeout);
  seconds("udpStreamTimeout", ct.udpStreamTimeout);
  ct.tcpBeLiberal = r.boolean(s, "tcpBeLiberal", "conntrack.tcpBeLiberal").value_or(false);
}

}  // namespace

KubeProxyConfig parseKubeProxyConfigText(const std::string& text, const std::string& fileName,
                                         Diagnostics& diags) {
  KubeProxyConfig out;
  out.file = fileName;
  YamlDocument parsed;
  if (auto err = parseYaml(text, parsed)) {
    diags.error({fileName, err->mark.line + 1, err->mark.column + 1},
                "malformed YAML/JSON: " + err->message);
    return out;
  }
  const YamlNode doc = parsed.root();
  FieldReader r(diags, fileName, "KubeProxyConfiguration", doc);
  if (!doc.isMap()) {
    r.error(doc, "(top level)", "expected a KubeProxyConfiguration map");
    return out;
  }
  const auto apiVersion = r.string(doc, "apiVersion", "apiVersion");
  const auto kind = r.string(doc, "kind", "kind");
  if (kind.value_or("") != "KubeProxyConfiguration" || apiVersion.value_or("") != kApiVersion) {
    r.error(doc, "apiVersion/kind",
            "expected apiVersion " + std::string(kApiVersion) +
                " and kind KubeProxyConfiguration, got " + apiVersion.value_or("(none)") + " and " +
                kind.value_or("(none)"));
    return out;
  }
  ConfigReader c(r, out);
  c.refuseUnknown(doc, "",
                  {"apiVersion",
                   "kind",
                   "featureGates",
                   "clientConnection",
                   "logging",
                   "hostnameOverride",
                   "bindAddress",
                   "healthzBindAddress",
                   "metricsBindAddress",
                   "bindAddressHardFail",
                   "enableProfiling",
                   "showHiddenMetricsForVersion",
                   "mode",
                   "iptables",
                   "ipvs",
                   "nftables",
                   "winkernel",
                   "detectLocalMode",
                   "detectLocal",
                   "clusterCIDR",
                   "nodePortAddresses",
                   "oomScoreAdj",
                   "conntrack",
                   "configSyncPeriod",
                   "portRange",
                   "windowsRunAsService"});

  out.mode = r.string(doc, "mode", "mode").value_or("");
  if (out.mode.empty()) out.mode = "iptables";  // kube-proxy's default on Linux
  if (out.mode == "ipvs") out.minSyncPeriod = milliseconds(0);  // ipvs has no default
  if (out.mode != "iptables" && out.mode != "ipvs" && out.mode != "nftables") {
    r.error(doc["mode"], "mode",
            "\"" + out.mode + "\" is not a Linux proxy mode (iptables, ipvs or nftables)");
  }
  out.hostnameOverride = r.string(doc, "hostnameOverride", "hostnameOverride").value_or("");
  readClientConnection(c, doc);
  readLogging(c, doc);
  readModeSections(c, doc);
  readDetectLocal(c, doc);
  readClusterCIDR(c, doc);
  readNodePortAddresses(c, doc);
  readConntrack(c, doc);

  // Health and metrics: IPv6 defaults when bindAddress is IPv6, as kube-proxy.
  const std::string bind = r.string(doc, "bindAddress", "bindAddress").value_or("");
  const bool v6 = bind.find(':') != std::string::npos;
  if (v6) {
    out.healthzBindAddress = "[::]:10256";
    out.metricsBindAddress = "[::1]:10249";
  }
  if (!bind.empty() && bind != "0.0.0.0" && bind != "::") {
    out.notApplied.push_back(
        "bindAddress (svcnft takes this node's primary addresses from its "
        "Node object, or nodeIPs from the node config)");
  }
  if (auto h = r.string(doc, "healthzBindAddress", "healthzBindAddress"); h && !h->empty()) {
    out.healthzBindAddress = withPort(*h, 10256);
  }
  if (auto m = r.string(doc, "metricsBindAddress", "metricsBindAddress"); m && !m->empty()) {
    out.metricsBindAddress = withPort(*m, 10249);
  }
  out.bindAddressHardFail =
      r.boolean(doc, "bindAddressHardFail", "bindAddressHardFail").value_or(false);

  c.unused(doc, "featureGates", "featureGates", {}, "svcnft has no feature gates");
  c.unused(doc, "enableProfiling", "enableProfiling", {"false"}, "no profiling endpoint");
  c.unused(doc, "showHiddenMetricsForVersion", "showHiddenMetricsForVersion", {""},
           "no hidden metrics");
  c.unused(doc, "winkernel", "winkernel", {}, "Windows only");
  c.unused(doc, "windowsRunAsService", "windowsRunAsService", {"false"}, "Windows only");
  c.unused(doc, "portRange", "portRange", {""}, "unused by kube-proxy too");
  c.unused(doc, "oomScoreAdj", "oomScoreAdj", {"-999"},
           "set OOMScoreAdjust= in the unit, or a priority class for the pod");
  c.unusedDuration(doc, "configSyncPeriod", "configSyncPeriod", 15 * 60 * kSecond,
                   "svcnft follows the API server's watch without periodic resyncs");
  if (!out.notApplied.empty()) {
    std::string list;
    for (const auto& f : out.notApplied) list += (list.empty() ? "" : "; ") + f;
    diags.warning(r.at(doc), "KubeProxyConfiguration: not used by svcnft: " + list);
  }
  return out;
}

KubeProxyConfig loadKubeProxyConfig(const std::string& path, Diagnostics& diags) {
  auto text = readRegularFile(path, diags);
  if (!text) {
    KubeProxyConfig out;
    out.file = path;
    return out;
  }
  return parseKubeProxyConfigText(*text, path, diags);
}

NodeConfig withKubeProxyConfig(NodeConfig node, const KubeProxyConfig& config,
                               const std::string& nodeConfigFile, Diagnostics& diags) {
  auto replaced = [&](const char* ours, const char* theirs) {
    diags.warning({nodeConfigFile, 0, 0}, std::string("node config: ") + ours +
                                              " is replaced by kube-proxy's " + theirs + " from " +
                                              config.file);
  };
  if (!config.hostnameOverride.empty()) {
    if (!node.nodeName.empty() && node.nodeName != config.hostnameOverride) {
      replaced("nodeName", "hostnameOverride");
    }
    node.nodeName = config.hostnameOverride;
  }
  if (!node.clusterCIDRs.empty() && node.clusterCIDRs != config.clusterCIDRs) {
    replaced("clusterCIDRs", "clusterCIDR");
  }
  node.clusterCIDRs = config.clusterCIDRs;
  if (node.masqueradeAll && !config.masqueradeAll) replaced("masqueradeAll", "masqueradeAll");
  node.masqueradeAll = config.masqueradeAll;
  if (node.localTraffic != LocalTrafficMode::kClusterCIDR &&
      (node.localTraffic != config.localTraffic || node.localInterface != config.localInterface)) {
    replaced("detectLocalMode", "detectLocalMode");
  }
  if ((!node.nodePortCIDRs.empty() || !node.nodePortsOnPrimary) &&
      (node.nodePortCIDRs != config.nodePortCIDRs ||
       node.nodePortsOnPrimary != config.nodePortsOnPrimary)) {
    replaced("nodePortAddresses", "nodePortAddresses");
  }
  node.localTraffic = config.localTraffic;
  node.localInterface = config.localInterface;
  // nodeIPs from the node config stay: they are this node's primary addresses.
  node.nodePortsOnPrimary = config.nodePortsOnPrimary;
  node.nodePortCIDRs = config.nodePortCIDRs;
  if (!config.nodePortsOnPrimary && config.nodePortCIDRs.empty()) {
    // Only loopback was asked for: svcnft serves NodePorts nowhere.
    diags.warning({config.file, 0, 0},
                  "KubeProxyConfiguration: nodePortAddresses leaves no address for NodePorts");
  }
  return node;
}

}  // namespace svcnft::manifest
