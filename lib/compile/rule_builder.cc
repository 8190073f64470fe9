#include "compile/rule_builder.h"

#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/rtnetlink.h>
#include <net/if.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace svcnft {

namespace {

using ir::Expr;
using Op = ir::Expr::Op;

std::vector<uint8_t> hostU32(uint32_t v) {
  std::vector<uint8_t> b(4);
  std::memcpy(b.data(), &v, 4);
  return b;
}

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

uint32_t fieldBytes(const RuleBuilder::Field& f) {
  using K = RuleBuilder::Field::Kind;
  switch (f.kind) {
    case K::kAddress:
      return f.family == IpFamily::kV4 ? 4 : 16;
    case K::kL4proto:
      return 1;
    case K::kPort:
      return 2;
    case K::kNumgen:
    case K::kClientFrontHash:
      return 4;
  }
  return 4;
}

uint32_t registersFor(uint32_t bytes) { return (bytes + 3) / 4; }

const char* ipName(IpFamily f) { return f == IpFamily::kV4 ? "ip" : "ip6"; }
const char* dirName(RuleBuilder::Dir d) {
  return d == RuleBuilder::Dir::kSource ? "saddr" : "daddr";
}

}  // namespace

uint32_t printedRegister(uint32_t reg32) {
  if (reg32 >= ir::kReg32First && (reg32 - ir::kReg32First) % 4 == 0) {
    return NFT_REG_1 + (reg32 - ir::kReg32First) / 4;
  }
  return reg32;
}

void RuleBuilder::word(const std::string& text) {
  if (!text_.empty()) text_ += " ";
  text_ += text;
}

void RuleBuilder::metaCompare(uint32_t metaKey, uint32_t cmpOp, std::vector<uint8_t> data) {
  Expr load{Op::kMetaLoad};
  load.key = metaKey;
  load.dreg = ir::kReg32First;
  exprs_.push_back(load);
  Expr cmp{Op::kCmp};
  cmp.sreg = ir::kReg32First;
  cmp.key = cmpOp;
  cmp.data = std::move(data);
  exprs_.push_back(cmp);
}

void RuleBuilder::needFamily(IpFamily f) {
  if (familyKnown_) return;
  familyKnown_ = true;
  metaCompare(NFT_META_NFPROTO, NFT_CMP_EQ,
              {static_cast<uint8_t>(f == IpFamily::kV4 ? NFPROTO_IPV4 : NFPROTO_IPV6)});
}

std::string RuleBuilder::fieldsText(const std::vector<Field>& fields) const {
  std::string out;
  for (const auto& f : fields) {
    if (!out.empty()) out += " . ";
    switch (f.kind) {
      case Field::Kind::kAddress:
        out += std::string(ipName(f.family)) + " " + dirName(f.dir);
        break;
      case Field::Kind::kL4proto:
        out += "meta l4proto";
        break;
      case Field::Kind::kPort:
        out += f.dir == Dir::kSource ? "th sport" : "th dport";
        break;
      case Field::Kind::kNumgen:
        out += "numgen random mod " + std::to_string(f.modulus);
        if (f.offset) out += " offset " + std::to_string(f.offset);
        break;
      case Field::Kind::kClientFrontHash: {
        const Dir front = f.dir == Dir::kSource ? Dir::kDestination : Dir::kSource;
        out += std::string("jhash ") + ipName(f.family) + " " + dirName(f.dir) + " . " +
               ipName(f.family) + " " + dirName(front) + " mod " + std::to_string(f.modulus) +
               " seed " + hex32(f.offset);
        break;
      }
    }
  }
  return out;
}

