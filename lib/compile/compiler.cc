#include "compile/compiler.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <tuple>

#include "compile/buckets.h"
#include "compile/endpoint_pools.h"
#include "compile/skeleton.h"

namespace svcnft {

namespace {

using skeleton::forFront;
using skeleton::FrontKind;
using skeleton::name;
using skeleton::SetKind;
using skeleton::setName;

// One address (or node port) a Service port answers on, in one family.
struct Front {
  FrontKind kind = FrontKind::kAddress;
  IpFamily family = IpFamily::kV4;
  IpAddress address;  // kAddress only
  Protocol protocol = Protocol::kTcp;
  uint16_t port = 0;
  bool clusterIP = false;       // else external: externalIP, LB IP or NodePort
  bool loadBalancerIP = false;  // subject to loadBalancerSourceRanges

  ir::KeyFields key() const {
    if (kind == FrontKind::kNodePort) return {protocol, ir::Port{port}};
    return {address, protocol, ir::Port{port}};
  }
  // The same as a vector, to order fronts in maps.
  std::vector<ir::Datum> keyVector() const {
    const ir::KeyFields k = key();
    return {k.begin(), k.end()};
  }
  std::string describe() const {
    const std::string p = std::to_string(port) + "/" + protocolK8sName(protocol);
    if (kind == FrontKind::kNodePort) return "nodePort " + p;
    return (family == IpFamily::kV6 ? "[" + address.str() + "]" : address.str()) + ":" + p;
  }
};

// "namespace/name:port", shortened (never rejected) past nft's 128-byte limit.
std::string elementComment(const Service& svc, const ServicePort& port) {
  std::string c = svc.key() + ":" + (port.name.empty() ? std::to_string(port.port) : port.name);
  if (c.size() <= ir::kMaxCommentBytes) return c;
  char tag[16];
  std::snprintf(tag, sizeof tag, "~%08zx", std::hash<std::string>{}(c)&0xffffffffu);
  // Cut on a character boundary: never half of a UTF-8 sequence.
  std::size_t cut = ir::kMaxCommentBytes - 9;
  while (cut > 0 && (static_cast<unsigned char>(c[cut]) & 0xC0) == 0x80) --cut;
  return c.substr(0, cut) + tag;
}

class Compiler {
 public:
  Compiler(const NodeConfig& node, Diagnostics& diags, ir::Ruleset base)
      : node_(node), diags_(diags), rs_(std::move(base)) {}

