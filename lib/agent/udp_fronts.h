// Which UDP fronts (ClusterIP/external address . port, or NodePort) a ruleset
// balances over which endpoints, read from the IR: what the conntrack cleanup
// needs to know which UDP flows went stale after a sync. Pure.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <tuple>

#include "compile/ir.h"

namespace svcnft::agent {

// (NodePort?, address (unset for NodePorts), port) → endpoint addresses.
using UdpFrontKey = std::tuple<bool, IpAddress, uint16_t>;
using UdpFronts = std::map<UdpFrontKey, std::set<IpAddress>>;

UdpFronts udpFronts(const ir::Ruleset& rs);

// The fronts whose endpoints differ between two syncs (added, emptied, vanished or
// changed), each with the endpoints it has now: a flow to such a front that is not
// answered by one of them is stale: it goes to a pod that left, or it was made
// before the front had endpoints and so was never DNATed at all.
UdpFronts changedFronts(const UdpFronts& before, const UdpFronts& after);

}  // namespace svcnft::agent