uint32_t RuleBuilder::load(const std::vector<Field>& fields, uint32_t first, bool intervalConcat,
                           uint32_t scratch) {
  uint32_t keyRegisters = 0;
  for (const auto& f : fields) {
    if (f.kind == Field::Kind::kAddress || f.kind == Field::Kind::kClientFrontHash) {
      needFamily(f.family);
    }
    keyRegisters += registersFor(fieldBytes(f));
  }
  // nft gives a key of more than one register a 16-byte register at least.
  if (scratch == 0) scratch = first + std::max<uint32_t>(keyRegisters, 4);
  uint32_t reg = first;
  for (const auto& f : fields) {
    Expr e;
    e.dreg = reg;
    switch (f.kind) {
      case Field::Kind::kClientFrontHash: {
        // Both addresses into scratch registers, then the hash of the 32 bytes.
        const Dir front = f.dir == Dir::kSource ? Dir::kDestination : Dir::kSource;
        uint32_t at = scratch;
        for (Dir d : {f.dir, front}) {
          Expr addr{Op::kPayload};
          addr.dreg = at;
          addr.key = NFT_PAYLOAD_NETWORK_HEADER;
          const bool v4 = f.family == IpFamily::kV4;
          addr.offset = d == Dir::kSource ? (v4 ? 12 : 8) : (v4 ? 16 : 24);
          addr.len = v4 ? 4 : 16;
          exprs_.push_back(addr);
          at += registersFor(addr.len);
        }
        e.op = Op::kHash;
        e.sreg = scratch;
        e.len = f.family == IpFamily::kV4 ? 8 : 32;
        e.size = f.modulus;
        e.offset = f.offset;
        break;
      }
      case Field::Kind::kAddress: {
        const bool v4 = f.family == IpFamily::kV4;
        e.op = Op::kPayload;
        e.key = NFT_PAYLOAD_NETWORK_HEADER;
        e.offset = f.dir == Dir::kSource ? (v4 ? 12 : 8) : (v4 ? 16 : 24);
        e.len = v4 ? 4 : 16;
        break;
      }
      case Field::Kind::kL4proto:
        e.op = Op::kMetaLoad;
        e.key = NFT_META_L4PROTO;
        break;
      case Field::Kind::kPort:
        e.op = Op::kPayload;
        e.key = NFT_PAYLOAD_TRANSPORT_HEADER;
        e.offset = f.dir == Dir::kSource ? 0 : 2;
        e.len = 2;
        break;
      case Field::Kind::kNumgen:
        e.op = Op::kNumgen;
        e.size = f.modulus;
        e.offset = f.offset;
        break;
    }
    exprs_.push_back(e);
    // nft widens the protocol byte to two in keys of concatenated-range sets.
    if (intervalConcat && f.kind == Field::Kind::kL4proto) {
      Expr swap{Op::kByteorder};
      swap.sreg = swap.dreg = reg;
      swap.key = NFT_BYTEORDER_HTON;
      swap.len = 1;
      swap.size = 2;
      exprs_.push_back(swap);
    }
    reg += registersFor(fieldBytes(f));
  }
  return reg;
}

RuleBuilder& RuleBuilder::nfproto(IpFamily f) {
  word(std::string("meta nfproto ") + (f == IpFamily::kV4 ? "ipv4" : "ipv6"));
  needFamily(f);
  return *this;
}

RuleBuilder& RuleBuilder::l4protoIs(uint8_t proto, const char* name) {
  word(std::string("meta l4proto ") + name);
  metaCompare(NFT_META_L4PROTO, NFT_CMP_EQ, {proto});
  return *this;
}

namespace {

// (reg & mask) ^ 0 != 0 on a 32-bit conntrack or mark field.
void bitTest(std::vector<Expr>& out, uint32_t mask, uint32_t cmpOp) {
  Expr bw{Op::kBitwise};
  bw.sreg = bw.dreg = ir::kReg32First;
  bw.len = 4;
  bw.data = hostU32(mask);
  bw.xorData = hostU32(0);
  out.push_back(bw);
  Expr cmp{Op::kCmp};
  cmp.sreg = ir::kReg32First;
  cmp.key = cmpOp;
  cmp.data = hostU32(0);
  out.push_back(cmp);
}

Expr ctLoad(uint32_t key) {
  Expr e{Op::kCtLoad};
  e.key = key;
  e.dreg = ir::kReg32First;
  return e;
}

}  // namespace

RuleBuilder& RuleBuilder::ctStatusDnat() {
  word("ct status dnat");
  exprs_.push_back(ctLoad(NFT_CT_STATUS));
  bitTest(exprs_, IPS_DST_NAT, NFT_CMP_NEQ);
  return *this;
}

