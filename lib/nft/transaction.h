// Whole-ruleset transactions: the IR → one Batch that creates (or atomically
// replaces) our table, and one that deletes it. Element lists are cut into
// NEWSETELEM messages of at most ~60 KiB (the kernel takes about 64 KiB of
// elements per message, SPEC.md), all inside the same transaction.
#pragma once

#include <string>

#include "compile/ir.h"
#include "diff/element_diff.h"
#include "nft/batch.h"

namespace svcnft::nft {

inline constexpr std::size_t kElementBytesPerMessage = 60000;

// replace: the table exists and is swapped for the new one in the same transaction.
Batch fullRuleset(const ir::Ruleset& rs, bool replace, uint32_t firstSeq = 1);
// Only what `plan` says changed (plan.replaceAll is the caller's to turn into
// fullRuleset). Chains are added before the elements that point at them and
// removed after.
Batch incremental(const ir::Ruleset& rs, const diff::Plan& plan, uint32_t firstSeq = 1);
Batch deleteTable(const std::string& table, uint32_t firstSeq = 1);

}  // namespace svcnft::nft
