// Which UDP fronts (ClusterIP/external address . port, or NodePort) a ruleset
// installs, and which endpoints may answer each: what the conntrack cleanup needs
// to know which UDP flows went stale after a sync. Pure.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <tuple>

#include "compile/ir.h"
#include "model/inputs.h"

namespace svcnft::agent {

// (NodePort?, address (unset for NodePorts), port) → endpoint addresses.
using UdpFrontKey = std::tuple<bool, IpAddress, uint16_t>;
using UdpFronts = std::map<UdpFrontKey, std::set<IpAddress>>;

// The fronts `rs` installs, each with the serving endpoints of its Service port in
// `inputs`, as kube-proxy's conntrack cleanup counts them: every endpoint whose
// slice says serving, terminating or not, whatever its weight (0: draining), the
// traffic policies or topology. The rules hold only the endpoints that new
// connections may choose now; a flow to any serving endpoint is live and stays.
UdpFronts udpFronts(const ir::Ruleset& rs, const std::vector<ServiceInput>& inputs);
UdpFronts udpFronts(const ir::Ruleset& rs, const Inputs& inputs);

// The fronts whose endpoints differ between two syncs (added, emptied, vanished or
// changed), each with the endpoints it has now: a flow to such a front that is not
// answered by one of them is stale: it goes to a pod that left, or it was made
// before the front had endpoints and so was never DNATed at all.
UdpFronts changedFronts(const UdpFronts& before, const UdpFronts& after);

}  // namespace svcnft::agent
