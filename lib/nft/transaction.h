// Whole-ruleset transactions: the IR → one Batch that creates (or atomically
// replaces) our table, and one that deletes it. Element lists are cut into
// NEWSETELEM messages of at most ~60 KiB (the kernel takes about 64 KiB of
// elements per message, docs/design.md), all inside the same transaction.
#pragma once

#include <string>

#include "compile/ir.h"
#include "diff/element_diff.h"
#include "nft/batch.h"

namespace svcnft::nft {

inline constexpr std::size_t kElementBytesPerMessage = 60000;

// What the running kernel's nf_tables knows, where it changes what we send.
struct KernelFeatures {
  // NFT_MSG_DESTROYSETELEM (kernel 6.3+): a delete that does not fail when the
  // element is already gone. Without it (Debian bookworm's 6.1) a removal from a
  // dynamic set (session affinity entries, which expire on their own) cannot ride
  // in the transaction that moves traffic: a DELSETELEM of an entry that expired
  // meanwhile answers ENOENT and aborts the whole batch.
  bool destroySetElem = true;
};

// replace: the table exists and is swapped for the new one in the same transaction.
Batch fullRuleset(const ir::Ruleset& rs, bool replace, uint32_t firstSeq = 1);
// Only what `plan` says changed (plan.replaceAll is the caller's to turn into
// fullRuleset). Chains are added before the elements that point at them and
// removed after. Without kernel.destroySetElem, removals from dynamic sets are
// left out: expiringRemovals() lists them for a transaction of their own.
Batch incremental(const ir::Ruleset& rs, const diff::Plan& plan,
                  const KernelFeatures& kernel = {}, uint32_t firstSeq = 1);
// The removals from dynamic sets in `plan` (the ones incremental() leaves out
// without destroySetElem).
std::vector<diff::SetDelta> expiringRemovals(const ir::Ruleset& rs, const diff::Plan& plan);
// Plain DELSETELEM of `deltas`' removals, one message per run of elements.
Batch deleteElements(const std::string& table, const std::vector<diff::SetDelta>& deltas,
                     uint32_t firstSeq = 1);
// A check-only batch (checkOnlyBytes) of one DESTROYSETELEM on a table that does
// not exist: a kernel that knows the message answers ENOENT, one that does not EINVAL.
Batch destroySetElemProbe();
Batch deleteTable(const std::string& table, uint32_t firstSeq = 1);

}  // namespace svcnft::nft
