#include "compile/skeleton.h"

#include <linux/in.h>

#include <algorithm>

#include "compile/rule_builder.h"

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

using B = RuleBuilder;
using Dir = RuleBuilder::Dir;
using Fields = std::vector<RuleBuilder::Field>;
using ir::Field;
using ir::FieldSource;
using ir::FieldType;

FieldType addrType(IpFamily f) {
  return f == IpFamily::kV4 ? FieldType::kIpv4Addr : FieldType::kIpv6Addr;
}

// The fields that name a front: address . protocol . port, or protocol . port for
// NodePorts (whose address is any node address).
Fields frontFields(FrontKind kind, IpFamily f, Dir dir = Dir::kDestination) {
  Fields out;
  if (kind == FrontKind::kAddress) out.push_back(B::address(f, dir));
  out.push_back(B::l4proto());
  out.push_back(B::port(dir));
  return out;
}

std::vector<Field> frontKeyType(FrontKind kind, IpFamily f) {
  std::vector<Field> out;
  if (kind == FrontKind::kAddress) out.push_back({addrType(f)});
  out.push_back({FieldType::kInetProto});
  out.push_back({FieldType::kInetService});
  return out;
}

// "Addressed to this node": with nodePortCIDRs (or not on the primary addresses),
// a local address within nodeport-cidrs (the CIDRs, and the primary nodeIPs if
// asked for); else the explicit nodeIPs; else any local address. Never loopback (we never set
// route_localnet: CVE-2020-8558).
B& nodeAddress(B& b, const NodeConfig& node, IpFamily f, Dir dir) {
  if (!node.nodePortCIDRs.empty() || !node.nodePortsOnPrimary) {
    return b.nfproto(f).fibLocal(dir).notLoopback(f, dir).inSet(
        {B::address(f, dir)}, setName(SetKind::kNodePortCidrs, f));
  }
  if (!node.nodeIPs.empty())
    return b.inSet({B::address(f, dir)}, setName(SetKind::kNodePortIps, f));
  return b.nfproto(f).fibLocal(dir).notLoopback(f, dir);
}

// Traffic from this node's pods (kube-proxy's detectLocalMode), or from elsewhere
// (`outside`). By source address in cluster-cidrs (which holds clusterCIDRs, or the
// node's podCIDRs), or by the interface it came in on. False when nothing is known
// that would tell (no CIDRs yet): then no rule is written.
bool matchLocalTraffic(B& b, const NodeConfig& node, IpFamily f, bool outside) {
  switch (node.localTraffic) {
    case LocalTrafficMode::kBridgeInterface:
    case LocalTrafficMode::kInterfaceNamePrefix:
      b.iifname(node.localInterface, node.localTraffic == LocalTrafficMode::kInterfaceNamePrefix,
                outside);
      return true;
    case LocalTrafficMode::kClusterCIDR:
    case LocalTrafficMode::kNodeCIDR:
      break;
  }
  const auto& cidrs =
      node.localTraffic == LocalTrafficMode::kNodeCIDR ? node.podCIDRs : node.clusterCIDRs;
  if (cidrs.empty()) return false;
  b.inSet({B::address(f, Dir::kSource)}, setName(SetKind::kClusterCidrs, f), outside);
  return true;
}

ir::Set set(std::string name, std::vector<Field> key, std::vector<Field> data = {},
            bool verdictMap = false) {
  ir::Set s;
  s.name = std::move(name);
  s.key = std::move(key);
  s.data = std::move(data);
  s.verdictMap = verdictMap;
  return s;
}

