#include "compile/ir.h"

#include <stdexcept>

namespace svcnft::ir {

namespace {

const char* typeName(FieldType t) {
  switch (t) {
    case FieldType::kIpv4Addr:
      return "ipv4_addr";
    case FieldType::kIpv6Addr:
      return "ipv6_addr";
    case FieldType::kInetProto:
      return "inet_proto";
    case FieldType::kInetService:
      return "inet_service";
    case FieldType::kInteger:
      return "integer";
  }
  return "integer";
}

const char* sourceName(FieldSource s) {
  switch (s) {
    case FieldSource::kIpDaddr:
      return "ip daddr";
    case FieldSource::kIp6Daddr:
      return "ip6 daddr";
    case FieldSource::kMetaL4proto:
      return "meta l4proto";
    case FieldSource::kThDport:
      return "th dport";
    // The modulus in a typeof only gives the field its size; elements set the bucket.
    case FieldSource::kNumgen:
      return "numgen random mod 2";
    case FieldSource::kNone:
      break;
  }
  return "?";
}

std::string fieldList(const std::vector<Field>& fields, bool byTypeof) {
  std::string out;
  for (const auto& f : fields) {
    if (!out.empty()) out += " . ";
    out += byTypeof ? sourceName(f.source) : typeName(f.type);
  }
  return out;
}

}  // namespace

bool Set::usesTypeof() const {
  for (const auto& f : key) {
    if (f.source != FieldSource::kNone) return true;
  }
  return false;
}

std::string Set::declaration() const {
  const bool byTypeof = usesTypeof();
  std::string out = (byTypeof ? "typeof " : "type ") + fieldList(key, byTypeof);
  if (verdictMap) out += " : verdict";
  if (!data.empty()) out += " : " + fieldList(data, byTypeof);
  return out;
}

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
