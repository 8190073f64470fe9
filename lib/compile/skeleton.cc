#include "compile/skeleton.h"

#include <algorithm>
#include <cstdio>

namespace svcnft::skeleton {

namespace {

constexpr IpFamily kFamilies[] = {IpFamily::kV4, IpFamily::kV6};

// Hook priorities as numbers: nft 1.0.6 accepts the names (dstnat, srcnat) only on
// some hooks, and numbers read the same everywhere.
constexpr const char* kBeforeDnat = "-110";  // dstnat - 10: sees the original destination
constexpr const char* kDstnat = "-100";      // dstnat
constexpr const char* kFilter = "-10";       // filter - 10: after DNAT, before the usual filters
constexpr const char* kSrcnat = "100";       // srcnat
constexpr const char* kAfterSnat = "110";    // srcnat + 10: replies already un-NATed

const char* addrType(IpFamily f) { return f == IpFamily::kV4 ? "ipv4_addr" : "ipv6_addr"; }
const char* ipKey(IpFamily f) { return f == IpFamily::kV4 ? "ip" : "ip6"; }
const char* nfproto(IpFamily f) { return f == IpFamily::kV4 ? "ipv4" : "ipv6"; }
const char* loopback(IpFamily f) { return f == IpFamily::kV4 ? "127.0.0.0/8" : "::1"; }

std::string hex(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

std::string frontKey(FrontKind kind, IpFamily f, const char* dir = "daddr",
                     const char* port = "dport") {
  std::string k = kind == FrontKind::kAddress ? std::string(ipKey(f)) + " " + dir + " . " : "";
  return k + "meta l4proto . th " + port;
}

// The match that says "addressed to this node": explicit nodeIPs, or any local
// address but loopback (we never set route_localnet: CVE-2020-8558).
std::string nodeAddressMatch(const NodeConfig& node, IpFamily f, const char* dir) {
  const std::string ip = ipKey(f);
  if (!node.nodeIPs.empty()) return ip + " " + dir + " @" + name("nodeport-ips", f);
  return std::string("meta nfproto ") + nfproto(f) + " fib " + dir + " type local " + ip + " " +
         dir + " != " + loopback(f);
}

ir::Set set(std::string name, std::string type, std::vector<std::string> flags = {},
            bool autoMerge = false) {
  ir::Set s;
  s.name = std::move(name);
  s.isMap = type.find(" : ") != std::string::npos;
  s.type = std::move(type);
  s.flags = std::move(flags);
  s.autoMerge = autoMerge;
  return s;
}

void addSets(ir::Ruleset& rs, IpFamily f) {
  const std::string a = addrType(f);
  const std::string ip = ipKey(f);
  const std::string front = a + " . inet_proto . inet_service";
  const std::string npFront = "inet_proto . inet_service";
  auto& s = rs.sets;
  s.push_back(set(name("cluster-cidrs", f), "type " + a, {"interval"}, true));
  s.push_back(set(name("service-cidrs", f), "type " + a, {"interval"}, true));
  s.push_back(set(name("nodeport-ips", f), "type " + a));
  s.push_back(set(name("cluster-ips", f), "type " + a));
  // Maps keyed by a front come in pairs: by address . proto . port, and by
  // proto . port for NodePorts (whose address is any node address).
  auto frontMaps = [&](const char* byAddress, const char* byNodePort, const std::string& value) {
    s.push_back(set(name(byAddress, f), "type " + front + " : " + value));
    s.push_back(set(name(byNodePort, f), "type " + npFront + " : " + value));
  };
  frontMaps("service-ips", "nodeports", "verdict");
  frontMaps("lb", "np-lb", "verdict");
  frontMaps("lb-local", "np-lb-local", "verdict");
  s.push_back(set(name("backends", f), "typeof " + ip + " daddr . meta l4proto . th dport . " +
                                           "numgen random mod 2 : " + ip + " daddr . th dport"));
  s.push_back(
      set(name("np-backends", f),
          "typeof meta l4proto . th dport . numgen random mod 2 : " + ip + " daddr . th dport"));
  s.push_back(
      set(name("affinity", f), "type " + a + " . " + front + " : " + a, {"dynamic", "timeout"}));
  frontMaps("target-ports", "np-target-ports", "inet_service");
  frontMaps("affinity-timeouts", "np-affinity-timeouts", "verdict");
  frontMaps("no-endpoints", "np-no-endpoints", "verdict");
  s.push_back(set(name("firewall-fronts", f), "type " + front));
  s.push_back(set(name("firewall-allow", f), "type " + front + " . " + a, {"interval"}));
  s.push_back(set(name("hairpin", f), "type " + a + " . " + a));
}

ir::Chain chain(std::string name, std::vector<std::string> rules) {
  return ir::Chain{std::move(name), std::nullopt, std::move(rules)};
}

ir::Chain baseChain(std::string name, std::string type, std::string hook, std::string priority,
                    std::vector<std::string> rules) {
  return ir::Chain{std::move(name),
                   ir::BaseChain{std::move(type), std::move(hook), std::move(priority)},
                   std::move(rules)};
}

// Masquerading for traffic to a ClusterIP: off-cluster sources only (kube-proxy's
// rule), or everything with masqueradeAll. Without clusterCIDRs nothing is masqueraded
// here (hairpin still is, in `masquerading`).
std::vector<std::string> clusterMasquerade(const NodeConfig& node, IpFamily f) {
  if (node.masqueradeAll) return {"jump mark-for-masquerade"};
  if (node.clusterCIDRs.empty()) return {};
  return {std::string(ipKey(f)) + " saddr != @" + name("cluster-cidrs", f) +
          " jump mark-for-masquerade"};
}

std::string affinityLookup(FrontKind kind, IpFamily f) {
  const std::string ip = ipKey(f);
  const std::string ports =
      kind == FrontKind::kAddress ? name("target-ports", f) : name("np-target-ports", f);
  return "dnat " + ip + " to " + ip + " saddr . " + ip + " daddr . meta l4proto . th dport map @" +
         name("affinity", f) + " : " + frontKey(kind, f) + " map @" + ports;
}

void addPolicyChains(ir::Ruleset& rs, const NodeConfig& node, IpFamily f, FrontKind kind) {
  const bool addr = kind == FrontKind::kAddress;
  const std::string ip = ipKey(f);
  const std::string lb = name(addr ? "lb" : "np-lb", f);
  const std::string lbLocal = name(addr ? "lb-local" : "np-lb-local", f);
  const std::string clusterChain = name(addr ? kSvcCluster : kNpCluster, f);
  const std::string externalChain = name(addr ? kSvcExternal : kNpExternal, f);
  const std::string pick = frontKey(kind, f) + " vmap @";

  // Cluster traffic: ClusterIPs; and, for NodePorts, pods short-circuiting a Local policy.
  std::vector<std::string> cluster = clusterMasquerade(node, f);
  cluster.push_back(affinityLookup(kind, f));
  cluster.push_back(pick + lb);
  rs.chains.push_back(chain(clusterChain, cluster));

  // externalTrafficPolicy Cluster: always masquerade, so replies come back through us.
  rs.chains.push_back(
      chain(externalChain, {"jump mark-for-masquerade", affinityLookup(kind, f), pick + lb}));

  // externalTrafficPolicy Local: the client address is kept and only local endpoints
  // serve; pods and the node itself still reach every endpoint (kube-proxy's short-circuit).
  std::vector<std::string> local;
  if (!node.clusterCIDRs.empty()) {
    local.push_back(ip + " saddr @" + name("cluster-cidrs", f) + " goto " + clusterChain);
  }
  local.push_back("fib saddr type local goto " + externalChain);
  if (node.masqueradeAll) local.push_back("jump mark-for-masquerade");
  local.push_back(affinityLookup(kind, f));
  local.push_back(pick + lbLocal);
  rs.chains.push_back(
      chain(name(addr ? kSvcExternalLocal : kNpExternalLocal, f), std::move(local)));
}

}  // namespace

std::string suffix(IpFamily f) { return f == IpFamily::kV4 ? "-v4" : "-v6"; }
std::string name(const char* base, IpFamily f) { return std::string(base) + suffix(f); }

std::string lbChainName(FrontKind kind, bool localPool, IpFamily f, int buckets) {
  std::string n = kind == FrontKind::kAddress ? "lb" : "np-lb";
  if (localPool) n += "-local";
  return n + suffix(f) + "-" + std::to_string(buckets);
}

std::string lbChainRule(FrontKind kind, bool localPool, IpFamily f, int buckets) {
  const std::string ip = ipKey(f);
  std::string rule =
      "dnat " + ip + " to " + frontKey(kind, f) + " . numgen random mod " + std::to_string(buckets);
  if (localPool) rule += " offset " + std::to_string(kLocalPoolOffset);
  return rule + " map @" + name(kind == FrontKind::kAddress ? "backends" : "np-backends", f);
}

std::string affinityChainName(IpFamily f, int timeoutSeconds) {
  return name("affinity", f) + "-" + std::to_string(timeoutSeconds) + "s";
}

// Runs on the first packets of the reply, after NAT was undone: the packet then
// shows client and Service front in plain header fields, and conntrack's reply tuple
// names the endpoint. (nft 1.0.6 cannot key a lookup on `ct original proto-dst`,
// so the original direction could not record this.)
std::string affinityChainRule(IpFamily f, int timeoutSeconds) {
  const std::string ip = ipKey(f);
  return "update @" + name("affinity", f) + " { " + ip + " daddr . " + ip +
         " saddr . meta l4proto . th sport timeout " + std::to_string(timeoutSeconds) +
         "s : ct reply " + ip + " saddr }";
}

ir::Ruleset build(const NodeConfig& node) {
  ir::Ruleset rs;
  rs.table = node.table;
  for (IpFamily f : kFamilies) addSets(rs, f);

  // --- nat: pick an endpoint for a new connection ---
  rs.chains.push_back(baseChain("nat-prerouting", "nat", "prerouting", kDstnat, {"jump services"}));
  rs.chains.push_back(baseChain("nat-output", "nat", "output", kDstnat, {"jump services"}));
  std::vector<std::string> services;
  for (IpFamily f : kFamilies) {
    services.push_back(frontKey(FrontKind::kAddress, f) + " vmap @" + name("service-ips", f));
  }
  for (IpFamily f : kFamilies) {
    services.push_back(nodeAddressMatch(node, f, "daddr") + " " +
                       frontKey(FrontKind::kNodePort, f) + " vmap @" + name("nodeports", f));
  }
  rs.chains.push_back(chain("services", services));
  for (IpFamily f : kFamilies) {
    addPolicyChains(rs, node, f, FrontKind::kAddress);
    addPolicyChains(rs, node, f, FrontKind::kNodePort);
  }
  rs.chains.push_back(
      chain("mark-for-masquerade", {"meta mark set meta mark | " + hex(kMasqueradeMark)}));

  // --- nat: masquerade what was marked, and hairpin (an endpoint reaching itself) ---
  rs.chains.push_back(
      baseChain("nat-postrouting", "nat", "postrouting", kSrcnat, {"jump masquerading"}));
  std::vector<std::string> masq;
  for (IpFamily f : kFamilies) {
    const std::string ip = ipKey(f);
    masq.push_back("ct status dnat " + ip + " saddr . " + ip + " daddr @" + name("hairpin", f) +
                   " jump mark-for-masquerade");
  }
  masq.push_back("meta mark & " + hex(kMasqueradeMark) + " == 0 return");
  masq.push_back("meta mark set meta mark ^ " + hex(kMasqueradeMark));
  masq.push_back("masquerade fully-random");
  rs.chains.push_back(chain("masquerading", masq));

  // --- filter, before DNAT: loadBalancerSourceRanges ---
  rs.chains.push_back(
      baseChain("filter-prerouting", "filter", "prerouting", kBeforeDnat, {"jump firewall-check"}));
  rs.chains.push_back(baseChain("filter-output-firewall", "filter", "output", kBeforeDnat,
                                {"jump firewall-check"}));
  std::vector<std::string> firewall;
  for (IpFamily f : kFamilies) {
    const std::string front = frontKey(FrontKind::kAddress, f);
    firewall.push_back(front + " @" + name("firewall-fronts", f) + " " + front + " . " + ipKey(f) +
                       " saddr != @" + name("firewall-allow", f) + " drop");
  }
  rs.chains.push_back(chain("firewall-check", firewall));

  // --- filter, after DNAT: what no endpoint took is rejected or dropped at once ---
  for (const char* hook : {"input", "forward", "output"}) {
    rs.chains.push_back(baseChain(std::string("filter-") + hook, "filter", hook, kFilter,
                                  {"ct state new jump endpoints-check"}));
  }
  std::vector<std::string> check{"ct status dnat return"};
  for (IpFamily f : kFamilies) {
    check.push_back(frontKey(FrontKind::kAddress, f) + " vmap @" + name("no-endpoints", f));
  }
  for (IpFamily f : kFamilies) {
    check.push_back(nodeAddressMatch(node, f, "daddr") + " " + frontKey(FrontKind::kNodePort, f) +
                    " vmap @" + name("np-no-endpoints", f));
  }
  for (IpFamily f : kFamilies) {
    const bool haveCidrs = std::any_of(node.serviceCIDRs.begin(), node.serviceCIDRs.end(),
                                       [&](const Cidr& c) { return c.family() == f; });
    if (!haveCidrs) continue;
    const std::string ip = ipKey(f);
    // A ClusterIP on a port it does not serve: reject; an unallocated address: drop.
    check.push_back(ip + " daddr @" + name("cluster-ips", f) + " jump " + kRejectChain);
    check.push_back(ip + " daddr @" + name("service-cidrs", f) + " drop");
  }
  rs.chains.push_back(chain("endpoints-check", check));
  rs.chains.push_back(chain(kRejectChain, {"meta l4proto tcp reject with tcp reset",
                                           "reject with icmpx port-unreachable"}));

  // --- filter, after NAT is undone on replies: record session affinity ---
  rs.chains.push_back(baseChain("affinity-postrouting", "filter", "postrouting", kAfterSnat,
                                {"ct direction reply ct status dnat jump affinity-record"}));
  rs.chains.push_back(baseChain("affinity-input", "filter", "input", kAfterSnat,
                                {"ct direction reply ct status dnat jump affinity-record"}));
  std::vector<std::string> record;
  for (IpFamily f : kFamilies) {
    record.push_back(frontKey(FrontKind::kAddress, f, "saddr", "sport") + " vmap @" +
                     name("affinity-timeouts", f));
  }
  for (IpFamily f : kFamilies) {
    record.push_back(nodeAddressMatch(node, f, "saddr") + " " +
                     frontKey(FrontKind::kNodePort, f, "saddr", "sport") + " vmap @" +
                     name("np-affinity-timeouts", f));
  }
  rs.chains.push_back(chain("affinity-record", record));
  return rs;
}

}  // namespace svcnft::skeleton