void addSets(ir::Ruleset& rs, IpFamily f) {
  const Field addr{addrType(f)};
  auto& s = rs.sets;
  for (SetKind k : {SetKind::kClusterCidrs, SetKind::kServiceCidrs}) {
    s.push_back(set(setName(k, f), {addr}));
    s.back().interval = true;
    s.back().autoMerge = true;
  }
  s.push_back(set(setName(SetKind::kNodePortIps, f), {addr}));
  s.push_back(set(setName(SetKind::kNodePortCidrs, f), {addr}));
  s.back().interval = true;
  s.back().autoMerge = true;
  s.push_back(set(setName(SetKind::kClusterIps, f), {addr}));
  // Maps keyed by a front come in pairs: by address, and by NodePort.
  auto frontMaps = [&](SetKind byAddress, std::vector<Field> data, bool verdict) {
    for (FrontKind front : {FrontKind::kAddress, FrontKind::kNodePort}) {
      s.push_back(
          set(setName(forFront(byAddress, front), f), frontKeyType(front, f), data, verdict));
    }
  };
  frontMaps(SetKind::kServiceIps, {}, true);
  frontMaps(SetKind::kLb, {}, true);
  frontMaps(SetKind::kLbLocal, {}, true);
  const FieldSource ip = f == IpFamily::kV4 ? FieldSource::kIpDaddr : FieldSource::kIp6Daddr;
  const std::vector<Field> endpoint{{addrType(f), ip},
                                    {FieldType::kInetService, FieldSource::kThDport}};
  s.push_back(set(setName(SetKind::kBackends, f),
                  {{addrType(f), ip},
                   {FieldType::kInetProto, FieldSource::kMetaL4proto},
                   {FieldType::kInetService, FieldSource::kThDport},
                   {FieldType::kInteger, FieldSource::kNumgen}},
                  endpoint));
  s.push_back(set(setName(SetKind::kNpBackends, f),
                  {{FieldType::kInetProto, FieldSource::kMetaL4proto},
                   {FieldType::kInetService, FieldSource::kThDport},
                   {FieldType::kInteger, FieldSource::kNumgen}},
                  endpoint));
  // Client . front → endpoint. An IPv6 client and front are 36 bytes, and nft 1.0.6
  // (Debian bookworm's) cannot load a map update whose key passes 16 bytes (its
  // linearizer gives the key one register and puts the data over the rest): the
  // pair of addresses is keyed by two 32-bit hashes of it instead, with protocol and
  // port as they are. (Declared `typeof numgen` because nft 1.0.6 crashes listing a
  // `typeof jhash`; both are 32-bit integers.)
  if (f == IpFamily::kV4) {
    std::vector<Field> key{addr};
    for (const auto& x : frontKeyType(FrontKind::kAddress, f)) key.push_back(x);
    s.push_back(set(setName(SetKind::kAffinity, f), key, {addr}));
  } else {
    const std::vector<Field> key{{FieldType::kInteger, FieldSource::kNumgen},
                                 {FieldType::kInteger, FieldSource::kNumgen},
                                 {FieldType::kInetProto, FieldSource::kMetaL4proto},
                                 {FieldType::kInetService, FieldSource::kThDport}};
    s.push_back(set(setName(SetKind::kAffinity, f), key, {{addrType(f), FieldSource::kIp6Daddr}}));
  }
  s.back().dynamic = true;
  // One entry per (client, front). The kernel caps a dynamic set at 65,535 entries
  // unless told otherwise; past that, new clients would silently get no affinity.
  s.back().size = kAffinityEntries;
  frontMaps(SetKind::kTargetPorts, {{FieldType::kInetService}}, false);
  frontMaps(SetKind::kAffinityTimeouts, {}, true);
  frontMaps(SetKind::kNoEndpoints, {}, true);
  s.push_back(set(setName(SetKind::kFirewallFronts, f), frontKeyType(FrontKind::kAddress, f)));
  std::vector<Field> allowKey = frontKeyType(FrontKind::kAddress, f);
  allowKey.push_back(addr);
  s.push_back(set(setName(SetKind::kFirewallAllow, f), allowKey));
  s.back().interval = true;
  s.push_back(set(setName(SetKind::kHairpin, f), {addr, addr}));
  // No rule reads it: the fronts a Service asked for with spec.externalIPs outside
  // externalIPAllow, each commented with the Service, so `svcnft show` and
  // `nft list` can say what was refused.
  s.push_back(set(setName(SetKind::kExternalIpsRefused, f), frontKeyType(FrontKind::kAddress, f)));
}