RuleBuilder& RuleBuilder::ctStateNew() {
  word("ct state new");
  exprs_.push_back(ctLoad(NFT_CT_STATE));
  bitTest(exprs_, NF_CT_STATE_BIT(IP_CT_NEW), NFT_CMP_NEQ);
  return *this;
}

RuleBuilder& RuleBuilder::ctDirectionReply() {
  word("ct direction reply");
  exprs_.push_back(ctLoad(NFT_CT_DIRECTION));
  Expr cmp{Op::kCmp};
  cmp.sreg = ir::kReg32First;
  cmp.key = NFT_CMP_EQ;
  cmp.data = {IP_CT_DIR_REPLY};
  exprs_.push_back(cmp);
  return *this;
}

RuleBuilder& RuleBuilder::fibLocal(Dir d) {
  word(std::string("fib ") + dirName(d) + " type local");
  Expr fib{Op::kFib};
  fib.dreg = ir::kReg32First;
  fib.key = NFT_FIB_RESULT_ADDRTYPE;
  fib.flags = d == Dir::kSource ? NFTA_FIB_F_SADDR : NFTA_FIB_F_DADDR;
  exprs_.push_back(fib);
  Expr cmp{Op::kCmp};
  cmp.sreg = ir::kReg32First;
  cmp.key = NFT_CMP_EQ;
  cmp.data = hostU32(RTN_LOCAL);
  exprs_.push_back(cmp);
  return *this;
}

RuleBuilder& RuleBuilder::notLoopback(IpFamily f, Dir d) {
  const bool v4 = f == IpFamily::kV4;
  word(std::string(ipName(f)) + " " + dirName(d) + " != " + (v4 ? "127.0.0.0/8" : "::1"));
  needFamily(f);
  Expr load{Op::kPayload};
  load.dreg = ir::kReg32First;
  load.key = NFT_PAYLOAD_NETWORK_HEADER;
  // 127.0.0.0/8 is a test of the first byte only; ::1 of all sixteen.
  load.offset = d == Dir::kSource ? (v4 ? 12 : 8) : (v4 ? 16 : 24);
  load.len = v4 ? 1 : 16;
  exprs_.push_back(load);
  Expr cmp{Op::kCmp};
  cmp.sreg = ir::kReg32First;
  cmp.key = NFT_CMP_NEQ;
  if (v4) {
    cmp.data = {127};
  } else {
    cmp.data.assign(16, 0);
    cmp.data[15] = 1;
  }
  exprs_.push_back(cmp);
  return *this;
}

RuleBuilder& RuleBuilder::markBitClear(uint32_t bit) {
  word("meta mark & " + hex32(bit) + " == 0");
  Expr load{Op::kMetaLoad};
  load.key = NFT_META_MARK;
  load.dreg = ir::kReg32First;
  exprs_.push_back(load);
  bitTest(exprs_, bit, NFT_CMP_EQ);
  return *this;
}

RuleBuilder& RuleBuilder::tcpAckWithoutSyn() {
  word("tcp flags ack / syn,ack");
  // nft's dependency for a transport header field: meta l4proto tcp first.
  metaCompare(NFT_META_L4PROTO, NFT_CMP_EQ, {IPPROTO_TCP});
  constexpr uint8_t kSyn = 0x02, kAck = 0x10;
  Expr flags{Op::kPayload};
  flags.dreg = ir::kReg32First;
  flags.key = NFT_PAYLOAD_TRANSPORT_HEADER;
  flags.offset = 13;
  flags.len = 1;
  exprs_.push_back(flags);
  Expr bw{Op::kBitwise};
  bw.sreg = bw.dreg = ir::kReg32First;
  bw.len = 1;
  bw.data = {kSyn | kAck};
  bw.xorData = {0};
  exprs_.push_back(bw);
  Expr cmp{Op::kCmp};
  cmp.sreg = ir::kReg32First;
  cmp.key = NFT_CMP_EQ;
  cmp.data = {kAck};
  exprs_.push_back(cmp);
  return *this;
}

