// The diff: installed elements + desired elements → the few element operations
// that turn one into the other. Pure: elements are compared as the exact bytes the
// kernel holds (key, range end, value or verdict, comment), so "equal" means what
// the kernel means, and no decoding is needed.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

namespace svcnft::diff {

// One element as the kernel holds it.
struct ElementRecord {
  std::string key;     // key bytes
  std::string keyEnd;  // range end bytes (concatenated ranges), else empty
  std::string value;   // data bytes, or "verdict CODE CHAIN"
  std::string comment;
  uint32_t flags = 0;  // NFT_SET_ELEM_INTERVAL_END for range ends of plain interval sets

  auto operator<=>(const ElementRecord&) const = default;
};

struct SetDelta {
  std::string set;
  std::vector<ElementRecord> remove;  // deleted first
  std::vector<std::size_t> add;       // indices into the desired records of the set
  bool flush = false;                 // replace the whole set (plain interval sets)
};

struct ChainDelta {
  std::vector<std::string> add;     // desired chains missing from the kernel
  std::vector<std::string> remove;  // our chains the desired ruleset no longer has
};

// Everything one sync changes. replaceAll: the skeleton itself differs (another
// node config, another svcnft version, or a table someone edited), so the table is
// swapped whole, still in one transaction.
struct Plan {
  bool replaceAll = false;
  // Every static set is flushed and filled again in the transaction: the installed
  // elements were not read back (too many to read; see writer::kReadBackLimit).
  bool refill = false;
  std::string why;
  std::vector<SetDelta> sets;
  ChainDelta chains;

  bool empty() const {
    return !replaceAll && !refill && sets.empty() && chains.add.empty() && chains.remove.empty();
  }
};

// installed/desired: set name → its records. Sets in `wholeSets` are compared as a
// whole and, if different, flushed and refilled (a plain interval set's elements are
// range starts and ends that only mean something together).
std::vector<SetDelta> diffElements(
    const std::map<std::string, std::vector<ElementRecord>>& installed,
    const std::map<std::string, std::vector<ElementRecord>>& desired,
    const std::set<std::string>& wholeSets);

// One set: what turns `have` into `want` (empty delta: nothing to do).
SetDelta diffSet(const std::string& name, const std::vector<ElementRecord>& have,
                 const std::vector<ElementRecord>& want, bool whole);

ChainDelta diffChains(const std::set<std::string>& installed, const std::set<std::string>& desired);

// Element operations a delta costs: what one sync sends to the kernel.
std::size_t operationCount(const std::vector<SetDelta>& deltas);

}  // namespace svcnft::diff
