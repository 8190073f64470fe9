// The compiler: validated model → ruleset IR. All Service semantics live here
// (docs/design.md "Service semantics" 1-10); the kernel-facing shape lives in skeleton.h.
// Pure: no files, no kernel. Problems that only show when objects meet (two
// Services on one address and port, a named targetPort no endpoint serves) become
// diagnostics.
#pragma once

#include "common/diagnostics.h"
#include "compile/ir.h"
#include "model/service.h"

namespace svcnft {

ir::Ruleset compileRuleset(const Inputs& inputs, Diagnostics& diags);

// One Service's share of the ruleset, for keeping Services apart (the agent):
// compiled alone onto `base` (shareBase(): the skeleton's sets, empty, and no
// chains), it holds the Service's elements, the cluster-ips and hairpin entries
// it needs, and the generated chains (lb-*-N, affinity-*) its elements point at;
// no node elements. Merging every Service's share gives compileRuleset's output.
// Fronts are not checked against other Services: the caller owns that check.
ir::Ruleset shareBase(const NodeConfig& node);
ir::Ruleset compileServiceShare(const Service& svc, const std::vector<const EndpointSlice*>& slices,
                                const NodeConfig& node, const ir::Ruleset& base,
                                Diagnostics& diags);

}  // namespace svcnft