RuleBuilder& RuleBuilder::iifname(const std::string& name, bool prefix, bool invert) {
  word(std::string("iifname ") + (invert ? "!= " : "") + "\"" + name + (prefix ? "*" : "") + "\"");
  // A whole name is compared with its padding (IFNAMSIZ bytes); a prefix, only its bytes.
  std::vector<uint8_t> bytes(name.begin(), name.end());
  if (!prefix) bytes.resize(IFNAMSIZ, 0);
  metaCompare(NFT_META_IIFNAME, invert ? NFT_CMP_NEQ : NFT_CMP_EQ, std::move(bytes));
  return *this;
}

RuleBuilder& RuleBuilder::inSet(const std::vector<Field>& fields, const std::string& set,
                                bool invert, bool intervalConcat) {
  word(fieldsText(fields) + (invert ? " != @" : " @") + set);
  load(fields, ir::kReg32First, intervalConcat);
  Expr lookup{Op::kLookup};
  lookup.sreg = ir::kReg32First;
  lookup.name = set;
  lookup.flags = invert ? NFT_LOOKUP_F_INV : 0;
  exprs_.push_back(lookup);
  return *this;
}

RuleBuilder& RuleBuilder::vmap(const std::vector<Field>& fields, const std::string& map) {
  word(fieldsText(fields) + " vmap @" + map);
  load(fields, ir::kReg32First);
  Expr lookup{Op::kLookup};
  lookup.sreg = ir::kReg32First;
  lookup.dreg = ir::kRegVerdict;
  lookup.flags = 0;
  lookup.name = map;
  lookup.hasDreg = true;
  exprs_.push_back(lookup);
  return *this;
}

void RuleBuilder::verdict(int code, const std::string& chain, const std::string& text) {
  word(text);
  Expr e{Op::kVerdict};
  e.key = static_cast<uint32_t>(code);
  e.name = chain;
  exprs_.push_back(e);
}

RuleBuilder& RuleBuilder::jump(const std::string& chain) {
  verdict(NFT_JUMP, chain, "jump " + chain);
  return *this;
}
RuleBuilder& RuleBuilder::goTo(const std::string& chain) {
  verdict(NFT_GOTO, chain, "goto " + chain);
  return *this;
}
RuleBuilder& RuleBuilder::drop() {
  verdict(NF_DROP, "", "drop");
  return *this;
}
RuleBuilder& RuleBuilder::ret() {
  verdict(NFT_RETURN, "", "return");
  return *this;
}

namespace {

void markSet(std::vector<Expr>& out, uint32_t mask, uint32_t xorValue) {
  Expr load{Op::kMetaLoad};
  load.key = NFT_META_MARK;
  load.dreg = ir::kReg32First;
  out.push_back(load);
  Expr bw{Op::kBitwise};
  bw.sreg = bw.dreg = ir::kReg32First;
  bw.len = 4;
  bw.data = hostU32(mask);
  bw.xorData = hostU32(xorValue);
  out.push_back(bw);
  Expr set{Op::kMetaSet};
  set.key = NFT_META_MARK;
  set.sreg = ir::kReg32First;
  out.push_back(set);
}

}  // namespace

RuleBuilder& RuleBuilder::markSetOr(uint32_t bit) {
  word("meta mark set meta mark | " + hex32(bit));
  markSet(exprs_, ~bit, bit);  // x | b == (x & ~b) ^ b
  return *this;
}

RuleBuilder& RuleBuilder::markSetXor(uint32_t bit) {
  word("meta mark set meta mark ^ " + hex32(bit));
  markSet(exprs_, 0xffffffffu, bit);
  return *this;
}

RuleBuilder& RuleBuilder::masqueradeFullyRandom() {
  word("masquerade fully-random");
  Expr e{Op::kMasq};
  e.flags = NF_NAT_RANGE_PROTO_RANDOM_FULLY;
  exprs_.push_back(e);
  return *this;
}

RuleBuilder& RuleBuilder::reject(uint32_t type, uint32_t code, const std::string& text) {
  word(text);
  Expr e{Op::kReject};
  e.key = type;
  e.flags = code;
  exprs_.push_back(e);
  return *this;
}

RuleBuilder& RuleBuilder::rejectTcpReset() {
  return reject(NFT_REJECT_TCP_RST, 0, "reject with tcp reset");
}

RuleBuilder& RuleBuilder::rejectIcmpxPortUnreachable() {
  return reject(NFT_REJECT_ICMPX_UNREACH, NFT_REJECT_ICMPX_PORT_UNREACH,
                "reject with icmpx port-unreachable");
}

