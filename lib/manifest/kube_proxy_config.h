// kube-proxy's own configuration file (KubeProxyConfiguration,
// kubeproxy.config.k8s.io/v1alpha1), so an operator keeps theirs when svcnft
// replaces kube-proxy. Every field is read with kube-proxy's defaults for the file's
// proxy mode; the fields svcnft has no use for are named (notApplied), never
// silently dropped; an unknown field is an error, as kube-proxy's strict decoding
// makes it.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/diagnostics.h"
#include "model/conntrack_settings.h"
#include "model/service.h"

namespace svcnft::manifest {

struct KubeProxyConfig {
  std::string file;
  std::string mode;  // "iptables" (kube-proxy's default), "ipvs" or "nftables"
  std::string hostnameOverride;
  std::string kubeconfig;  // clientConnection.kubeconfig
  std::vector<Cidr> clusterCIDRs;
  bool masqueradeAll = false;  // of the mode's section
  LocalTrafficMode localTraffic = LocalTrafficMode::kClusterCIDR;
  std::string localInterface;
  // nodePortAddresses: "primary", CIDRs ("all" is 0.0.0.0/0 and ::/0). Unset, the
  // mode's default: primary for nftables, all for the others.
  bool nodePortsOnPrimary = false;
  std::vector<Cidr> nodePortCIDRs;
  std::string healthzBindAddress = "0.0.0.0:10256";
  std::string metricsBindAddress = "127.0.0.1:10249";
  bool bindAddressHardFail = false;
  std::chrono::milliseconds syncPeriod{30'000};
  std::chrono::milliseconds minSyncPeriod{1'000};
  ConntrackSettings conntrack;
  // Fields set (to other than kube-proxy's default) that svcnft does not use, each
  // with why: for one warning.
  std::vector<std::string> notApplied;
};

KubeProxyConfig parseKubeProxyConfigText(const std::string& text, const std::string& fileName,
                                         Diagnostics& diags);
KubeProxyConfig loadKubeProxyConfig(const std::string& path, Diagnostics& diags);

// The node config with what the kube-proxy file decides laid over it. A node
// config field the file overrides with another value gets a warning naming both.
NodeConfig withKubeProxyConfig(NodeConfig node, const KubeProxyConfig& config,
                               const std::string& nodeConfigFile, Diagnostics& diags);

}  // namespace svcnft::manifest
