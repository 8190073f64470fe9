// The conntrack sysctls kube-proxy sets on its node (KubeProxyConfiguration's
// `conntrack`), as values: unset ones are left as the node has them.
#pragma once

#include <cstdint>
#include <optional>

namespace svcnft {

struct ConntrackSettings {
  // nf_conntrack_max = max(maxPerCore x CPUs, min); maxPerCore 0 leaves it (and min).
  int64_t maxPerCore = 0;
  int64_t min = 0;
  // Seconds; unset (or 0 in the file) leaves the sysctl as it is.
  std::optional<int64_t> tcpEstablishedTimeout, tcpCloseWaitTimeout, udpTimeout, udpStreamTimeout;
  bool tcpBeLiberal = false;  // true sets nf_conntrack_tcp_be_liberal to 1; false leaves it
  bool operator==(const ConntrackSettings&) const = default;
};

}  // namespace svcnft
