// kube-proxy's configuration file: kube-proxy's defaults per mode, the fields that
// apply, one warning naming those that do not, and errors at FILE:LINE:COL.
#include "manifest/kube_proxy_config.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "agent/conntrack_sysctls.h"
#include "compile/compiler.h"
#include "manifest/go_duration.h"
#include "test_support.h"

using Catch::Matchers::Contains;
using svcnft::LocalTrafficMode;
using svcnft::manifest::parseGoDuration;
using svcnft::manifest::parseKubeProxyConfigText;
using svcnft::testing::messages;

namespace {

constexpr const char* kHeader =
    "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n";

struct Parsed {
  svcnft::Diagnostics diags;
  svcnft::manifest::KubeProxyConfig config;
};

Parsed parse(const std::string& body) {
  Parsed p;
  p.config = parseKubeProxyConfigText(std::string(kHeader) + body, "kp.yaml", p.diags);
  return p;
}

std::string warnings(const svcnft::Diagnostics& d) {
  std::string out;
  for (const auto& x : d.all()) {
    if (x.severity == svcnft::Severity::kWarning) out += x.format() + "\n";
  }
  return out;
}

}  // namespace

TEST_CASE("Go durations parse as Kubernetes writes them", "[kube-proxy-config]") {
  CHECK(parseGoDuration("30s") == 30'000'000'000);
  CHECK(parseGoDuration("1h0m0s") == 3'600'000'000'000);
  CHECK(parseGoDuration("1m30s") == 90'000'000'000);
  CHECK(parseGoDuration("1.5h") == 5'400'000'000'000);
  CHECK(parseGoDuration("500ms") == 500'000'000);
  CHECK(parseGoDuration("0") == 0);
  CHECK(parseGoDuration("0s") == 0);
  CHECK(parseGoDuration("-2s") == -2'000'000'000);
  CHECK(parseGoDuration("1us") == 1'000);
  for (const char* bad :
       {"", "s", "30", "1x", "1.s.", "h1", "--1s", "99999999999999999999h", "3000000h", ".s"}) {
    INFO(bad);
    CHECK_FALSE(parseGoDuration(bad).has_value());
  }
}

TEST_CASE("an empty file gets kube-proxy's defaults for iptables mode", "[kube-proxy-config]") {
  auto p = parse("");
  REQUIRE_FALSE(p.diags.hasErrors());
  const auto& c = p.config;
  CHECK(c.mode == "iptables");
  CHECK(c.syncPeriod == std::chrono::seconds(30));
  CHECK(c.minSyncPeriod == std::chrono::seconds(1));
  CHECK(c.healthzBindAddress == "0.0.0.0:10256");
  CHECK(c.metricsBindAddress == "127.0.0.1:10249");
  CHECK(c.localTraffic == LocalTrafficMode::kClusterCIDR);
  // iptables mode serves NodePorts on every address...
  CHECK_FALSE(c.nodePortsOnPrimary);
  CHECK(c.nodePortCIDRs.size() == 2);
  // ...and on 127.0.0.1, which svcnft never does: said in the one warning.
  CHECK_THAT(warnings(p.diags), Contains("iptables.localhostNodePorts"));
  CHECK(c.conntrack.maxPerCore == 32768);
  CHECK(c.conntrack.min == 131072);
  CHECK(c.conntrack.tcpEstablishedTimeout == 86400);
  CHECK(c.conntrack.tcpCloseWaitTimeout == 3600);
  CHECK_FALSE(c.conntrack.udpTimeout.has_value());
}

TEST_CASE("nftables mode: its own section and the primary addresses", "[kube-proxy-config]") {
  auto p = parse(R"(mode: nftables
nftables: {masqueradeAll: true, syncPeriod: 1m, minSyncPeriod: 250ms}
iptables: {masqueradeAll: false, minSyncPeriod: 0s, syncPeriod: 30s}
clusterCIDR: 198.18.0.0/16,2001:db8:1::/48
healthzBindAddress: 198.18.0.1
metricsBindAddress: "[::1]:9999"
)");
  REQUIRE_FALSE(p.diags.hasErrors());
  const auto& c = p.config;
  CHECK(c.masqueradeAll);
  CHECK(c.syncPeriod == std::chrono::minutes(1));
  CHECK(c.minSyncPeriod == std::chrono::milliseconds(250));
  CHECK(c.nodePortsOnPrimary);
  CHECK(c.nodePortCIDRs.empty());
  REQUIRE(c.clusterCIDRs.size() == 2);
  CHECK(c.clusterCIDRs[1].str() == "2001:db8:1::/48");
  CHECK(c.healthzBindAddress == "198.18.0.1:10256");  // kube-proxy adds its port
  CHECK(c.metricsBindAddress == "[::1]:9999");
  // A file of defaults (as kubeadm writes one) warns of nothing.
  CHECK(warnings(p.diags).empty());
}

TEST_CASE("fields svcnft does not use are named in one warning", "[kube-proxy-config]") {
  auto p = parse(R"(mode: nftables
featureGates: {NFTablesProxyMode: true}
ipvs: {scheduler: rr, strictARP: false}
iptables: {masqueradeAll: true}
nftables: {masqueradeBit: 12}
oomScoreAdj: -500
configSyncPeriod: 15m0s
winkernel: {enableDSR: false, networkName: ""}
clientConnection: {qps: 50, kubeconfig: /etc/kp.conf}
nodePortAddresses: [primary, localhost]
)");
  REQUIRE_FALSE(p.diags.hasErrors());
  const std::string w = warnings(p.diags);
  REQUIRE(p.diags.all().size() == 1);
  for (const char* named :
       {"featureGates", "ipvs.scheduler", "iptables.masqueradeAll", "nftables.masqueradeBit",
        "oomScoreAdj", "clientConnection.qps", "nodePortAddresses[1] localhost"}) {
    INFO(named);
    CHECK_THAT(w, Contains(named));
  }
  // At kube-proxy's default, or all zero: not named.
  for (const char* quiet : {"configSyncPeriod", "winkernel", "strictARP", "kubeconfig"}) {
    INFO(quiet);
    CHECK_THAT(w, !Contains(quiet));
  }
  CHECK(p.config.kubeconfig == "/etc/kp.conf");
  CHECK_FALSE(p.config.masqueradeAll);  // iptables' masqueradeAll is not nftables'
}

TEST_CASE("detectLocalMode and its interface", "[kube-proxy-config]") {
  auto p =
      parse("detectLocalMode: InterfaceNamePrefix\ndetectLocal: {interfaceNamePrefix: veth}\n");
  REQUIRE_FALSE(p.diags.hasErrors());
  CHECK(p.config.localTraffic == LocalTrafficMode::kInterfaceNamePrefix);
  CHECK(p.config.localInterface == "veth");

  auto bridge = parse("detectLocalMode: BridgeInterface\ndetectLocal: {bridgeInterface: cbr0}\n");
  CHECK(bridge.config.localTraffic == LocalTrafficMode::kBridgeInterface);

  auto missing = parse("detectLocalMode: BridgeInterface\n");
  CHECK_THAT(messages(missing.diags), Contains("detectLocal.bridgeInterface"));
  auto wild =
      parse("detectLocalMode: InterfaceNamePrefix\ndetectLocal: {interfaceNamePrefix: \"v*\"}\n");
  CHECK_THAT(messages(wild.diags), Contains("kp.yaml:4:"));
  CHECK_THAT(messages(wild.diags), Contains("is not an interface name"));
  auto unknown = parse("detectLocalMode: Pods\n");
  CHECK_THAT(messages(unknown.diags), Contains("kp.yaml:3:18: error"));
}

TEST_CASE("bad kube-proxy files are errors naming the field", "[kube-proxy-config]") {
  svcnft::Diagnostics d;
  parseKubeProxyConfigText("apiVersion: v1\nkind: ConfigMap\n", "kp.yaml", d);
  CHECK_THAT(messages(d), Contains("expected apiVersion kubeproxy.config.k8s.io/v1alpha1"));

  auto unknown = parse("clusterCidr: 10.0.0.0/8\n");
  CHECK_THAT(messages(unknown.diags), Contains("kp.yaml:3:14: error"));
  CHECK_THAT(messages(unknown.diags), Contains("clusterCidr: unknown field"));
  auto nested = parse("conntrack: {maxPerCPU: 1}\n");
  CHECK_THAT(messages(nested.diags), Contains("conntrack.maxPerCPU: unknown field"));
  auto cidr = parse("clusterCIDR: 10.0.0.0/8,10.1.0.0/16\n");
  CHECK_THAT(messages(cidr.diags), Contains("at most one CIDR per IP family"));
  auto notCidr = parse("clusterCIDR: pods\n");
  CHECK_THAT(messages(notCidr.diags), Contains("\"pods\" is not a CIDR"));
  auto duration = parse("conntrack: {udpTimeout: 30}\n");
  CHECK_THAT(messages(duration.diags), Contains("conntrack.udpTimeout"));
  auto period = parse("iptables: {syncPeriod: -1s}\n");
  CHECK_THAT(messages(period.diags), Contains("iptables.syncPeriod: \"-1s\" is not a duration"));
  auto mode = parse("mode: kernelspace\n");
  CHECK_THAT(messages(mode.diags), Contains("not a Linux proxy mode"));
  auto range = parse("conntrack: {maxPerCore: -1}\n");
  CHECK_THAT(messages(range.diags), Contains("out of range"));
  auto nodePorts = parse("nodePortAddresses: [eth0]\n");
  CHECK_THAT(messages(nodePorts.diags), Contains("\"eth0\" is not a CIDR or one of the keywords"));
}

TEST_CASE("conntrack settings as kube-proxy reads them", "[kube-proxy-config][conntrack]") {
  auto p = parse(R"(conntrack:
  maxPerCore: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 2h
  tcpBeLiberal: true
  udpTimeout: 30s
  udpStreamTimeout: 2m
)");
  REQUIRE_FALSE(p.diags.hasErrors());
  const auto& ct = p.config.conntrack;
  CHECK(ct.maxPerCore == 0);                          // leave nf_conntrack_max as it is
  CHECK_FALSE(ct.tcpEstablishedTimeout.has_value());  // 0: leave it
  CHECK(ct.tcpCloseWaitTimeout == 7200);
  CHECK(ct.udpTimeout == 30);
  CHECK(ct.udpStreamTimeout == 120);
  CHECK(ct.tcpBeLiberal);
  const auto writes = svcnft::agent::conntrackSysctls(ct, 4);
  REQUIRE(writes.size() == 4);
  CHECK(writes[0].path == "proc/sys/net/netfilter/nf_conntrack_tcp_timeout_close_wait");
  CHECK(writes[1].path == "proc/sys/net/netfilter/nf_conntrack_tcp_be_liberal");

  // nf_conntrack_max = max(maxPerCore x CPUs, min).
  svcnft::ConntrackSettings max;
  max.maxPerCore = 32768;
  max.min = 131072;
  CHECK(svcnft::agent::conntrackSysctls(max, 2).at(0).value == 131072);
  CHECK(svcnft::agent::conntrackSysctls(max, 8).at(0).value == 262144);
}

TEST_CASE("conntrack sysctls: only what differs is written, failures are errors",
          "[kube-proxy-config][conntrack]") {
  namespace fs = std::filesystem;
  const fs::path root = fs::temp_directory_path() / ("svcnft-sysctl-" + std::to_string(getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "proc/sys/net/netfilter");
  fs::create_directories(root / "sys/module/nf_conntrack/parameters");
  auto put = [&](const std::string& rel, const std::string& v) {
    std::ofstream(root / rel) << v << "\n";
  };
  auto get = [&](const std::string& rel) {
    std::ifstream in(root / rel);
    std::string v;
    in >> v;
    return v;
  };
  const std::string nf = "proc/sys/net/netfilter/";
  put(nf + "nf_conntrack_max", "262144");
  put(nf + "nf_conntrack_tcp_timeout_established", "86400");
  put(nf + "nf_conntrack_udp_timeout", "30");
  put("sys/module/nf_conntrack/parameters/hashsize", "16384");
  svcnft::ConntrackSettings s;
  s.maxPerCore = 32768;
  s.min = 131072;
  s.tcpEstablishedTimeout = 86400;  // already so: not written
  s.udpTimeout = 60;
  std::vector<std::string> log;
  auto r = svcnft::agent::applyConntrackSettings(s, 2, root.string(),
                                                 [&](const std::string& l) { log.push_back(l); });
  REQUIRE(r.ok());
  CHECK(get(nf + "nf_conntrack_max") == "131072");
  CHECK(get(nf + "nf_conntrack_udp_timeout") == "60");
  CHECK(get("sys/module/nf_conntrack/parameters/hashsize") == "32768");  // max / 4
  REQUIRE(log.size() == 3);
  CHECK_THAT(log[0], Contains("set net.netfilter.nf_conntrack_max to 131072 (was 262144)"));
  CHECK_THAT(log[1],
             Contains("nf_conntrack_udp_timeout to 60 (was 30), from conntrack.udpTimeout"));

  // A sysctl that cannot be written stops the start, naming it and the field.
  fs::remove(root / (nf + "nf_conntrack_udp_timeout"));
  fs::create_directory(root / (nf + "nf_conntrack_udp_timeout"));
  auto failed = svcnft::agent::applyConntrackSettings(s, 2, root.string(), [](auto&&) {});
  REQUIRE_FALSE(failed.ok());
  CHECK_THAT(failed.error().message,
             Contains("cannot set net.netfilter.nf_conntrack_udp_timeout to 60 "
                      "(conntrack.udpTimeout)"));
  fs::remove_all(root);
}

TEST_CASE("the kube-proxy file laid over the node config", "[kube-proxy-config]") {
  auto p = parse(R"(mode: nftables
hostnameOverride: node-b
clusterCIDR: 198.18.0.0/16
detectLocalMode: NodeCIDR
nodePortAddresses: [198.18.0.0/24]
nftables: {masqueradeAll: true}
)");
  REQUIRE_FALSE(p.diags.hasErrors());
  svcnft::NodeConfig node;
  node.nodeName = "node-a";
  node.table = "proxy";
  node.podCIDRs = {*svcnft::Cidr::parse("198.18.7.0/24")};
  svcnft::Diagnostics d;
  const auto merged = svcnft::manifest::withKubeProxyConfig(node, p.config, "node.yaml", d);
  CHECK(merged.nodeName == "node-b");
  CHECK(merged.table == "proxy");  // kube-proxy has no such field: ours stays
  CHECK(merged.masqueradeAll);
  CHECK_FALSE(merged.nodePortsOnPrimary);
  CHECK_THAT(messages(d), Contains("nodeName is replaced by kube-proxy's hostnameOverride"));

  // NodeCIDR: the node's podCIDRs tell local traffic, not the cluster's range.
  svcnft::Inputs in;
  in.node = merged;
  svcnft::Diagnostics cd;
  const auto rs = svcnft::compileRuleset(in, cd);
  CHECK(svcnft::testing::elements(rs, "cluster-cidrs-v4") ==
        std::vector<std::string>{"198.18.7.0/24"});
  CHECK(svcnft::testing::elements(rs, "nodeport-cidrs-v4") ==
        std::vector<std::string>{"198.18.0.0/24"});
}

TEST_CASE("the node config takes nodePortAddresses and detectLocalMode", "[loader]") {
  svcnft::Diagnostics d;
  auto cfg = svcnft::manifest::parseNodeConfigText(
      "nodePortAddresses: [primary, 198.18.0.0/24]\ndetectLocalMode: BridgeInterface\n"
      "localInterface: cbr0\n",
      "node.yaml", d);
  REQUIRE_FALSE(d.hasErrors());
  CHECK(cfg.nodePortsOnPrimary);
  CHECK(cfg.localTraffic == LocalTrafficMode::kBridgeInterface);
  CHECK(cfg.localInterface == "cbr0");

  svcnft::Diagnostics bad;
  svcnft::manifest::parseNodeConfigText(
      "nodePortAddresses: [127.0.0.0/8]\ndetectLocalMode: InterfaceNamePrefix\n", "node.yaml", bad);
  CHECK_THAT(messages(bad), Contains("never served on loopback"));
  CHECK_THAT(messages(bad), Contains("localInterface: \"\" is not an interface name"));
}

TEST_CASE("kubeadm's kube-proxy configuration loads as kube-proxy reads it",
          "[kube-proxy-config]") {
  // What `kubeadm config print init-defaults --component-configs KubeProxyConfiguration`
  // writes (v1.32): every field, unset ones as zero or null.
  svcnft::Diagnostics d;
  const auto c = svcnft::manifest::loadKubeProxyConfig(
      std::string(SVCNFT_SOURCE_DIR) + "/test/data/kube-proxy-kubeadm.yaml", d);
  REQUIRE_FALSE(d.hasErrors());
  CHECK(c.mode == "iptables");
  CHECK(c.kubeconfig == "/var/lib/kube-proxy/kubeconfig.conf");
  // Zero is unset: kube-proxy's defaults apply.
  CHECK(c.syncPeriod == std::chrono::seconds(30));
  CHECK(c.minSyncPeriod == std::chrono::seconds(1));
  CHECK(c.healthzBindAddress == "0.0.0.0:10256");
  CHECK(c.metricsBindAddress == "127.0.0.1:10249");
  CHECK(c.conntrack.maxPerCore == 32768);
  CHECK(c.conntrack.tcpEstablishedTimeout == 86400);
  CHECK(c.conntrack.tcpCloseWaitTimeout == 3600);
  CHECK_FALSE(c.conntrack.udpTimeout.has_value());
  CHECK(c.nodePortCIDRs.size() == 2);  // iptables mode: all
  // The one field kube-proxy would honour and svcnft does not.
  REQUIRE(c.notApplied.size() == 1);
  CHECK_THAT(c.notApplied[0], Contains("iptables.localhostNodePorts"));
}