  ir::Ruleset run(const Inputs& in, ElementOrder order) {
    addNodeElements();
    std::map<std::string, std::vector<const EndpointSlice*>> slicesByService;
    for (const auto& s : in.slices) slicesByService[s.serviceKey()].push_back(&s);
    // In key order, each key made once (made in the comparison, they were a tenth
    // of a compile at 10,000 Services).
    std::vector<std::pair<std::string, const Service*>> services;
    services.reserve(in.services.size());
    for (const auto& s : in.services) services.emplace_back(s.key(), &s);
    std::sort(services.begin(), services.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    reserveBackends(services, slicesByService);
    for (const auto& [key, svc] : services) compileService(*svc, slicesByService[key]);
    return finish(order);
  }

  // Room for a bucket per endpoint and port in the backends sets, up front: grown
  // element by element, the sets were moved a dozen times (an eighth of a compile).
  void reserveBackends(
      const std::vector<std::pair<std::string, const Service*>>& services,
      const std::map<std::string, std::vector<const EndpointSlice*>>& slicesByService) {
    std::size_t v4 = 0, v6 = 0;
    for (const auto& [key, svc] : services) {
      auto it = slicesByService.find(key);
      if (it == slicesByService.end()) continue;
      for (const auto* slice : it->second) {
        (slice->addressType == IpFamily::kV4 ? v4 : v6) +=
            slice->endpoints.size() * svc->ports.size();
      }
    }
    set(setName(SetKind::kBackends, IpFamily::kV4)).elements.reserve(v4);
    set(setName(SetKind::kBackends, IpFamily::kV6)).elements.reserve(v6);
  }

  ir::Ruleset runOne(const Service& svc, const std::vector<const EndpointSlice*>& slices) {
    compileService(svc, slices);
    return finish();
  }

 private:
  ir::Ruleset finish(ElementOrder order = ElementOrder::kByKey) {
    addDynamicChains();
    if (order == ElementOrder::kByKey) {
      for (auto& set : rs_.sets) sortByKey(set.elements);
    }
    return std::move(rs_);
  }

  // Elements in key order (the dump's order), equal keys as added. Compares keys as
  // order-preserving bytes and moves each element once: comparing variants and
  // moving elements inside the sort were a quarter of a 50,000-Service compile. The
  // keys of a set are one layout, so their bytes go into one buffer at a fixed
  // stride (a string per key was a third of a compile at 10,000 x 100), and the
  // elements are permuted in place rather than into a second vector.
  static void sortByKey(std::vector<ir::Element>& elements) {
    const std::size_t n = elements.size();
    if (n < 2) return;
    std::string first;
    for (const auto& d : elements[0].key) appendSortable(first, d);
    const std::size_t stride = first.size();
    std::string keys;
    keys.reserve(n * stride);
    for (const auto& e : elements) {
      const std::size_t at = keys.size();
      for (const auto& d : e.key) appendSortable(keys, d);
      if (keys.size() - at != stride) return sortByKeyMixed(elements);
    }
    std::vector<uint32_t> order(n);
    if (stride <= 24) {
      sortPacked(keys, stride, order);
    } else {
      for (std::size_t i = 0; i < n; ++i) order[i] = static_cast<uint32_t>(i);
      const char* k = keys.data();
      std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
        const int c = std::memcmp(k + a * stride, k + b * stride, stride);
        return c < 0 || (c == 0 && a < b);
      });
    }
    permute(elements, order);
  }

