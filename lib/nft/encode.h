// IR → libnftnl objects: pure message builders, no socket (lib/netlink sends them).
// Every nftnl handle is owned by a unique_ptr from the moment it is allocated;
// ownership passes into libnftnl only where libnftnl takes it (rule ← expr,
// set ← element).
#pragma once

#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "compile/ir.h"
#include "diff/element_diff.h"

namespace svcnft::nft {

struct TableDeleter {
  void operator()(nftnl_table* t) const { nftnl_table_free(t); }
};
struct ChainDeleter {
  void operator()(nftnl_chain* c) const { nftnl_chain_free(c); }
};
struct RuleDeleter {
  void operator()(nftnl_rule* r) const { nftnl_rule_free(r); }
};
struct SetDeleter {
  void operator()(nftnl_set* s) const { nftnl_set_free(s); }
};
struct ExprDeleter {
  void operator()(nftnl_expr* e) const { nftnl_expr_free(e); }
};
using TablePtr = std::unique_ptr<nftnl_table, TableDeleter>;
using ChainPtr = std::unique_ptr<nftnl_chain, ChainDeleter>;
using RulePtr = std::unique_ptr<nftnl_rule, RuleDeleter>;
using SetPtr = std::unique_ptr<nftnl_set, SetDeleter>;
using ExprPtr = std::unique_ptr<nftnl_expr, ExprDeleter>;

inline constexpr uint16_t kFamily = 1;  // NFPROTO_INET

TablePtr encodeTable(const std::string& table);
ChainPtr encodeChain(const std::string& table, const ir::Chain& chain);
RulePtr encodeRule(const std::string& table, const std::string& chain, const ir::Rule& rule);
ExprPtr encodeExpr(const ir::Expr& expr);

// The set declaration, without elements. `id` ties it to lookups in the same batch.
SetPtr encodeSet(const std::string& table, const ir::Set& set, uint32_t id);
// A set handle carrying elements [first, last) of `set`, for one NEWSETELEM message.
SetPtr encodeElements(const std::string& table, const ir::Set& set, std::size_t first,
                      std::size_t last);

// A set handle carrying the elements at `indices` (a plain interval set: all, paired).
SetPtr encodeElementsAt(const std::string& table, const ir::Set& set,
                        const std::vector<std::size_t>& indices);
// The payload of a NEWSETELEM message carrying the elements at `indices` of `set`
// (not a plain interval set: those go through encodeElements, merged and paired),
// written straight into `nlh`: the bytes libnftnl builds from encodeElementsAt(),
// without an element object per element (encode_elements.cc). Writes every byte
// of its attributes, padding included (Batch::Padding::kZeroed).
void putElements(nlmsghdr* nlh, const std::string& table, const ir::Set& set,
                 std::span<const std::size_t> indices);
// A set handle naming elements to delete, by the key (and range end) they have.
SetPtr encodeDeletes(const std::string& table, const std::string& set,
                     const std::vector<diff::ElementRecord>& records);

// The bytes of an element key or value, in place: the kernel's limit for a key or
// value is 16 registers of 4 bytes. Built for every element of every sync, where a
// heap vector grown field by field cost an allocation or two per element.
class ElementBytes {
 public:
  static constexpr std::size_t kCapacity = 64;
  // `n` bytes, then zeros up to `padTo`; what would pass the kernel's limit is cut
  // there (no set of the skeleton comes near it).
  void append(const void* p, std::size_t n, std::size_t padTo) {
    const std::size_t copy = std::min(n, kCapacity - size_);
    std::memcpy(bytes_.data() + size_, p, copy);
    const std::size_t zeros = std::min(padTo - n, kCapacity - size_ - copy);
    std::memset(bytes_.data() + size_ + copy, 0, zeros);
    size_ += copy + zeros;
  }
  const uint8_t* data() const { return bytes_.data(); }
  std::size_t size() const { return size_; }
  const uint8_t* begin() const { return bytes_.data(); }
  const uint8_t* end() const { return bytes_.data() + size_; }

 private:
  std::array<uint8_t, kCapacity> bytes_;
  std::size_t size_ = 0;
};

// The bytes an element key or value is sent as: each field in network order, padded
// to 4 bytes in a concatenation; `end`: CIDRs give their last address (range ends).
ElementBytes elementBytes(std::span<const ir::Datum> fields, bool end = false);

// The kernel's code for a verdict element (NFT_GOTO, NFT_JUMP, NF_DROP).
int verdictCode(const ir::Verdict& v);

// "inet svcnft CHAIN\n  [ payload load ... ]\n..." as `nft --debug=netlink` prints rules.
std::string bytecode(const std::string& table, const std::string& chain, const ir::Rule& rule);

}  // namespace svcnft::nft
