#include "agent/conntrack_sysctls.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>

namespace svcnft::agent {

namespace {

constexpr const char* kNetfilter = "proc/sys/net/netfilter/";
constexpr const char* kHashsize = "sys/module/nf_conntrack/parameters/hashsize";

std::optional<int64_t> readNumber(const std::string& file) {
  std::ifstream in(file);
  int64_t v = 0;
  if (!(in >> v)) return std::nullopt;
  return v;
}

// errno of the failed write, or 0.
int writeNumber(const std::string& file, int64_t value) {
  errno = 0;
  std::ofstream out(file, std::ios::out | std::ios::trunc);
  if (!out) return errno ? errno : EIO;
  out << value << '\n';
  out.flush();
  if (!out) return errno ? errno : EIO;
  out.close();
  return out ? 0 : (errno ? errno : EIO);
}

// "proc/sys/net/netfilter/nf_conntrack_max" → "net.netfilter.nf_conntrack_max".
std::string sysctlName(const std::string& path) {
  std::string name = path.substr(std::strlen("proc/sys/"));
  for (char& c : name) {
    if (c == '/') c = '.';
  }
  return name;
}

}  // namespace

std::vector<SysctlWrite> conntrackSysctls(const ConntrackSettings& s, int cpus) {
  std::vector<SysctlWrite> out;
  if (s.maxPerCore > 0) {
    out.push_back(
        {std::string(kNetfilter) + "nf_conntrack_max",
         std::max(s.maxPerCore * std::max(cpus, 1), s.min),
         "conntrack.maxPerCore x " + std::to_string(cpus) + " CPUs, at least conntrack.min"});
  }
  auto add = [&](const std::optional<int64_t>& v, const char* sysctl, const char* field) {
    if (v && *v > 0) out.push_back({std::string(kNetfilter) + sysctl, *v, field});
  };
  add(s.tcpEstablishedTimeout, "nf_conntrack_tcp_timeout_established",
      "conntrack.tcpEstablishedTimeout");
  add(s.tcpCloseWaitTimeout, "nf_conntrack_tcp_timeout_close_wait",
      "conntrack.tcpCloseWaitTimeout");
  if (s.tcpBeLiberal) {
    out.push_back(
        {std::string(kNetfilter) + "nf_conntrack_tcp_be_liberal", 1, "conntrack.tcpBeLiberal"});
  }
  add(s.udpTimeout, "nf_conntrack_udp_timeout", "conntrack.udpTimeout");
  add(s.udpStreamTimeout, "nf_conntrack_udp_timeout_stream", "conntrack.udpStreamTimeout");
  return out;
}

Result<bool> applyConntrackSettings(const ConntrackSettings& settings, int cpus,
                                    const std::string& root,
                                    const std::function<void(const std::string&)>& log) {
  const std::string base = root.empty() || root.back() == '/' ? root : root + "/";
  std::optional<int64_t> max;
  for (const auto& w : conntrackSysctls(settings, cpus)) {
    const std::string file = base + w.path;
    const std::string name = sysctlName(w.path);
    if (w.path.ends_with("nf_conntrack_max")) max = w.value;
    const auto now = readNumber(file);
    if (now && *now == w.value) continue;
    if (int err = writeNumber(file, w.value); err != 0) {
      return Error{"cannot set " + name + " to " + std::to_string(w.value) + " (" + w.setting +
                   "): " + std::strerror(err) +
                   "; set it with sysctl instead, or leave the field out (0)"};
    }
    log("conntrack: set " + name + " to " + std::to_string(w.value) + " (was " +
        (now ? std::to_string(*now) : std::string("unreadable")) + "), from " + w.setting);
  }
  if (max) {
    // A hash table smaller than a quarter of the entries makes lookups slow.
    const std::string file = base + kHashsize;
    const auto hashsize = readNumber(file);
    if (hashsize && *hashsize < *max / 4) {
      if (int err = writeNumber(file, *max / 4); err != 0) {
        log("warning: conntrack: cannot grow the hash table (" + std::string(kHashsize) +
            ") from " + std::to_string(*hashsize) + " to " + std::to_string(*max / 4) + ": " +
            std::strerror(err));
      } else {
        log("conntrack: hash table size set to " + std::to_string(*max / 4) + " (was " +
            std::to_string(*hashsize) + ")");
      }
    }
  }
  return true;
}

}  // namespace svcnft::agent
