#include "compile/ir.h"

namespace svcnft::ir {

Set* Ruleset::findSet(const std::string& n) {
  for (auto& s : sets) {
    if (s.name == n) return &s;
  }
  return nullptr;
}

const Set* Ruleset::findSet(const std::string& n) const {
  return const_cast<Ruleset*>(this)->findSet(n);
}

std::size_t Ruleset::elementCount() const {
  std::size_t n = 0;
  for (const auto& s : sets) n += s.elements.size();
  return n;
}

std::size_t Ruleset::ruleCount() const {
  std::size_t n = 0;
  for (const auto& c : chains) n += c.rules.size();
  return n;
}

}  // namespace svcnft::ir
