#include "writer/show.h"

#include <arpa/inet.h>
#include <linux/netfilter/nf_tables.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <sstream>
#include <tuple>

#include "compile/skeleton.h"

namespace svcnft::writer {

namespace {

// Element bytes back to text. Keys of front maps are addr . proto . port (each
// padded to 4 bytes), or proto . port for NodePorts; backend keys add the bucket.
struct Reader {
  const std::string& b;
  std::size_t at = 0;
  std::string address(bool v6) {
    char buf[INET6_ADDRSTRLEN] = "?";
    if (at + (v6 ? 16 : 4) <= b.size())
      inet_ntop(v6 ? AF_INET6 : AF_INET, b.data() + at, buf, sizeof buf);
    at += v6 ? 16 : 4;
    return v6 ? "[" + std::string(buf) + "]" : buf;
  }
  std::string proto() {
    const uint8_t p = at < b.size() ? static_cast<uint8_t>(b[at]) : 0;
    at += 4;
    return p == 6 ? "tcp" : p == 17 ? "udp" : p == 132 ? "sctp" : std::to_string(p);
  }
  unsigned port(bool padded) {
    unsigned v = at + 1 < b.size()
                     ? (static_cast<uint8_t>(b[at]) << 8) | static_cast<uint8_t>(b[at + 1])
                     : 0;
    at += padded ? 4 : 2;
    return v;
  }
  uint32_t integer() {
    uint32_t v = 0;
    if (at + 4 <= b.size()) std::memcpy(&v, b.data() + at, 4);
    at += 4;
    return v;
  }
};

std::string frontText(const std::string& key, bool nodePort, bool v6, std::size_t* end = nullptr) {
  Reader r{key};
  std::string out;
  if (nodePort) {
    const std::string p = r.proto();
    // A NodePort answers on every node address of its family: name the family.
    out = "nodePort " + std::to_string(r.port(true)) + "/" + p + (v6 ? " ipv6" : " ipv4");
  } else {
    const std::string a = r.address(v6);
    const std::string p = r.proto();
    out = a + ":" + std::to_string(r.port(true)) + "/" + p;
  }
  if (end) *end = r.at;
  return out;
}

const std::vector<diff::ElementRecord>& records(const Installed& in, const std::string& set) {
  static const std::vector<diff::ElementRecord> kNone;
  auto it = in.elements.find(set);
  return it == in.elements.end() ? kNone : it->second;
}

std::string policyOf(const std::string& value) {
  // "verdict -4 svc-external-local-v4" → "external-local"
  const auto sp = value.rfind(' ');
  std::string chain = sp == std::string::npos ? value : value.substr(sp + 1);
  for (const char* pre : {"svc-", "np-"}) {
    if (chain.rfind(pre, 0) == 0) chain = chain.substr(std::strlen(pre));
  }
  for (const char* suf : {"-v4", "-v6"}) {
    if (chain.size() > 3 && chain.compare(chain.size() - 3, 3, suf) == 0)
      chain.resize(chain.size() - 3);
  }
  return chain;
}

}  // namespace

std::string showInstalled(const Installed& in) {
  struct Row {
    std::string service, front, policy;
    std::map<std::string, int> cluster, local;  // endpoint → buckets
  };
  std::map<std::pair<std::string, std::string>, Row> rows;  // (service, front)
  for (IpFamily f : {IpFamily::kV4, IpFamily::kV6}) {
    const bool v6 = f == IpFamily::kV6;
    for (bool np : {false, true}) {
      const skeleton::FrontKind front =
          np ? skeleton::FrontKind::kNodePort : skeleton::FrontKind::kAddress;
      auto setOf = [&](skeleton::SetKind byAddress) {
        return skeleton::setName(skeleton::forFront(byAddress, front), f);
      };
      for (const auto& r : records(in, setOf(skeleton::SetKind::kServiceIps))) {
        Row& row = rows[{r.comment, frontText(r.key, np, v6)}];
        row.service = r.comment;
        row.front = frontText(r.key, np, v6);
        row.policy = policyOf(r.value);
      }
      for (const auto& r : records(in, setOf(skeleton::SetKind::kNoEndpoints))) {
        Row& row = rows[{r.comment, frontText(r.key, np, v6)}];
        row.service = r.comment;
        row.front = frontText(r.key, np, v6);
        const bool drop = r.value.rfind("verdict 0", 0) == 0;
        if (row.policy.empty())
          row.policy = drop ? "drop" : "reject (no endpoints)";
        else if (drop)
          row.policy += ", outside clients dropped (no local endpoint)";
      }
      for (const auto& r : records(in, setOf(skeleton::SetKind::kBackends))) {
        Reader rest{r.key};
        const std::string front = frontText(r.key, np, v6, &rest.at);
        const uint32_t bucket = rest.integer();
        Reader value{r.value};
        const std::string address = value.address(v6);  // read in order: address, then port
        const std::string endpoint = address + ":" + std::to_string(value.port(true));
        Row& row = rows[{r.comment, front}];
        (bucket >= skeleton::kLocalPoolOffset ? row.local : row.cluster)[endpoint] += 1;
      }
    }
  }
  std::ostringstream out;
  out << "SERVICE\tFRONT\tPOLICY\tENDPOINTS (buckets: the weight)\n";
  for (const auto& [key, row] : rows) {
    auto list = [](const std::map<std::string, int>& m) {
      std::string s;
      for (const auto& [ep, n] : m)
        s += (s.empty() ? "" : ", ") + ep + " (" + std::to_string(n) + ")";
      return s;
    };
    out << row.service << "\t" << row.front << "\t" << row.policy << "\t" << list(row.cluster);
    if (!row.local.empty()) out << "; local: " << list(row.local);
    out << "\n";
  }
  // What Services asked for and did not get (CVE-2020-8554).
  std::vector<std::pair<std::string, std::string>> refused;
  for (IpFamily f : {IpFamily::kV4, IpFamily::kV6}) {
    for (const auto& r :
         records(in, skeleton::setName(skeleton::SetKind::kExternalIpsRefused, f))) {
      refused.emplace_back(r.comment, frontText(r.key, false, f == IpFamily::kV6));
    }
  }
  std::sort(refused.begin(), refused.end());
  if (!refused.empty()) {
    out << "\nREFUSED: spec.externalIPs outside the node config's externalIPAllow\n"
           "SERVICE\tFRONT\n";
    for (const auto& [service, front] : refused) out << service << "\t" << front << "\n";
  }
  return out.str();
}

}  // namespace svcnft::writer
