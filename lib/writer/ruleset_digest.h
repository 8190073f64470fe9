// One SHA-256 of everything a ruleset puts in the kernel that only a transaction
// changes: set declarations, chains, rules and the static sets' elements, in the
// forms the diff compares (installedFrom()). Dynamic sets' elements (session
// affinity) move on the packet path and are left out.
//
// The elements of a set count as a multiset: each record's 128-bit hash (XXH3) is
// summed per set, so the order they come in does not matter. That is what lets the
// agent's live table, which holds the same records Service by Service, give the
// same digest as the compiler's ruleset without compiling it (liveDigest()).
// Generated chains (lb-*-N, affinity-*) count by name: the name determines the rule.
//
// A state record past kRecordElementLimit keeps only this digest: a table of
// millions of elements whose inputs give the same digest, in a kernel whose
// generation is still the one after our commit, needs nothing read back nor sent.
#pragma once

#include <string>

#include "common/result.h"
#include "compile/ir.h"
#include "writer/live_table.h"

namespace svcnft::writer {

// 32 raw bytes. Computed one element at a time: no copy of the sets is held.
Result<std::string> rulesetDigest(const ir::Ruleset& rs);

// The same for the ruleset the live table's Services make with `nodeOnly`
// (compileRuleset() of the node alone: the skeleton, the node's own elements).
// Equal to rulesetDigest(compileRuleset(inputs)) when the table holds `inputs`.
Result<std::string> liveDigest(const LiveTable& live, const ir::Ruleset& nodeOnly);
// The same with the node's part compiled here from `node`; `elements`, if given,
// gets the number of elements the table holds (the Services' and the node's).
Result<std::string> liveDigest(const LiveTable& live, const NodeConfig& node,
                               std::size_t* elements = nullptr);

}  // namespace svcnft::writer
