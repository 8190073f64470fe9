// Rules and their expressions.
#include <linux/netfilter/nf_tables.h>

#include <cstdio>
#include <vector>

#include "compile/rule_builder.h"
#include "nft/encode.h"

namespace svcnft::nft {

namespace {

using Op = ir::Expr::Op;

uint32_t reg(uint32_t r32) { return r32 == ir::kRegVerdict ? 0 : printedRegister(r32); }

ExprPtr make(const char* name) {
  ExprPtr e(nftnl_expr_alloc(name));
  return e;
}

}  // namespace

ExprPtr encodeExpr(const ir::Expr& x) {
  ExprPtr e;
  switch (x.op) {
    case Op::kMetaLoad:
      e = make("meta");
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_META_KEY, x.key);
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_META_DREG, reg(x.dreg));
      break;
    case Op::kMetaSet:
      e = make("meta");
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_META_KEY, x.key);
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_META_SREG, reg(x.sreg));
      break;
    case Op::kPayload:
      e = make("payload");
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_PAYLOAD_DREG, reg(x.dreg));
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_PAYLOAD_BASE, x.key);
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_PAYLOAD_OFFSET, x.offset);
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_PAYLOAD_LEN, x.len);
      break;
    case Op::kCtLoad:
      e = make("ct");
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_CT_KEY, x.key);
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_CT_DREG, reg(x.dreg));
      if (x.hasDir) nftnl_expr_set_u8(e.get(), NFTNL_EXPR_CT_DIR, static_cast<uint8_t>(x.flags));
      break;
    case Op::kFib:
      e = make("fib");
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_FIB_DREG, reg(x.dreg));
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_FIB_RESULT, x.key);
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_FIB_FLAGS, x.flags);
      break;
    case Op::kCmp:
      e = make("cmp");
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_CMP_SREG, reg(x.sreg));
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_CMP_OP, x.key);
      nftnl_expr_set(e.get(), NFTNL_EXPR_CMP_DATA, x.data.data(), x.data.size());
      break;
    case Op::kBitwise:
      e = make("bitwise");
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_BITWISE_SREG, reg(x.sreg));
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_BITWISE_DREG, reg(x.dreg));
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_BITWISE_LEN, x.len);
      nftnl_expr_set(e.get(), NFTNL_EXPR_BITWISE_MASK, x.data.data(), x.data.size());
      nftnl_expr_set(e.get(), NFTNL_EXPR_BITWISE_XOR, x.xorData.data(), x.xorData.size());
      break;
    case Op::kByteorder:
      e = make("byteorder");
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_BYTEORDER_SREG, reg(x.sreg));
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_BYTEORDER_DREG, reg(x.dreg));
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_BYTEORDER_OP, x.key);
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_BYTEORDER_LEN, x.len);
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_BYTEORDER_SIZE, x.size);
      break;
    case Op::kLookup:
      e = make("lookup");
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_LOOKUP_SREG, reg(x.sreg));
      nftnl_expr_set_str(e.get(), NFTNL_EXPR_LOOKUP_SET, x.name.c_str());
      if (x.hasDreg) nftnl_expr_set_u32(e.get(), NFTNL_EXPR_LOOKUP_DREG, reg(x.dreg));
      if (x.flags) nftnl_expr_set_u32(e.get(), NFTNL_EXPR_LOOKUP_FLAGS, x.flags);
      break;
    case Op::kVerdict:
      e = make("immediate");
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_IMM_VERDICT, x.key);
      if (!x.name.empty()) nftnl_expr_set_str(e.get(), NFTNL_EXPR_IMM_CHAIN, x.name.c_str());
      break;
    case Op::kNumgen:
      e = make("numgen");
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_NG_DREG, reg(x.dreg));
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_NG_MODULUS, x.size);
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_NG_TYPE, NFT_NG_RANDOM);
      if (x.offset) nftnl_expr_set_u32(e.get(), NFTNL_EXPR_NG_OFFSET, x.offset);
      break;
    case Op::kHash:
      e = make("hash");
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_HASH_TYPE, NFT_HASH_JENKINS);
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_HASH_SREG, reg(x.sreg));
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_HASH_DREG, reg(x.dreg));
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_HASH_LEN, x.len);
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_HASH_MODULUS, x.size);
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_HASH_SEED, x.offset);
      break;
    case Op::kNat:
      e = make("nat");
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_NAT_FAMILY, x.key);
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_NAT_REG_ADDR_MIN, reg(x.sreg));
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_NAT_REG_PROTO_MIN, reg(x.sreg2));
      if (x.flags) nftnl_expr_set_u32(e.get(), NFTNL_EXPR_NAT_FLAGS, x.flags);
      break;
    case Op::kDup:
      e = make("dup");
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_DUP_SREG_ADDR, reg(x.sreg));
      break;
    case Op::kMasq:
      e = make("masq");
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_MASQ_FLAGS, x.flags);
      break;
    case Op::kReject:
      e = make("reject");
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_REJECT_TYPE, x.key);
      nftnl_expr_set_u8(e.get(), NFTNL_EXPR_REJECT_CODE, static_cast<uint8_t>(x.flags));
      break;
    case Op::kDynset:
      e = make("dynset");
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_DYNSET_SREG_KEY, reg(x.sreg));
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_DYNSET_SREG_DATA, reg(x.sreg2));
      nftnl_expr_set_u32(e.get(), NFTNL_EXPR_DYNSET_OP, x.key);
      nftnl_expr_set_str(e.get(), NFTNL_EXPR_DYNSET_SET_NAME, x.name.c_str());
      nftnl_expr_set_u64(e.get(), NFTNL_EXPR_DYNSET_TIMEOUT, x.timeoutMs);
      break;
  }
  return e;
}

RulePtr encodeRule(const std::string& table, const std::string& chain, const ir::Rule& rule) {
  RulePtr r(nftnl_rule_alloc());
  nftnl_rule_set_u32(r.get(), NFTNL_RULE_FAMILY, kFamily);
  nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, table.c_str());
  nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, chain.c_str());
  for (const auto& x : rule.exprs) {
    ExprPtr e = encodeExpr(x);
    nftnl_rule_add_expr(r.get(), e.release());  // the rule owns it now
  }
  return r;
}

std::string bytecode(const std::string& table, const std::string& chain, const ir::Rule& rule) {
  RulePtr r = encodeRule(table, chain, rule);
  std::vector<char> buf(1 << 16);
  nftnl_rule_snprintf(buf.data(), buf.size(), r.get(), NFTNL_OUTPUT_DEFAULT, 0);
  return buf.data();
}

}  // namespace svcnft::nft
