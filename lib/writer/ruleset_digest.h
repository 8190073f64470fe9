// One SHA-256 of everything a ruleset puts in the kernel that only a transaction
// changes: set declarations, chains, rules and the static sets' elements, in the
// forms the diff compares (installedFrom()). Dynamic sets' elements (session
// affinity) move on the packet path and are left out.
//
// A state record past kRecordElementLimit keeps only this digest: a table of
// millions of elements whose inputs compile to the same digest, in a kernel whose
// generation is still the one after our commit, needs nothing read back nor sent.
#pragma once

#include <string>

#include "common/result.h"
#include "compile/ir.h"

namespace svcnft::writer {

// 32 raw bytes. Computed one element at a time: no copy of the sets is held.
Result<std::string> rulesetDigest(const ir::Ruleset& rs);

}  // namespace svcnft::writer