  // Keys of at most 24 bytes (all but the IPv6 pairs) as three big-endian words
  // beside their index: integer compares on items sorted in place, where a memcmp
  // call per comparison through an index was a seventh of a compile.
  static void sortPacked(const std::string& keys, std::size_t stride,
                         std::vector<uint32_t>& order) {
    struct Item {
      uint64_t w[3];
      uint32_t index;
    };
    const std::size_t n = order.size();
    std::vector<Item> items(n);
    for (std::size_t i = 0; i < n; ++i) {
      unsigned char b[24] = {};
      std::memcpy(b, keys.data() + i * stride, stride);
      for (int w = 0; w < 3; ++w) {
        uint64_t v = 0;
        for (int j = 0; j < 8; ++j) v = (v << 8) | b[w * 8 + j];
        items[i].w[w] = v;
      }
      items[i].index = static_cast<uint32_t>(i);
    }
    std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
      if (a.w[0] != b.w[0]) return a.w[0] < b.w[0];
      if (a.w[1] != b.w[1]) return a.w[1] < b.w[1];
      if (a.w[2] != b.w[2]) return a.w[2] < b.w[2];
      return a.index < b.index;
    });
    for (std::size_t i = 0; i < n; ++i) order[i] = items[i].index;
  }

  // Keys of different lengths in one set (not in the skeleton today): one string each.
  static void sortByKeyMixed(std::vector<ir::Element>& elements) {
    std::vector<std::string> keys(elements.size());
    for (std::size_t i = 0; i < elements.size(); ++i) {
      for (const auto& d : elements[i].key) appendSortable(keys[i], d);
    }
    std::vector<uint32_t> order(elements.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<uint32_t>(i);
    std::stable_sort(order.begin(), order.end(),
                     [&](uint32_t a, uint32_t b) { return keys[a] < keys[b]; });
    permute(elements, order);
  }

  // elements[i] becomes what was at order[i], following each cycle once.
  static void permute(std::vector<ir::Element>& elements, std::vector<uint32_t>& order) {
    for (std::size_t i = 0; i < order.size(); ++i) {
      if (order[i] == i) continue;
      ir::Element held = std::move(elements[i]);
      std::size_t at = i;
      while (order[at] != i) {
        const std::size_t from = order[at];
        elements[at] = std::move(elements[from]);
        order[at] = static_cast<uint32_t>(at);
        at = from;
      }
      elements[at] = std::move(held);
      order[at] = static_cast<uint32_t>(at);
    }
  }

  // A field as bytes that compare like the field: its kind, then its value, big
  // endian, fixed length per kind (so a key's bytes compare like the key).
  static void appendSortable(std::string& out, const ir::Datum& d) {
    out.push_back(static_cast<char>(d.index()));
    auto big = [&](uint32_t v, int bytes) {
      for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    };
    auto address = [&](const IpAddress& a) {
      out.push_back(static_cast<char>(a.family()));
      // The family's own length: the family byte before it already orders IPv4
      // first, and 16 bytes for an IPv4 address pushed keys past the packed sort.
      out.append(reinterpret_cast<const char*>(a.bytes().data()),
                 a.family() == IpFamily::kV4 ? 4 : 16);
    };
    if (const auto* a = std::get_if<IpAddress>(&d)) {
      address(*a);
    } else if (const auto* c = std::get_if<Cidr>(&d)) {
      address(c->base());
      big(static_cast<uint32_t>(c->prefixLength()), 1);
    } else if (const auto* p = std::get_if<Protocol>(&d)) {
      big(static_cast<uint32_t>(*p), 1);
    } else if (const auto* port = std::get_if<ir::Port>(&d)) {
      big(port->value, 2);
    } else {
      big(std::get<ir::Integer>(d).value, 4);
    }
  }

  void add(const std::string& setName, ir::Element e) {
    set(setName).elements.push_back(std::move(e));
  }

  ir::Set& set(const std::string& setName) {
    ir::Set* s = rs_.findSet(setName);
    return *s;  // every name used here comes from the skeleton
  }

  void addNodeElements() {
    // cluster-cidrs holds what tells local traffic by source address.
    if (node_.localTraffic == LocalTrafficMode::kClusterCIDR) {
      for (const auto& c : node_.clusterCIDRs)
        add(setName(SetKind::kClusterCidrs, c.family()), {{c}, {}, {}, ""});
    } else if (node_.localTraffic == LocalTrafficMode::kNodeCIDR) {
      for (const auto& c : node_.podCIDRs)
        add(setName(SetKind::kClusterCidrs, c.family()), {{c}, {}, {}, ""});
    }
    if (!node_.nodePortCIDRs.empty() || !node_.nodePortsOnPrimary) {
      // The nodeIPs ("primary") as single-address ranges beside the CIDRs.
      std::vector<Cidr> ranges = node_.nodePortCIDRs;
      if (node_.nodePortsOnPrimary) {
        for (const auto& a : node_.nodeIPs) ranges.push_back(Cidr::host(a));
      }
      for (const auto& c : ranges)
        add(setName(SetKind::kNodePortCidrs, c.family()), {{c}, {}, {}, ""});
    }
    for (const auto& c : node_.serviceCIDRs)
      add(setName(SetKind::kServiceCidrs, c.family()), {{c}, {}, {}, ""});
    std::set<IpAddress> seen;
    for (const auto& a : node_.nodeIPs) {
      if (seen.insert(a).second) add(setName(SetKind::kNodePortIps, a.family()), {{a}, {}, {}, ""});
    }
  }

  // The cluster-ips set is read only where serviceCIDRs of the family are known
  // (semantics 6: a ClusterIP's unserved port is rejected); without them it would
  // only cost an element per Service.
  bool readsClusterIPs(IpFamily f) const {
    return std::any_of(node_.serviceCIDRs.begin(), node_.serviceCIDRs.end(),
                       [&](const Cidr& c) { return c.family() == f; });
  }

  std::vector<IpFamily> familiesOf(const Service& svc,
                                   const std::vector<const EndpointSlice*>& slices) {
    std::set<IpFamily> fams(svc.ipFamilies.begin(), svc.ipFamilies.end());
    for (const auto& a : svc.clusterIPs) fams.insert(a.family());
    if (fams.empty()) {
      for (const auto* s : slices) fams.insert(s->addressType);
    }
    if (fams.empty()) fams.insert(IpFamily::kV4);
    return {fams.begin(), fams.end()};
  }

  // The port an endpoint of `slice` serves `sp` on, or 0. kube-proxy matches slice
  // ports by the Service port's name; hand-written slices may name the targetPort.
  uint16_t resolvePort(const ServicePort& sp, const EndpointSlice& slice) {
    for (const auto& p : slice.ports) {
      if (p.name == sp.name && p.protocol == sp.protocol) return p.port;
    }
    if (!sp.targetPortName.empty()) {
      for (const auto& p : slice.ports) {
        if (p.name == sp.targetPortName && p.protocol == sp.protocol) return p.port;
      }
      return 0;
    }
    return sp.targetPortNumber;
  }

  std::vector<Backend> backendsFor(const Service& svc, const ServicePort& sp, IpFamily f,
                                   const std::vector<const EndpointSlice*>& slices) {
    std::vector<Backend> out;
    // An address in two slices counts once, as in kube-proxy. Most Services have a
    // few endpoints: those are looked up in `out` itself, the rest in a tree.
    constexpr std::size_t kScanned = 32;
    std::set<IpAddress> seen;
    auto firstTime = [&](const IpAddress& a) {
      if (out.size() < kScanned) {
        return std::none_of(out.begin(), out.end(),
                            [&](const Backend& b) { return b.address == a; });
      }
      if (seen.empty()) {
        for (const auto& b : out) seen.insert(b.address);
      }
      return seen.insert(a).second;
    };
    bool anyUnresolved = false;
    for (const auto* slice : slices) {
      if (slice->addressType != f || slice->endpoints.empty()) continue;
      const uint16_t port = resolvePort(sp, *slice);
      if (port == 0) {
        anyUnresolved = true;
        continue;
      }
      for (const auto& e : slice->endpoints) {
        if (!firstTime(e.address)) continue;
        const bool known = !node_.nodeName.empty() && !e.nodeName.empty();
        const bool local = known && e.nodeName == node_.nodeName;
        out.push_back({e.address, port, e.weight, local, known && !local, e.ready, e.serving,
                       e.terminating, e.hints});
      }
    }
    if (anyUnresolved) {
      diags_.warning(sp.where, "Service " + svc.key() + ": port " +
                                   (sp.name.empty() ? std::to_string(sp.port) : sp.name) +
                                   ": named targetPort \"" + sp.targetPortName +
                                   "\" matches no port of its EndpointSlices; those endpoints "
                                   "are not used");
    }
    return out;
  }

  // Claims a front for a Service; a second claimant is an error naming both.
  bool claim(const Front& fr, const Service& svc) {
    auto key = std::make_tuple(fr.kind, fr.family, fr.keyVector());
    auto [it, fresh] = owners_.emplace(key, &svc);
    if (fresh || it->second == &svc) return true;
    diags_.error(svc.where, "Service " + svc.key() + ": " + fr.describe() +
                                " is already served by Service " + it->second->key());
    return false;
  }

  // remotePods: whether a pod of another node can reach this front unmasqueraded
  // (see needsHairpin).
  void addBuckets(const Front& fr, const std::vector<Backend>& pool, bool localPool,
                  bool remotePods, const ir::Comment& comment) {
    std::vector<int> weights;
    for (const auto& b : pool) weights.push_back(b.weight);
    const std::vector<int> counts = bucketCounts(weights);
    int total = 0;
    for (int c : counts) total += c;
    const std::string lbSet =
        setName(forFront(localPool ? SetKind::kLbLocal : SetKind::kLb, fr.kind), fr.family);
    lbChains_.insert({fr.kind, localPool, fr.family, total});
    add(lbSet, {fr.key(),
                {},
                ir::Verdict{ir::Verdict::Kind::kGoto,
                            skeleton::lbChainName(fr.kind, localPool, fr.family, total)},
                comment});
    uint32_t bucket = localPool ? skeleton::kLocalPoolOffset : 0;
    // Found once per front: the loop below runs once per bucket.
    auto& backends = set(setName(forFront(SetKind::kBackends, fr.kind), fr.family)).elements;
    const ir::KeyFields front = fr.key();
    for (std::size_t i = 0; i < pool.size(); ++i) {
      for (int c = 0; c < counts[i]; ++c) {
        ir::KeyFields key = front;
        key.push_back(ir::Integer{bucket++});
        backends.push_back({key, {pool[i].address, ir::Port{pool[i].port}}, {}, comment});
      }
      if (needsHairpin(pool[i], remotePods)) hairpin_.insert(pool[i].address);
    }
  }

  // Hairpin (semantics 8): an endpoint that reaches itself through a Service must be
  // masqueraded, or its reply would not pass back through the DNAT. A pod's traffic is
  // DNATed on its own node, so only this node's endpoints can be hairpinned here
  // (kube-proxy's IPVS mode keeps its loop-back set to local endpoints likewise),
  // and endpoints whose node is not known. The one way in for another node's pod,
  // unmasqueraded, is a Local-policy external front, whose pod traffic goes to all
  // endpoints: there every endpoint counts. This keeps the set in the size of the
  // node's pods, not of the cluster's endpoints.
  static bool needsHairpin(const Backend& b, bool remotePods) { return remotePods || !b.elsewhere; }

  void addAffinity(const Service& svc, const Front& fr, const std::vector<Backend>& pool,
                   const ir::Comment& comment) {
    // The affinity map stores the endpoint address; the port comes from target-ports,
    // so every endpoint must serve this Service port on the same number.
    for (const auto& b : pool) {
      if (b.port != pool.front().port) {
        diags_.warning(svc.where, "Service " + svc.key() + ": " + fr.describe() +
                                      ": sessionAffinity ClientIP needs one target port for all "
                                      "endpoints; this port balances without affinity");
        return;
      }
    }
    add(setName(forFront(SetKind::kTargetPorts, fr.kind), fr.family),
        {fr.key(), {ir::Port{pool.front().port}}, {}, comment});
    affinityChains_.insert({fr.family, svc.affinityTimeoutSeconds});
    add(setName(forFront(SetKind::kAffinityTimeouts, fr.kind), fr.family),
        {fr.key(),
         {},
         ir::Verdict{ir::Verdict::Kind::kGoto,
                     skeleton::affinityChainName(fr.family, svc.affinityTimeoutSeconds)},
         comment});
  }

  void compileFront(const Service& svc, const Front& fr, const EndpointPools& pools,
                    const ir::Comment& comment) {
    if (!claim(fr, svc)) return;
    const bool addr = fr.kind == FrontKind::kAddress;
    const std::string dispatch = setName(forFront(SetKind::kServiceIps, fr.kind), fr.family);
    const std::string noEndpoints = setName(forFront(SetKind::kNoEndpoints, fr.kind), fr.family);
    auto verdictTo = [](const std::string& chain) {
      return ir::Verdict{ir::Verdict::Kind::kGoto, chain};
    };
    const ir::Verdict reject = verdictTo(skeleton::kRejectChain);
    const ir::Verdict drop{ir::Verdict::Kind::kDrop, ""};

    if (fr.loadBalancerIP && !svc.loadBalancerSourceRanges.empty()) {
      add(setName(SetKind::kFirewallFronts, fr.family), {fr.key(), {}, {}, comment});
      // The Service's own LoadBalancer IPs are admitted too, as kube-proxy does: a
      // cloud load balancer that hairpins a node's traffic back SNATs it to the LB IP.
      std::vector<Cidr> admitted = svc.loadBalancerSourceRanges;
      for (const auto& ip : svc.loadBalancerIPs) admitted.push_back(Cidr::host(ip));
      std::sort(admitted.begin(), admitted.end());
      admitted.erase(std::unique(admitted.begin(), admitted.end()), admitted.end());
      for (const auto& range : admitted) {
        if (range.family() != fr.family) continue;
        auto key = fr.key();
        key.push_back(range);
        add(setName(SetKind::kFirewallAllow, fr.family), {key, {}, {}, comment});
      }
    }

    // Semantics 6 (docs/design.md): no endpoint at all → reject at once, never a timeout.
    if (pools.cluster.empty()) {
      add(noEndpoints, {fr.key(), {}, reject, comment});
      return;
    }
    const std::vector<Backend>* primary = &pools.cluster;
    std::string policy;
    if (fr.clusterIP) {
      if (svc.internalTrafficPolicy == TrafficPolicy::kLocal) primary = &pools.local;
      policy = skeleton::kSvcCluster;
    } else if (svc.externalTrafficPolicy == TrafficPolicy::kLocal) {
      policy = addr ? skeleton::kSvcExternalLocal : skeleton::kNpExternalLocal;
    } else {
      policy = addr ? skeleton::kSvcExternal : skeleton::kNpExternal;
    }
    // A Local policy with endpoints elsewhere but none here drops (docs/design.md semantics 4, 6).
    if (primary->empty()) {
      add(noEndpoints, {fr.key(), {}, drop, comment});
      return;
    }
    add(dispatch, {fr.key(), {}, verdictTo(name(policy.c_str(), fr.family)), comment});
    const bool externalLocal = !fr.clusterIP && svc.externalTrafficPolicy == TrafficPolicy::kLocal;
    addBuckets(fr, *primary, /*localPool=*/false, /*remotePods=*/externalLocal, comment);
    if (externalLocal) {
      if (pools.local.empty()) {
        // Outside clients are dropped; pods and the node still reach all endpoints.
        add(noEndpoints, {fr.key(), {}, drop, comment});
      } else {
        addBuckets(fr, pools.local, /*localPool=*/true, /*remotePods=*/false, comment);
      }
    }
    if (svc.clientIPAffinity) {
      std::vector<Backend> all = *primary;
      if (externalLocal) all.insert(all.end(), pools.local.begin(), pools.local.end());
      addAffinity(svc, fr, all, comment);
    }
  }

  // As kube-proxy counts them: with endpoints somewhere, a Local policy that finds
  // none on this node (internal: for the ClusterIP; external: for the ways in
  // from outside).
  void countNoLocalEndpoints(const Service& svc, IpFamily f, const EndpointPools& pools) {
    if (pools.cluster.empty() || !pools.local.empty()) return;
    auto inFamily = [f](const std::vector<IpAddress>& v) {
      return std::any_of(v.begin(), v.end(), [f](const IpAddress& a) { return a.family() == f; });
    };
    if (svc.internalTrafficPolicy == TrafficPolicy::kLocal && inFamily(svc.clusterIPs)) {
      ++rs_.noLocalInternal;
    }
    const bool external =
        svc.hasNodePorts() || inFamily(svc.externalIPs) || inFamily(svc.loadBalancerIPs);
    if (svc.externalTrafficPolicy == TrafficPolicy::kLocal && external) ++rs_.noLocalExternal;
  }

  void compileService(const Service& svc, const std::vector<const EndpointSlice*>& slices) {
    // ExternalName and headless Services get no rules (kube-proxy does the same).
    if (svc.type == ServiceType::kExternalName || svc.headless) return;
    rs_.refusedExternalIPs += static_cast<int>(svc.refusedExternalIPs.size());
    const bool nodePorts = svc.hasNodePorts();
    for (const auto& sp : svc.ports) {
      const ir::Comment comment(elementComment(svc, sp));
      for (IpFamily f : familiesOf(svc, slices)) {
        const EndpointPools pools =
            choosePools(backendsFor(svc, sp, f, slices), {node_.nodeName, node_.zone});
        countNoLocalEndpoints(svc, f, pools);
        Front base;
        base.family = f;
        base.protocol = sp.protocol;
        base.port = sp.port;
        for (const auto& a : svc.clusterIPs) {
          if (a.family() != f) continue;
          Front fr = base;
          fr.address = a;
          fr.clusterIP = true;
          if (readsClusterIPs(f)) clusterIPs_.insert(a);
          compileFront(svc, fr, pools, comment);
        }
        for (const auto& a : svc.externalIPs) {
          if (a.family() != f) continue;
          Front fr = base;
          fr.address = a;
          compileFront(svc, fr, pools, comment);
        }
        for (const auto& a : svc.refusedExternalIPs) {
          if (a.family() != f) continue;
          Front fr = base;
          fr.address = a;
          refused_.emplace(std::make_pair(f, fr.keyVector()), comment);  // the first Service's
        }
        for (const auto& a : svc.loadBalancerIPs) {
          if (a.family() != f) continue;
          Front fr = base;
          fr.address = a;
          fr.loadBalancerIP = true;
          compileFront(svc, fr, pools, comment);
        }
        if (nodePorts && sp.nodePort != 0) {
          Front fr = base;
          fr.kind = FrontKind::kNodePort;
          fr.port = sp.nodePort;
          compileFront(svc, fr, pools, comment);
        }
      }
    }
  }

  void addDynamicChains() {
    for (const auto& [where, comment] : refused_) {
      add(setName(SetKind::kExternalIpsRefused, where.first), {where.second, {}, {}, comment});
    }
    for (const auto& a : clusterIPs_)
      add(setName(SetKind::kClusterIps, a.family()), {{a}, {}, {}, ""});
    for (const auto& a : hairpin_)
      add(setName(SetKind::kHairpin, a.family()), {{a, a}, {}, {}, ""});
    for (const auto& [kind, local, f, n] : lbChains_) {
      rs_.chains.push_back({skeleton::lbChainName(kind, local, f, n),
                            std::nullopt,
                            {skeleton::lbChainRule(kind, local, f, n)},
                            /*generated=*/true});
    }
    for (const auto& [f, t] : affinityChains_) {
      rs_.chains.push_back({skeleton::affinityChainName(f, t),
                            std::nullopt,
                            {skeleton::affinityChainRule(f, t)},
                            /*generated=*/true});
    }
  }

  const NodeConfig& node_;
  Diagnostics& diags_;
  ir::Ruleset rs_;
  std::map<std::tuple<FrontKind, IpFamily, std::vector<ir::Datum>>, const Service*> owners_;
  std::set<std::tuple<FrontKind, bool, IpFamily, int>> lbChains_;
  std::set<std::pair<IpFamily, int>> affinityChains_;
  std::set<IpAddress> clusterIPs_;
  std::map<std::pair<IpFamily, std::vector<ir::Datum>>, std::string> refused_;  // → comment
  std::set<IpAddress> hairpin_;
};

}  // namespace

ir::Ruleset compileRuleset(const Inputs& inputs, Diagnostics& diags, ElementOrder order) {
  return Compiler(inputs.node, diags, skeleton::build(inputs.node)).run(inputs, order);
}

ir::Ruleset shareBase(const NodeConfig& node) {
  ir::Ruleset base = skeleton::build(node);
  base.chains.clear();
  return base;
}

ir::Ruleset compileServiceShare(const Service& svc, const std::vector<const EndpointSlice*>& slices,
                                const NodeConfig& node, const ir::Ruleset& base,
                                Diagnostics& diags) {
  return Compiler(node, diags, base).runOne(svc, slices);
}
}  // namespace svcnft
