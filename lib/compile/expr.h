// Rule expressions as plain values: the kernel's nf_tables expressions (payload,
// meta, cmp, lookup, nat, ...) with their registers, and nothing of libnftnl.
// lib/nft turns each into a libnftnl expression one to one.
//
// Registers are numbered like the kernel's 32-bit registers (8-23, NFT_REG32_00
// onwards); nft names the ones on a 16-byte boundary by the old 16-byte numbers
// (8 is "reg 1", 12 is "reg 2"), and so do we when printing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace svcnft::ir {

inline constexpr uint32_t kRegVerdict = 0;
inline constexpr uint32_t kReg32First = 8;

struct Expr {
  enum class Op : uint8_t {
    kMetaLoad,   // key -> dreg
    kMetaSet,    // sreg -> key
    kPayload,    // base, offset, len -> dreg
    kCtLoad,     // key (dir) -> dreg
    kFib,        // flags, result -> dreg
    kCmp,        // sreg op data
    kBitwise,    // (sreg & mask) ^ xor -> dreg, len
    kByteorder,  // hton(sreg, len, size) -> dreg
    kLookup,     // sreg in set [-> dreg], invert
    kVerdict,    // immediate verdict: code, chain
    kNumgen,     // random mod modulus + offset -> dreg
    kNat,        // dnat: family, addr sreg, proto sreg, flags
    kMasq,       // flags
    kReject,     // type, code
    kDynset,     // update set { sreg : sreg2 timeout }
    kHash,       // jhash(sreg, len) % size, seed offset -> dreg
    kDup,        // a copy of the packet to the next hop in sreg
  };
  Op op = Op::kVerdict;
  uint32_t dreg = 0;
  uint32_t sreg = 0;
  uint32_t sreg2 = 0;         // nat proto_min, dynset data
  uint32_t key = 0;           // meta/ct key, payload base, fib result, cmp op, verdict code,
                              // nat family, reject type, bitwise/byteorder op
  uint32_t offset = 0;        // payload offset; numgen offset
  uint32_t len = 0;           // payload/bitwise/cmp length; byteorder len
  uint32_t size = 0;          // byteorder size; numgen modulus
  uint32_t flags = 0;         // lookup invert, fib flags, nat/masq flags, reject code, ct dir
  bool hasDir = false;        // ct load with a direction
  bool hasDreg = false;       // lookup: a map, with a destination register
  uint64_t timeoutMs = 0;     // dynset
  std::vector<uint8_t> data;  // cmp data; bitwise mask
  std::vector<uint8_t> xorData;
  std::string name;  // set or chain
};

}  // namespace svcnft::ir
