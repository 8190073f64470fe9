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

// Sets list their elements in key order, as the dump shows them, unless the caller
// only sends them to the kernel, where order means nothing: then they stay in the
// order the Services compiled in (Services in key order), which is as deterministic.
// Sorting was a third of a compile (20 of 55 ms at 10,000 x 10, most of it the
// backends).
enum class ElementOrder { kByKey, kAsCompiled };
ir::Ruleset compileRuleset(const Inputs& inputs, Diagnostics& diags,
                           ElementOrder order = ElementOrder::kByKey);

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
