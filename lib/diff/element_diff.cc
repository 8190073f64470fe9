#include "diff/element_diff.h"

#include <algorithm>
#include <functional>
#include <unordered_set>

namespace svcnft::diff {

SetDelta diffSet(const std::string& name, const std::vector<ElementRecord>& have,
                 const std::vector<ElementRecord>& want, bool whole) {
  SetDelta d;
  d.set = name;
  if (whole) {
    std::vector<ElementRecord> a = have, b = want;
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    if (a != b) {
      d.flush = true;
      for (std::size_t i = 0; i < want.size(); ++i) d.add.push_back(i);
    }
    return d;
  }
  // Records in the same order on both sides (a state record against a compile of
  // nearly the same input) differ only in the middle: the common head and tail are
  // skipped by plain comparison. Elements are unique within a set, so nothing in
  // one side's middle can equal anything in the other side's head or tail.
  std::size_t head = 0, tail = 0;
  while (head < have.size() && head < want.size() && have[head] == want[head]) ++head;
  while (tail < have.size() - head && tail < want.size() - head &&
         have[have.size() - 1 - tail] == want[want.size() - 1 - tail]) {
    ++tail;
  }
  const std::size_t haveEnd = have.size() - tail, wantEnd = want.size() - tail;
  // The rest hash-indexed, not ordered: read back from the kernel it comes in the
  // kernel's order, and two std::set of 195,000 records cost ~0.3 s.
  auto hashOf = [](const ElementRecord& r) {
    std::size_t h = std::hash<std::string>{}(r.key);
    for (const std::string* s : {&r.keyEnd, &r.value, &r.comment}) {
      h = h * 1000003u ^ std::hash<std::string>{}(*s);
    }
    return h ^ r.flags;
  };
  struct Hash {
    decltype(hashOf) f;
    std::size_t operator()(const ElementRecord* r) const { return f(*r); }
  };
  struct Eq {
    bool operator()(const ElementRecord* a, const ElementRecord* b) const { return *a == *b; }
  };
  std::unordered_set<const ElementRecord*, Hash, Eq> haveSet((haveEnd - head) * 2, Hash{hashOf});
  for (std::size_t i = head; i < haveEnd; ++i) haveSet.insert(&have[i]);
  std::unordered_set<const ElementRecord*, Hash, Eq> wantSet((wantEnd - head) * 2, Hash{hashOf});
  for (std::size_t i = head; i < wantEnd; ++i) wantSet.insert(&want[i]);
  for (std::size_t i = head; i < haveEnd; ++i) {
    if (!wantSet.count(&have[i])) d.remove.push_back(have[i]);
  }
  for (std::size_t i = head; i < wantEnd; ++i) {
    if (!haveSet.count(&want[i])) d.add.push_back(i);
  }
  return d;
}

std::vector<SetDelta> diffElements(
    const std::map<std::string, std::vector<ElementRecord>>& installed,
    const std::map<std::string, std::vector<ElementRecord>>& desired,
    const std::set<std::string>& wholeSets) {
  static const std::vector<ElementRecord> kNone;
  std::vector<SetDelta> out;
  for (const auto& [name, want] : desired) {
    auto it = installed.find(name);
    SetDelta d =
        diffSet(name, it == installed.end() ? kNone : it->second, want, wholeSets.count(name) > 0);
    if (d.flush || !d.remove.empty() || !d.add.empty()) out.push_back(std::move(d));
  }
  return out;
}

ChainDelta diffChains(const std::set<std::string>& installed,
                      const std::set<std::string>& desired) {
  ChainDelta d;
  std::set_difference(desired.begin(), desired.end(), installed.begin(), installed.end(),
                      std::back_inserter(d.add));
  std::set_difference(installed.begin(), installed.end(), desired.begin(), desired.end(),
                      std::back_inserter(d.remove));
  return d;
}

std::size_t operationCount(const std::vector<SetDelta>& deltas) {
  std::size_t n = 0;
  for (const auto& d : deltas) n += d.remove.size() + d.add.size() + (d.flush ? 1 : 0);
  return n;
}

}  // namespace svcnft::diff
