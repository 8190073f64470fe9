// RuleBuilder: writes one rule twice at once, as nft text and as kernel
// expressions, so the dry-run dump and what the writer sends cannot disagree.
//
// It mirrors nft 1.0.6's linearisation (checked against `nft --debug=netlink` by
// test/netns/bytecode_check.sh): the `meta nfproto` dependency before the first
// IPv4/IPv6 header field of a rule in an inet table; concatenations loaded into
// consecutive 32-bit registers from NFT_REG32_00; registers reused from the start
// after each match, and kept within one statement.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "compile/ir.h"
#include "model/address.h"

namespace svcnft {

class RuleBuilder {
 public:
  enum class Dir : uint8_t { kSource, kDestination };
  // One field of a concatenation.
  struct Field {
    enum class Kind : uint8_t { kAddress, kL4proto, kPort, kNumgen, kClientFrontHash } kind;
    IpFamily family = IpFamily::kV4;
    Dir dir = Dir::kDestination;  // kClientFrontHash: where the client's address is
    uint32_t modulus = 0;         // numgen
    uint32_t offset = 0;          // numgen; kClientFrontHash: the seed
  };
  static Field address(IpFamily f, Dir d) { return {Field::Kind::kAddress, f, d}; }
  static Field l4proto() { return {Field::Kind::kL4proto}; }
  static Field port(Dir d) { return {Field::Kind::kPort, IpFamily::kV4, d}; }
  static Field numgen(uint32_t modulus, uint32_t offset) {
    return {Field::Kind::kNumgen, IpFamily::kV4, Dir::kDestination, modulus, offset};
  }
  // jhash CLIENT . FRONT mod 2^32-1 seed SEED, over two addresses of family f; the
  // client's is the `client` one of the header (source going in, destination in
  // the reply). 32 bits of the pair, to key a dynamic map within 16 bytes.
  static Field clientFrontHash(IpFamily f, Dir client, uint32_t seed) {
    return {Field::Kind::kClientFrontHash, f, client, kHashModulus, seed};
  }
  static constexpr uint32_t kHashModulus = 0xffffffff;

  // For a table of family ip or ip6: the family is the table's, so no `meta
  // nfproto` dependency is written (nft writes none there, and its listing
  // asserts on one it did not expect).
  RuleBuilder& inSingleFamilyTable() {
    familyKnown_ = true;
    return *this;
  }

  // --- matches ---
  RuleBuilder& nfproto(IpFamily f);                         // meta nfproto ipv4
  RuleBuilder& l4protoIs(uint8_t proto, const char* name);  // meta l4proto tcp
  RuleBuilder& ctStatusDnat();                              // ct status dnat
  RuleBuilder& ctStateNew();                                // ct state new
  RuleBuilder& ctDirectionReply();                          // ct direction reply
  RuleBuilder& fibLocal(Dir d);                             // fib saddr type local
  RuleBuilder& notLoopback(IpFamily f, Dir d);              // ip daddr != 127.0.0.0/8
  RuleBuilder& markBitClear(uint32_t bit);                  // meta mark & BIT == 0
  RuleBuilder& tcpAckWithoutSyn();  // tcp flags ack / syn,ack: not a connection's start
  // iifname "cbr0" / iifname != "veth*" (prefix: every name starting with `name`)
  RuleBuilder& iifname(const std::string& name, bool prefix, bool invert = false);
  // FIELDS @set / FIELDS != @set (intervalConcat: the set has concatenated ranges)
  RuleBuilder& inSet(const std::vector<Field>& fields, const std::string& set, bool invert = false,
                     bool intervalConcat = false);

  // --- statements (each ends the rule) ---
  RuleBuilder& vmap(const std::vector<Field>& fields, const std::string& map);
  RuleBuilder& jump(const std::string& chain);
  RuleBuilder& goTo(const std::string& chain);
  // dup to KEY map @map: a copy, unchanged, to the next hop the map gives (the
  // caller drops the original).
  RuleBuilder& dupToMap(IpFamily f, const std::vector<Field>& key, const std::string& map);
  RuleBuilder& drop();
  RuleBuilder& ret();
  RuleBuilder& markSetOr(uint32_t bit);   // meta mark set meta mark | BIT
  RuleBuilder& markSetXor(uint32_t bit);  // meta mark set meta mark ^ BIT
  RuleBuilder& masqueradeFullyRandom();
  RuleBuilder& rejectTcpReset();
  RuleBuilder& rejectIcmpxPortUnreachable();
  // dnat ip to KEY map @addrMap : PORTKEY map @portMap
  RuleBuilder& dnatAddrPortMaps(IpFamily f, const std::vector<Field>& key,
                                const std::string& addrMap, const std::vector<Field>& portKey,
                                const std::string& portMap);
  // dnat ip to KEY map @map, the map giving address . port
  RuleBuilder& dnatConcatMap(IpFamily f, const std::vector<Field>& key, const std::string& map);
  // update @set { KEY timeout Ts : ct reply ip saddr }
  RuleBuilder& updateWithReplySource(IpFamily f, const std::vector<Field>& key,
                                     const std::string& set, uint32_t timeoutSeconds);

  ir::Rule build();  // moves the rule out; the builder is spent

 private:
  void word(const std::string& text);
  // Loads fields from register `first` on; returns the next free register. A hash
  // field's inputs go to `scratch` on (0: right after the key, as nft places them).
  uint32_t load(const std::vector<Field>& fields, uint32_t first, bool intervalConcat = false,
                uint32_t scratch = 0);
  std::string fieldsText(const std::vector<Field>& fields) const;
  void needFamily(IpFamily f);
  // meta KEY load into the first register, compared (cmpOp) with `data`.
  void metaCompare(uint32_t metaKey, uint32_t cmpOp, std::vector<uint8_t> data);
  void verdict(int code, const std::string& chain, const std::string& text);
  RuleBuilder& reject(uint32_t type, uint32_t code, const std::string& text);

  std::string text_;
  std::vector<ir::Expr> exprs_;
  bool familyKnown_ = false;
};

// Register number as nft prints it ("reg 1" for 8, "reg 2" for 12, else itself).
uint32_t printedRegister(uint32_t reg32);

}  // namespace svcnft
