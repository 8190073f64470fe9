#include "source/inventory.h"

#include <algorithm>

namespace svcnft::source {

namespace {

// A part's objects grouped by Service key, to tell which keys a replacement touches.
struct Grouped {
  std::vector<const Service*> services;
  std::vector<const EndpointSlice*> slices;
};

std::map<std::string, Grouped> group(const Manifests& m) {
  std::map<std::string, Grouped> out;
  for (const auto& s : m.services) out[s.key()].services.push_back(&s);
  for (const auto& s : m.slices) out[s.serviceKey()].slices.push_back(&s);
  return out;
}

template <typename T>
bool sameObjects(const std::vector<const T*>& a, const std::vector<const T*>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const T* x, const T* y) { return *x == *y; });
}

// Adds (sign > 0) or removes one object of `part` in an entry's list, keeping the
// list in part order, then object order (one part's objects sit in one vector).
template <typename T>
void edit(std::vector<std::pair<const std::string*, const T*>>& list, const std::string& part,
          const T& object, int sign) {
  if (sign < 0) {
    std::erase(list, std::make_pair(&part, &object));
    return;
  }
  list.emplace_back(&part, &object);
  std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) {
    if (a.first != b.first) return *a.first < *b.first;
    return a.second < b.second;
  });
}

}  // namespace

std::set<std::string> Inventory::replace(const std::string& part, Manifests contents) {
  static const Manifests kNone;
  auto it = parts_.find(part);
  const Manifests& old = it == parts_.end() ? kNone : it->second;

  std::set<std::string> changed;
  const auto before = group(old), after = group(contents);
  static const Grouped kEmpty;
  auto note = [&](const std::string& key, const Grouped& was, const Grouped& is) {
    const bool service = !sameObjects(was.services, is.services);
    const bool slices = !sameObjects(was.slices, is.slices);
    if (!service && !slices) return;
    changed.insert(key);
    if (service) {
      ++serviceChanges_;
      pendingServices_.insert(key);
    }
    if (slices) {
      ++endpointChanges_;
      pendingEndpoints_.insert(key);
    }
  };
  for (const auto& [key, g] : before) {
    auto now = after.find(key);
    note(key, g, now == after.end() ? kEmpty : now->second);
  }
  for (const auto& [key, g] : after) {
    if (!before.count(key)) note(key, kEmpty, g);
  }
  if (changed.empty()) return changed;

  if (it != parts_.end()) {
    index(it->first, it->second, -1);
    parts_.erase(it);
  }
  if (!contents.services.empty() || !contents.slices.empty()) {
    auto [at, fresh] = parts_.emplace(part, std::move(contents));
    index(at->first, at->second, +1);
  }
  return changed;
}

void Inventory::countNodePorts(const Service& svc, int sign) {
  if (!svc.hasNodePorts()) return;
  for (const auto& p : svc.ports) {
    if (p.nodePort == 0) continue;
    int& uses = nodePortUses_[{p.protocol, p.nodePort}];
    const bool reusedBefore = uses > 1;
    uses += sign;
    const bool reusedAfter = uses > 1;
    nodePortsReused_ += static_cast<int>(reusedAfter) - static_cast<int>(reusedBefore);
    if (uses == 0) nodePortUses_.erase({p.protocol, p.nodePort});
  }
}

void Inventory::index(const std::string& part, const Manifests& m, int sign) {
  auto touch = [&](const std::string& key, auto&& edit) {
    Entry& e = byKey_[key];
    duplicated_ -= e.services.size() > 1;
    serviceCount_ -= !e.services.empty();
    edit(e);
    duplicated_ += e.services.size() > 1;
    serviceCount_ += !e.services.empty();
    if (e.services.empty() && e.slices.empty()) byKey_.erase(key);
  };
  for (const auto& s : m.services) {
    countNodePorts(s, sign);
    touch(s.key(), [&](Entry& e) { edit(e.services, part, s, sign); });
  }
  for (const auto& s : m.slices) {
    endpointCount_ += sign > 0 ? s.endpoints.size() : -s.endpoints.size();
    touch(s.serviceKey(), [&](Entry& e) { edit(e.slices, part, s, sign); });
  }
}

ServiceInput Inventory::lookup(const std::string& key) const {
  ServiceInput out;
  out.key = key;
  auto it = byKey_.find(key);
  if (it == byKey_.end()) return out;
  if (!it->second.services.empty()) out.service = it->second.services.front().second;
  for (const auto& [part, slice] : it->second.slices) out.slices.push_back(slice);
  return out;
}

std::vector<std::string> Inventory::serviceKeys() const {
  std::vector<std::string> out;
  for (const auto& [key, e] : byKey_) {
    if (!e.services.empty()) out.push_back(key);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Manifests Inventory::all() const {
  Manifests out;
  for (const auto& [part, m] : parts_) {
    out.services.insert(out.services.end(), m.services.begin(), m.services.end());
    out.slices.insert(out.slices.end(), m.slices.begin(), m.slices.end());
  }
  return out;
}

}  // namespace svcnft::source
