// The ruleset IR: an inert, complete description of what goes into the kernel.
// One table; a fixed list of sets/maps and chains (the skeleton, see rules/);
// per-Service data only as map elements. Knows no YAML and no libnftnl.
//
// Invariant (docs/design.md, measured): the number of sets and rules does not depend on
// the number of Services or endpoints. Chains grow only with the number of
// *distinct* bucket counts and affinity timeouts in use, both bounded (see
// buckets.h), never with the number of Services.
#pragma once

#include <algorithm>
#include <array>
#include <compare>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "compile/expr.h"
#include "model/address.h"
#include "model/service.h"

namespace svcnft::ir {

struct Port {
  uint16_t value = 0;
  auto operator<=>(const Port&) const = default;
};
struct Integer {
  uint32_t value = 0;
  auto operator<=>(const Integer&) const = default;
};

// One field of an element key or value.
using Datum = std::variant<IpAddress, Cidr, Protocol, Port, Integer>;

struct Verdict {
  enum class Kind : uint8_t { kGoto, kJump, kDrop } kind = Kind::kDrop;
  std::string chain;
  auto operator<=>(const Verdict&) const = default;
};

// The fields of an element key or value, held in place: every key of the skeleton
// has at most kMaxKeyFields fields and every value kMaxDataFields (skeleton_test
// checks it). Two heap vectors per element were two allocations and 80 bytes of
// heap overhead each, at 5 million elements.
template <std::size_t N>
class Fields {
 public:
  Fields() = default;
  Fields(std::initializer_list<Datum> fields) {  // NOLINT(google-explicit-constructor)
    for (const auto& f : fields) push_back(f);
  }
  Fields(const std::vector<Datum>& fields) {  // NOLINT(google-explicit-constructor)
    for (const auto& f : fields) push_back(f);
  }
  // Past N the field is dropped and the list marked: overflowed() is a compiler
  // bug (a skeleton set wider than N), never input.
  void push_back(const Datum& d) {
    if (size_ < N) {
      items_[size_++] = d;
    } else {
      overflowed_ = true;
    }
  }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  bool overflowed() const { return overflowed_; }
  const Datum* data() const { return items_.data(); }
  const Datum* begin() const { return items_.data(); }
  const Datum* end() const { return items_.data() + size_; }
  const Datum& operator[](std::size_t i) const { return items_[i]; }
  const Datum& front() const { return items_[0]; }
  const Datum& back() const { return items_[size_ - 1]; }
  bool operator==(const Fields& other) const {
    return std::equal(begin(), end(), other.begin(), other.end());
  }

 private:
  std::array<Datum, N> items_{};
  uint8_t size_ = 0;
  bool overflowed_ = false;
};
inline constexpr std::size_t kMaxKeyFields = 4;
inline constexpr std::size_t kMaxDataFields = 2;
using KeyFields = Fields<kMaxKeyFields>;
using DataFields = Fields<kMaxDataFields>;

// An element's comment ("namespace/name:port"): the same for every element of a
// Service port, so the text is held once and shared by them (a string each was a
// heap allocation per element and 32 bytes more: 5 million of them at 50,000 x
// 100). Reads as a const std::string&.
class Comment {
 public:
  Comment() = default;
  Comment(std::string text)  // NOLINT(google-explicit-constructor): text is a comment
      : text_(text.empty() ? nullptr : std::make_shared<const std::string>(std::move(text))) {}
  Comment(const char* text) : Comment(std::string(text)) {}  // NOLINT
  const std::string& str() const { return text_ ? *text_ : empty_(); }
  operator const std::string&() const { return str(); }  // NOLINT
  bool empty() const { return !text_; }
  std::size_t size() const { return str().size(); }
  bool operator==(const Comment& other) const { return str() == other.str(); }

 private:
  static const std::string& empty_() {
    static const std::string none;
    return none;
  }
  std::shared_ptr<const std::string> text_;
};

struct Element {
  KeyFields key;
  DataFields data;                 // for data maps
  std::optional<Verdict> verdict;  // for verdict maps
  Comment comment;                 // at most kMaxCommentBytes
};

inline constexpr std::size_t kMaxCommentBytes = 128;  // nft's limit for comments

// A field of a set key or value. `source` names the packet expression the field
// is declared by (`typeof`); kNone means declared by `type`.
enum class FieldType : uint8_t { kIpv4Addr, kIpv6Addr, kInetProto, kInetService, kInteger };
enum class FieldSource : uint8_t { kNone, kIpDaddr, kIp6Daddr, kMetaL4proto, kThDport, kNumgen };
struct Field {
  FieldType type = FieldType::kInteger;
  FieldSource source = FieldSource::kNone;
};

struct Set {
  std::string name;
  std::vector<Field> key;
  std::vector<Field> data;  // empty for sets and verdict maps
  bool verdictMap = false;
  bool interval = false;
  bool dynamic = false;  // updated from the packet path, with timeouts
  uint32_t size = 0;     // maximum element count; 0: the kernel's default
  bool autoMerge = false;
  std::vector<Element> elements;

  bool isMap() const { return verdictMap || !data.empty(); }
  bool usesTypeof() const;
  // The declaration as nft writes it, e.g. "type ipv4_addr . inet_proto : verdict"
  // or "typeof ip daddr . numgen random mod 2 : ip daddr".
  std::string declaration() const;
};

struct BaseChain {
  std::string type;      // "nat", "filter"
  std::string hook;      // "prerouting", ...
  std::string priority;  // "dstnat", "filter - 10", ...
};

// One rule: its nft text, and the same rule as the expressions the kernel runs
// (in the order and registers nft itself would use, so `nft list` reads it back
// as this text). Built together by RuleBuilder, so the two cannot drift apart.
struct Rule {
  std::string text;
  std::vector<Expr> exprs;
};

struct Chain {
  std::string name;
  std::optional<BaseChain> base;
  std::vector<Rule> rules;
  // Exists only while elements point at it (lb-v4-N, affinity-v4-Ts): its name
  // determines its one rule, and the diff adds and removes it like an element.
  bool generated = false;
};

struct Ruleset {
  std::string family = "inet";
  std::string table;
  std::vector<Set> sets;
  std::vector<Chain> chains;
  // Not for the kernel: Service ports (per family) whose Local traffic policy finds
  // no endpoint on this node while others exist elsewhere (kube-proxy's
  // sync_proxy_rules_no_local_endpoints_total, internal and external).
  int noLocalInternal = 0;
  int noLocalExternal = 0;
  // spec.externalIPs addresses left out (outside externalIPAllow).
  int refusedExternalIPs = 0;

  Set* findSet(const std::string& name);
  const Set* findSet(const std::string& name) const;
  std::size_t elementCount() const;
  std::size_t ruleCount() const;
};

}  // namespace svcnft::ir