ir::Chain chain(std::string name, std::vector<ir::Rule> rules) {
  return ir::Chain{std::move(name), std::nullopt, std::move(rules)};
}

ir::Chain baseChain(std::string name, std::string type, std::string hook, std::string priority,
                    std::vector<ir::Rule> rules) {
  return ir::Chain{std::move(name),
                   ir::BaseChain{std::move(type), std::move(hook), std::move(priority)},
                   std::move(rules)};
}

ir::Rule jumpTo(const std::string& target) { return B().jump(target).build(); }

// Masquerading for traffic to a ClusterIP: what is not local traffic (kube-proxy's
// rule), or everything with masqueradeAll. When local traffic cannot be told (no
// clusterCIDRs) nothing is masqueraded here (hairpin still is, in `masquerading`).
std::vector<ir::Rule> clusterMasquerade(const NodeConfig& node, IpFamily f) {
  if (node.masqueradeAll) return {jumpTo("mark-for-masquerade")};
  B b;
  if (!matchLocalTraffic(b, node, f, /*outside=*/true)) return {};
  return {b.jump("mark-for-masquerade").build()};
}

// The affinity map's key for a packet whose client address is at `client`: client .
// front address . protocol . front port, or for IPv6 the pair hashed (see addSets).
Fields affinityKey(IpFamily f, Dir client) {
  const Dir front = client == Dir::kSource ? Dir::kDestination : Dir::kSource;
  Fields key;
  if (f == IpFamily::kV4) {
    key = {B::address(f, client), B::address(f, front)};
  } else {
    key = {B::clientFrontHash(f, client, kAffinitySeeds[0]),
           B::clientFrontHash(f, client, kAffinitySeeds[1])};
  }
  key.push_back(B::l4proto());
  key.push_back(B::port(front));
  return key;
}

ir::Rule affinityLookup(FrontKind kind, IpFamily f) {
  const std::string ports = setName(forFront(SetKind::kTargetPorts, kind), f);
  return B()
      .dnatAddrPortMaps(f, affinityKey(f, Dir::kSource), setName(SetKind::kAffinity, f),
                        frontFields(kind, f), ports)
      .build();
}

ir::Rule pick(FrontKind kind, IpFamily f, const std::string& map) {
  return B().vmap(frontFields(kind, f), map).build();
}

