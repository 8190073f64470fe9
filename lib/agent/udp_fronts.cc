#include "agent/udp_fronts.h"

#include <algorithm>

#include "compile/skeleton.h"

namespace svcnft::agent {

namespace {

bool isUdp(const ir::Datum& d) {
  const auto* p = std::get_if<Protocol>(&d);
  return p && *p == Protocol::kUdp;
}

uint16_t portOf(const ir::Datum& d) { return std::get<ir::Port>(d).value; }

}  // namespace

UdpFronts udpFronts(const ir::Ruleset& rs) {
  UdpFronts out;
  for (IpFamily f : {IpFamily::kV4, IpFamily::kV6}) {
    for (const char* set : {"service-ips", "no-endpoints"}) {
      if (const ir::Set* s = rs.findSet(skeleton::name(set, f))) {
        for (const auto& e : s->elements) {
          if (isUdp(e.key[1])) out[{false, std::get<IpAddress>(e.key[0]), portOf(e.key[2])}];
        }
      }
    }
    for (const char* set : {"nodeports", "np-no-endpoints"}) {
      if (const ir::Set* s = rs.findSet(skeleton::name(set, f))) {
        for (const auto& e : s->elements) {
          if (isUdp(e.key[0])) out[{true, IpAddress(), portOf(e.key[1])}];
        }
      }
    }
    if (const ir::Set* s = rs.findSet(skeleton::name("backends", f))) {
      for (const auto& e : s->elements) {
        if (!isUdp(e.key[1])) continue;
        out[{false, std::get<IpAddress>(e.key[0]), portOf(e.key[2])}].insert(
            std::get<IpAddress>(e.data[0]));
      }
    }
    if (const ir::Set* s = rs.findSet(skeleton::name("np-backends", f))) {
      for (const auto& e : s->elements) {
        if (!isUdp(e.key[0])) continue;
        out[{true, IpAddress(), portOf(e.key[1])}].insert(std::get<IpAddress>(e.data[0]));
      }
    }
  }
  return out;
}

UdpFronts changedFronts(const UdpFronts& before, const UdpFronts& after) {
  UdpFronts out;
  for (const auto& [key, had] : before) {
    auto it = after.find(key);
    if (it == after.end()) {
      out[key] = {};
    } else if (it->second != had) {
      out[key] = it->second;
    }
  }
  for (const auto& [key, has] : after) {
    if (!before.count(key)) out[key] = has;
  }
  return out;
}

}  // namespace svcnft::agent
