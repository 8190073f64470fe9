// The agent's picture of our table, kept Service by Service, so that a change to
// one Service costs work in proportion to that Service, never to the table.
//
// Per Service: the records (the bytes the kernel holds) of the elements its share
// puts in the kernel, packed into one string (~50 bytes an element). Across
// Services: reference counts of what they share (cluster-ips and hairpin entries,
// lb-*-N and affinity chains) and which Service owns each front.
//
// Invariant: all shares together, shared entries counted once, are exactly the
// elements and generated chains of compileRuleset() over the same inputs, minus the
// node-level sets (cluster-cidrs, service-cidrs, nodeport-ips, nodeport-cidrs). test/unit/
// live_table_test.cc checks it after every step of random changes.
//
// A sync is two steps: prepare() works out, changing nothing, what moves the kernel
// from the kept state to the new one; commit() adopts the new state once the
// kernel has accepted it. A rejected transaction leaves the state as it was.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/diagnostics.h"
#include "compile/ir.h"
#include "diff/element_diff.h"
#include "model/inputs.h"
#include "model/service.h"

namespace svcnft::writer {

class LiveTable {
 public:
  explicit LiveTable(const NodeConfig& node);

  struct Pending {
    // Set when nothing can be applied: a front claimed by two Services. The batch
    // compile names both in its diagnostics; the caller goes that way.
    std::string conflict;
    // Element removals as records; additions index into `adds`, whose sets are the
    // skeleton's holding only the elements to add, and whose chains are the
    // generated chains to add. nft::incremental(adds, plan) is the transaction.
    diff::Plan plan;
    ir::Ruleset adds;
    // Session affinity: for the address families where a changed Service had
    // affinity, the fronts concerned (key bytes) and the endpoint addresses (bytes)
    // each balances over now. Entries of the affinity map for these fronts that
    // point elsewhere must go in the same transaction (see staleAffinity()).
    std::map<IpFamily, std::set<std::string>> affinityFronts;
    std::map<IpFamily, std::map<std::string, std::set<std::string>>> affinityEndpoints;
    // ... and the endpoints they balanced over before (IPv6 entries name no front:
    // what left a front is what goes, see staleHashedAffinity()).
    std::map<IpFamily, std::map<std::string, std::set<std::string>>> affinityEndpointsBefore;

   private:
    friend class LiveTable;
    // Each changed Service's records, packed one after the other into one buffer:
    // no small allocation outlives prepare(), so what commit() keeps is not
    // scattered between prepare()'s freed shares (RSS, not just heap use).
    struct Next {
      std::string key;
      bool gone = false;
      std::size_t offset = 0, size = 0;
    };
    std::vector<Next> next;
    std::string records;
  };

  // Called with each changed Service's new share as it is compiled (for what else
  // the caller derives per Service: UDP fronts, say). Not called for gone Services.
  using ShareObserver = std::function<void(const std::string& key, const ir::Ruleset& share)>;

  // What it takes to go from the kept state to one where the Services in `changed`
  // are as given (the others as kept). `operations`: false skips building the plan
  // (for adopting a state the kernel already holds after a full sync).
  Pending prepare(const std::vector<ServiceInput>& changed, Diagnostics& diags,
                  const ShareObserver& observe = {}, bool operations = true) const;
  // Adopts what prepare() worked out (after the kernel accepted its plan).
  void commit(Pending&& pending);

  std::size_t serviceCount() const { return packed_.size(); }
  // Elements the Services put in the kernel (shared entries once).
  std::size_t elementCount() const { return ownElements_ + shared_.size(); }
  // The state as set name → records, and the generated chains: for tests.
  std::map<std::string, std::vector<diff::ElementRecord>> records() const;
  std::set<std::string> chains() const;
  // Every record the Services put in the kernel, shared entries once, with its set's
  // name (a reference that stays the same for the set), in no particular order.
  void forEachRecord(
      const std::function<void(const std::string& set, const diff::ElementRecord&)>& visit) const;

 private:
  enum class Role : uint8_t { kOwn, kShared, kFront, kAffinityFront, kBackends };
  struct SetInfo {
    std::string name;
    Role role = Role::kOwn;
    IpFamily family = IpFamily::kV4;
    uint8_t claimSpace = 0;  // fronts: address/NodePort x family
  };

  std::string table_;
  NodeConfig node_;
  ir::Ruleset base_;           // shareBase(node): sets without elements, no chains
  std::vector<SetInfo> sets_;  // parallel to base_.sets

  std::unordered_map<std::string, std::string> packed_;  // Service key → its records
  std::unordered_map<std::string, int> shared_;          // set byte + key → Services using it
  std::unordered_map<std::string, int> chainRefs_;       // generated chain → Services using it
  std::unordered_map<std::string, std::string> owners_;  // claim → the Service that has it
  std::size_t ownElements_ = 0;
};

// Records a backends element (front . bucket → endpoint . port) as "front balances
// over endpoint": front key bytes → endpoint address bytes. `addressBytes`: 4 or 16.
void addBackend(std::map<std::string, std::set<std::string>>& endpoints,
                const diff::ElementRecord& backend, std::size_t addressBytes);

// Affinity map entries (client . front → endpoint) to delete: those of a front in
// `fronts` (nullptr: every front) whose endpoint `endpoints` (front key bytes →
// endpoint address bytes) no longer lists for it. NodePort fronts match by
// protocol . port. `addressBytes`: 4 or 16.
std::vector<diff::ElementRecord> staleAffinity(
    const std::vector<diff::ElementRecord>& affinity,
    const std::map<std::string, std::set<std::string>>& endpoints,
    const std::set<std::string>* fronts, std::size_t addressBytes);

// IPv6 affinity entries are keyed by hashes of client . front address (see
// skeleton.cc), so their front cannot be read back, only its protocol . port (the
// key's last 8 bytes). An entry goes when its endpoint left a front of that
// protocol . port (`left`: protocol . port bytes → endpoint address bytes); with
// `endpoints` (front key bytes → endpoints, every front: a full sync) also when no
// front of that protocol . port lists its endpoint. An endpoint that left one
// Service but still serves another on the same port costs the other's clients
// their stickiness once; it never keeps a client on an endpoint its front lost.
std::vector<diff::ElementRecord> staleHashedAffinity(
    const std::vector<diff::ElementRecord>& affinity,
    const std::map<std::string, std::set<std::string>>& left,
    const std::map<std::string, std::set<std::string>>* endpoints);

// Front key bytes → endpoints, before and now → protocol . port bytes → endpoints
// that left a front of it.
std::map<std::string, std::set<std::string>> leftEndpoints(
    const std::map<std::string, std::set<std::string>>& before,
    const std::map<std::string, std::set<std::string>>& now);

}  // namespace svcnft::writer
