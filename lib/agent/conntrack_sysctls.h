// kube-proxy's conntrack settings applied to the node's sysctls: nf_conntrack_max
// (and the hash table's size with it), the TCP established / close-wait timeouts,
// tcp_be_liberal and the UDP timeouts. Only what differs is written, and each write
// is logged. The files live under a root that tests replace with a directory of
// their own.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/result.h"
#include "model/conntrack_settings.h"

namespace svcnft::agent {

struct SysctlWrite {
  std::string path;  // under the root: "proc/sys/net/netfilter/nf_conntrack_max"
  int64_t value = 0;
  std::string setting;  // the configuration field it comes from
};

// What the settings ask for on a node with `cpus` CPUs, in kube-proxy's order.
std::vector<SysctlWrite> conntrackSysctls(const ConntrackSettings& settings, int cpus);

// Writes each sysctl whose current value differs (root: "/" on a node). Then, as
// kube-proxy does, grows the conntrack hash table to a quarter of nf_conntrack_max
// when it is smaller; that one only warns when it fails (sysfs is read-only in
// many containers, and only the initial network namespace may write it). A failed
// sysctl write is an error naming the sysctl and the field.
Result<bool> applyConntrackSettings(const ConntrackSettings& settings, int cpus,
                                    const std::string& root,
                                    const std::function<void(const std::string&)>& log);

}  // namespace svcnft::agent
