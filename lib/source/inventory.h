// The agent's inputs, part by part (a file), indexed by Service: which Service
// object and which EndpointSlices each "namespace/name" has now. Replacing a part
// names the Services whose objects differ, so a sync recompiles only those.
//
// Order is the batch compile's: parts by name, objects in part order. Problems
// between parts that only the full validation words well (a Service defined twice,
// a nodePort/protocol used twice) are counted, not resolved: while any exists,
// hasConflicts() is true and the agent syncs the full way, which reports them.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "manifest/loader.h"
#include "model/inputs.h"

namespace svcnft::source {

class Inventory {
 public:
  // The part's contents now (empty: the part is gone). Returns the keys of the
  // Services whose Service object or slices changed.
  std::set<std::string> replace(const std::string& part, Manifests contents);

  // A part's contents now (nullptr: none).
  const Manifests* part(const std::string& name) const {
    auto it = parts_.find(name);
    return it == parts_.end() ? nullptr : &it->second;
  }
  // A Service's inputs now: its first definition (in part order) and all its slices.
  ServiceInput lookup(const std::string& key) const;
  // Every key with a Service, in order.
  std::vector<std::string> serviceKeys() const;
  // Everything, merged in part order, as the batch compile reads it.
  Manifests all() const;

  // Changes taken in, as kube-proxy counts them: per Service whose Service object
  // changed, and per Service whose endpoints (slices) changed. Pending ones are
  // those taken in since clearPending() (the agent's last successful sync).
  uint64_t serviceChanges() const { return serviceChanges_; }
  uint64_t endpointChanges() const { return endpointChanges_; }
  std::size_t pendingServiceChanges() const { return pendingServices_.size(); }
  std::size_t pendingEndpointChanges() const { return pendingEndpoints_.size(); }
  void clearPending() {
    pendingServices_.clear();
    pendingEndpoints_.clear();
  }

  bool hasConflicts() const { return duplicated_ > 0 || nodePortsReused_ > 0; }
  std::size_t serviceCount() const { return serviceCount_; }
  std::size_t endpointCount() const { return endpointCount_; }

 private:
  struct Entry {
    // (part, object) pairs, kept in part order then object order.
    std::vector<std::pair<const std::string*, const Service*>> services;
    std::vector<std::pair<const std::string*, const EndpointSlice*>> slices;
  };
  void index(const std::string& part, const Manifests& m, int sign);
  void countNodePorts(const Service& svc, int sign);

  std::map<std::string, Manifests> parts_;
  std::unordered_map<std::string, Entry> byKey_;
  std::map<std::pair<Protocol, uint16_t>, int> nodePortUses_;
  int duplicated_ = 0;       // keys with more than one Service definition
  int nodePortsReused_ = 0;  // nodePorts claimed more than once
  std::size_t serviceCount_ = 0;
  std::size_t endpointCount_ = 0;
  uint64_t serviceChanges_ = 0;
  uint64_t endpointChanges_ = 0;
  std::set<std::string> pendingServices_, pendingEndpoints_;
};

}  // namespace svcnft::source