void addPolicyChains(ir::Ruleset& rs, const NodeConfig& node, IpFamily f, FrontKind kind) {
  const bool addr = kind == FrontKind::kAddress;
  const std::string lb = setName(forFront(SetKind::kLb, kind), f);
  const std::string lbLocal = setName(forFront(SetKind::kLbLocal, kind), f);
  const std::string clusterChain = name(addr ? kSvcCluster : kNpCluster, f);
  const std::string externalChain = name(addr ? kSvcExternal : kNpExternal, f);

  // Cluster traffic: ClusterIPs; and, for NodePorts, pods short-circuiting a Local policy.
  std::vector<ir::Rule> cluster = clusterMasquerade(node, f);
  cluster.push_back(affinityLookup(kind, f));
  cluster.push_back(pick(kind, f, lb));
  rs.chains.push_back(chain(clusterChain, std::move(cluster)));

  // externalTrafficPolicy Cluster: always masquerade, so replies come back through us.
  rs.chains.push_back(chain(
      externalChain, {jumpTo("mark-for-masquerade"), affinityLookup(kind, f), pick(kind, f, lb)}));

  // externalTrafficPolicy Local: the client address is kept and only local endpoints
  // serve; pods and the node itself still reach every endpoint (kube-proxy's short-circuit).
  // Never masqueraded, not even with masqueradeAll: that would hide the client address
  // the policy exists to keep (kube-proxy applies masqueradeAll to ClusterIPs only).
  std::vector<ir::Rule> local;
  if (B b; matchLocalTraffic(b, node, f, /*outside=*/false)) {
    local.push_back(b.goTo(clusterChain).build());
  }
  local.push_back(B().fibLocal(Dir::kSource).goTo(externalChain).build());
  local.push_back(affinityLookup(kind, f));
  local.push_back(pick(kind, f, lbLocal));
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

ir::Rule lbChainRule(FrontKind kind, bool localPool, IpFamily f, int buckets) {
  Fields key = frontFields(kind, f);
  key.push_back(B::numgen(static_cast<uint32_t>(buckets), localPool ? kLocalPoolOffset : 0));
  return B().dnatConcatMap(f, key, setName(forFront(SetKind::kBackends, kind), f)).build();
}

std::string affinityChainName(IpFamily f, int timeoutSeconds) {
  return setName(SetKind::kAffinity, f) + "-" + std::to_string(timeoutSeconds) + "s";
}

// Runs on the first packets of the reply, after NAT was undone: the packet then
// shows client and Service front in plain header fields, and conntrack's reply tuple
// names the endpoint. (nft 1.0.6 cannot key a lookup on `ct original proto-dst`,
// so the original direction could not record this.)
ir::Rule affinityChainRule(IpFamily f, int timeoutSeconds) {
  return B()
      .updateWithReplySource(f, affinityKey(f, Dir::kDestination), setName(SetKind::kAffinity, f),
                             static_cast<uint32_t>(timeoutSeconds))
      .build();
}

ir::Ruleset build(const NodeConfig& node) {
  ir::Ruleset rs;
  rs.table = node.table;
  for (IpFamily f : kFamilies) addSets(rs, f);

  // --- nat: pick an endpoint for a new connection ---
  rs.chains.push_back(
      baseChain("nat-prerouting", "nat", "prerouting", kDstnat, {jumpTo("services")}));
  rs.chains.push_back(baseChain("nat-output", "nat", "output", kDstnat, {jumpTo("services")}));
  std::vector<ir::Rule> services;
  for (IpFamily f : kFamilies) {
    services.push_back(pick(FrontKind::kAddress, f, setName(SetKind::kServiceIps, f)));
  }
  for (IpFamily f : kFamilies) {
    B b;
    nodeAddress(b, node, f, Dir::kDestination)
        .vmap(frontFields(FrontKind::kNodePort, f), setName(SetKind::kNodePorts, f));
    services.push_back(b.build());
  }
  rs.chains.push_back(chain("services", std::move(services)));
  for (IpFamily f : kFamilies) {
    addPolicyChains(rs, node, f, FrontKind::kAddress);
    addPolicyChains(rs, node, f, FrontKind::kNodePort);
  }
  rs.chains.push_back(chain("mark-for-masquerade", {B().markSetOr(kMasqueradeMark).build()}));

  // --- nat: masquerade what was marked, and hairpin (an endpoint reaching itself) ---
  rs.chains.push_back(
      baseChain("nat-postrouting", "nat", "postrouting", kSrcnat, {jumpTo("masquerading")}));
  std::vector<ir::Rule> masq;
  for (IpFamily f : kFamilies) {
    masq.push_back(B().ctStatusDnat()
                       .inSet({B::address(f, Dir::kSource), B::address(f, Dir::kDestination)},
                              setName(SetKind::kHairpin, f))
                       .jump("mark-for-masquerade")
                       .build());
  }
  masq.push_back(B().markBitClear(kMasqueradeMark).ret().build());
  masq.push_back(B().markSetXor(kMasqueradeMark).build());
  masq.push_back(B().masqueradeFullyRandom().build());
  rs.chains.push_back(chain("masquerading", std::move(masq)));

  // --- filter, before DNAT: loadBalancerSourceRanges, on new connections only (as
  // kube-proxy checks them): a change of ranges never cuts an established one ---
  rs.chains.push_back(baseChain("filter-prerouting", "filter", "prerouting", kBeforeDnat,
                                {B().ctStateNew().jump("firewall-check").build()}));
  rs.chains.push_back(baseChain("filter-output-firewall", "filter", "output", kBeforeDnat,
                                {B().ctStateNew().jump("firewall-check").build()}));
  std::vector<ir::Rule> firewall;
  for (IpFamily f : kFamilies) {
    Fields allow = frontFields(FrontKind::kAddress, f);
    allow.push_back(B::address(f, Dir::kSource));
    firewall.push_back(
        B().inSet(frontFields(FrontKind::kAddress, f), setName(SetKind::kFirewallFronts, f))
            .inSet(allow, setName(SetKind::kFirewallAllow, f), /*invert=*/true,
                   /*intervalConcat=*/true)
            .drop()
            .build());
  }
  rs.chains.push_back(chain("firewall-check", std::move(firewall)));

  // --- filter, after DNAT: what no endpoint took is rejected or dropped at once ---
  for (const char* hook : {"input", "forward", "output"}) {
    rs.chains.push_back(baseChain(std::string("filter-") + hook, "filter", hook, kFilter,
                                  {B().ctStateNew().jump("endpoints-check").build()}));
  }
  std::vector<ir::Rule> check{B().ctStatusDnat().ret().build()};
  for (IpFamily f : kFamilies) {
    check.push_back(pick(FrontKind::kAddress, f, setName(SetKind::kNoEndpoints, f)));
  }
  for (IpFamily f : kFamilies) {
    B b;
    nodeAddress(b, node, f, Dir::kDestination)
        .vmap(frontFields(FrontKind::kNodePort, f), setName(SetKind::kNpNoEndpoints, f));
    check.push_back(b.build());
  }
  for (IpFamily f : kFamilies) {
    const bool haveCidrs = std::any_of(node.serviceCIDRs.begin(), node.serviceCIDRs.end(),
                                       [&](const Cidr& c) { return c.family() == f; });
    if (!haveCidrs) continue;
    // A ClusterIP on a port it does not serve: reject; an unallocated address: drop.
    const Fields dst{B::address(f, Dir::kDestination)};
    check.push_back(B().inSet(dst, setName(SetKind::kClusterIps, f)).jump(kRejectChain).build());
    check.push_back(B().inSet(dst, setName(SetKind::kServiceCidrs, f)).drop().build());
  }
  rs.chains.push_back(chain("endpoints-check", std::move(check)));
  rs.chains.push_back(
      chain(kRejectChain, {B().l4protoIs(IPPROTO_TCP, "tcp").rejectTcpReset().build(),
                           B().rejectIcmpxPortUnreachable().build()}));

  // --- filter, after NAT is undone on replies: record session affinity ---
  for (auto [chainName, hook] :
       {std::pair{"affinity-postrouting", "postrouting"}, std::pair{"affinity-input", "input"}}) {
    rs.chains.push_back(
        baseChain(chainName, "filter", hook, kAfterSnat,
                  {B().ctDirectionReply().ctStatusDnat().jump("affinity-record").build()}));
  }
  std::vector<ir::Rule> record;
  for (IpFamily f : kFamilies) {
    record.push_back(B().vmap(frontFields(FrontKind::kAddress, f, Dir::kSource),
                              setName(SetKind::kAffinityTimeouts, f))
                         .build());
  }
  for (IpFamily f : kFamilies) {
    B b;
    nodeAddress(b, node, f, Dir::kSource)
        .vmap(frontFields(FrontKind::kNodePort, f, Dir::kSource),
              setName(SetKind::kNpAffinityTimeouts, f));
    record.push_back(b.build());
  }
  rs.chains.push_back(chain("affinity-record", std::move(record)));
  return rs;
}

}  // namespace svcnft::skeleton
