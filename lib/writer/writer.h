// The writer: puts a compiled ruleset into the kernel and takes it out again,
// each as one atomic transaction; a rejected transaction changes nothing, and the
// error names what the failing message concerned (a chain, a set, the Services
// whose elements it carried) with the errno.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "compile/ir.h"
#include "diff/element_diff.h"
#include "netlink/transport.h"
#include "nft/transaction.h"
#include "writer/installed.h"
#include "writer/state_record.h"

namespace svcnft::writer {

struct ApplyReport {
  enum class Kind {
    kInstalled,
    kReplaced,
    kIncremental,
    kRefilled,
    kUnchanged
  } kind = Kind::kInstalled;
  std::string why;  // for kReplaced: what made a whole swap necessary
  int messages = 0;
  std::size_t bytes = 0;
  std::size_t elementOperations = 0;
  double readMs = 0;    // reading the installed table back
  double planMs = 0;    // diffing
  double encodeMs = 0;  // building the transaction's messages
  double commitMs = 0;  // the transaction: send, kernel commit, replies
  // Without NFT_MSG_DESTROYSETELEM: what became of the removals of expiring
  // entries sent after the transaction ("" when there were none).
  std::string expiringNote;
  // The ruleset generation right after our last commit, when known: the agent
  // remembers it instead of asking the kernel again.
  std::optional<uint32_t> generation;
};

// Asks the kernel, changing nothing, what it supports of what we may send.
Result<nft::KernelFeatures> probeKernel(netlink::Transport& sock);

// Whether table inet TABLE exists.
Result<bool> tableExists(netlink::Transport& sock, const std::string& table);

// The nf_tables ruleset generation: it moves with every transaction anyone commits,
// so an unchanged one means an unchanged ruleset.
Result<uint32_t> generation(netlink::Transport& sock);

// What apply would do: nothing installed yet → install; skeleton differs → replace;
// else the element and chain differences.
struct SyncPlan {
  bool tableExists = false;
  diff::Plan plan;
  double readMs = 0;
  double planMs = 0;
  bool fromRecord = false;  // the installed table came from a trusted state record
  // What the kernel holds once the plan is carried out (left empty for a new table:
  // only a state record wants it then, and `apply` builds it while the kernel commits).
  Installed desired;
  Installed before;         // what it held: kept, so a one-shot command need not free it
  // The ruleset generation read before anything else (to record, when nothing is
  // committed).
  std::optional<uint32_t> generationSeen;
};
// Past this many elements, apply does not read the installed elements back to diff
// them: it flushes and refills every static set in the one transaction (cost linear
// in the elements; reading back is quadratic, see ElementScope). 10,000 x 10 (195,000
// elements) still diffs exactly: read back 0.8 s; its refill commits in 0.3 s.
inline constexpr std::size_t kReadBackLimit = 200000;
enum class ReadBack {
  kAuto,    // read back and diff up to kReadBackLimit elements, refill past it
  kAlways,  // always diff exactly (what `svcnft diff` shows), whatever the size
  kNever,   // always refill (`svcnft apply --refill`)
};
// With a `record` the kernel still holds (stateTrusted()), nothing is read back
// but the dynamic sets' elements; with a digest record, nothing at all when `rs`
// has its digest (the plan is empty), else the table is read back as without a
// record. Without a record, the table is read back as `readBack` says. `record` is
// consumed.
Result<SyncPlan> planApply(netlink::Transport& sock, const ir::Ruleset& rs,
                           ReadBack readBack = ReadBack::kAuto, StateRecord* record = nullptr);

// The record of what `rs` put in the kernel, at `generation`.
StateRecord recordOf(const ir::Ruleset& rs, Installed desired, uint64_t netns, uint32_t generation);
// The same as a digest record, for tables past the record limit.
Result<StateRecord> digestRecordOf(const ir::Ruleset& rs, uint64_t netns, uint32_t generation);
// The record of `rs` encoded, whole up to `recordLimit` elements, past it the digest;
// made before the commit that gives its generation, with the one expected (the
// generation seen before, plus one) and restamped if another came.
// `desired`: installedFrom(rs) when the caller has it (a diff made it), else empty.
Result<std::string> encodedRecordOf(const ir::Ruleset& rs, std::optional<Installed> desired,
                                    uint64_t netns, uint32_t generation, std::size_t recordLimit);

// Carries out a plan made against what is installed (the whole table when
// plan.replaceAll or when there is no table yet, else only the difference).
// Without kernel.destroySetElem, removals from dynamic sets (session affinity
// entries that point at an endpoint that left) follow the transaction in one of
// their own; entries that expired meanwhile are skipped. The change that moves
// traffic never waits on them.
Result<ApplyReport> applyPlan(netlink::Transport& sock, const ir::Ruleset& rs,
                              const diff::Plan& plan, bool tableExists,
                              const nft::KernelFeatures& kernel);

// Installs `rs`: the whole table the first time (or when the skeleton differs),
// afterwards only the difference, each time as one atomic transaction.
Result<ApplyReport> apply(netlink::Transport& sock, const ir::Ruleset& rs,
                          const nft::KernelFeatures& kernel, ReadBack readBack = ReadBack::kAuto);

// Deletes our table if it exists. Returns whether there was one.
Result<bool> cleanup(netlink::Transport& sock, const std::string& table);

}  // namespace svcnft::writer