namespace {

Expr mapLookup(const std::string& map, uint32_t reg) {
  Expr e{Op::kLookup};
  e.sreg = reg;
  e.dreg = reg;  // the value replaces the key
  e.hasDreg = true;
  e.name = map;
  return e;
}

Expr dnat(IpFamily f, uint32_t addrReg, uint32_t portReg, uint32_t flags) {
  Expr e{Op::kNat};
  e.key = f == IpFamily::kV4 ? NFPROTO_IPV4 : NFPROTO_IPV6;
  e.sreg = addrReg;
  e.sreg2 = portReg;
  e.flags = flags;
  return e;
}

}  // namespace

RuleBuilder& RuleBuilder::dnatAddrPortMaps(IpFamily f, const std::vector<Field>& key,
                                           const std::string& addrMap,
                                           const std::vector<Field>& portKey,
                                           const std::string& portMap) {
  word(std::string("dnat ") + ipName(f) + " to " + fieldsText(key) + " map @" + addrMap + " : " +
       fieldsText(portKey) + " map @" + portMap);
  const uint32_t addrReg = ir::kReg32First;
  // nft holds the address and the port registers (16 bytes each) before loading
  // either key: a hash's inputs go after both.
  load(key, addrReg, false, addrReg + 8);
  exprs_.push_back(mapLookup(addrMap, addrReg));
  // The key's registers are free again; the address holds one 16-byte register.
  const uint32_t portReg = addrReg + 4;
  load(portKey, portReg);
  exprs_.push_back(mapLookup(portMap, portReg));
  exprs_.push_back(dnat(f, addrReg, portReg, NF_NAT_RANGE_PROTO_SPECIFIED));
  return *this;
}

RuleBuilder& RuleBuilder::dnatConcatMap(IpFamily f, const std::vector<Field>& key,
                                        const std::string& map) {
  word(std::string("dnat ") + ipName(f) + " to " + fieldsText(key) + " map @" + map);
  const uint32_t reg = ir::kReg32First;
  load(key, reg);
  exprs_.push_back(mapLookup(map, reg));
  // The value is address . port: the port sits in the register after the address.
  const uint32_t portReg = reg + registersFor(f == IpFamily::kV4 ? 4 : 16);
  exprs_.push_back(dnat(f, reg, portReg, 0));
  return *this;
}

RuleBuilder& RuleBuilder::dupToMap(IpFamily f, const std::vector<Field>& key,
                                   const std::string& map) {
  word(std::string("dup to ") + fieldsText(key) + " map @" + map);
  (void)f;
  const uint32_t reg = ir::kReg32First;
  load(key, reg);
  exprs_.push_back(mapLookup(map, reg));
  Expr dup{Op::kDup};
  dup.sreg = reg;
  exprs_.push_back(dup);
  return *this;
}

RuleBuilder& RuleBuilder::updateWithReplySource(IpFamily f, const std::vector<Field>& key,
                                                const std::string& set, uint32_t timeoutSeconds) {
  word("update @" + set + " { " + fieldsText(key) + " timeout " + std::to_string(timeoutSeconds) +
       "s : ct reply " + ipName(f) + " saddr }");
  const uint32_t dataReg = load(key, ir::kReg32First);
  Expr ct{Op::kCtLoad};
  ct.key = f == IpFamily::kV4 ? NFT_CT_SRC_IP : NFT_CT_SRC_IP6;
  ct.dreg = dataReg;
  ct.hasDir = true;
  ct.flags = IP_CT_DIR_REPLY;
  exprs_.push_back(ct);
  Expr dyn{Op::kDynset};
  dyn.sreg = ir::kReg32First;
  dyn.sreg2 = dataReg;
  dyn.key = NFT_DYNSET_OP_UPDATE;
  dyn.name = set;
  dyn.timeoutMs = static_cast<uint64_t>(timeoutSeconds) * 1000;
  exprs_.push_back(dyn);
  return *this;
}

ir::Rule RuleBuilder::build() { return ir::Rule{std::move(text_), std::move(exprs_)}; }

}  // namespace svcnft
