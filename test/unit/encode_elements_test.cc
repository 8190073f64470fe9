// The element messages a full sync sends, written straight with libmnl
// (nft::putElements), are byte for byte what libnftnl builds from element objects.
#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netlink.h>

#include <catch2/catch.hpp>
#include <numeric>
#include <vector>

#include "compile/compiler.h"
#include "generated_inputs.h"
#include "nft/batch.h"
#include "nft/encode.h"
#include "test_support.h"

using svcnft::ir::Ruleset;
using svcnft::ir::Set;

namespace {

using Build = void (*)(nlmsghdr*, const std::string&, const Set&, const std::vector<std::size_t>&);

std::vector<uint8_t> message(const std::string& table, const Set& s,
                             const std::vector<std::size_t>& indices, Build build) {
  std::vector<char> buf(1 << 22);
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(buf.data(), NFT_MSG_NEWSETELEM, 1, NLM_F_CREATE, 7);
  build(nlh, table, s, indices);
  return std::vector<uint8_t>(buf.data(), buf.data() + nlh->nlmsg_len);
}

void direct(nlmsghdr* nlh, const std::string& table, const Set& s,
            const std::vector<std::size_t>& indices) {
  svcnft::nft::putElements(nlh, table, s, indices);
}

void throughLibnftnl(nlmsghdr* nlh, const std::string& table, const Set& s,
                     const std::vector<std::size_t>& indices) {
  svcnft::nft::SetPtr p = svcnft::nft::encodeElementsAt(table, s, indices);
  nftnl_set_elems_nlmsg_build_payload(nlh, p.get());
}

// Every set but plain interval sets (merged and paired, always through libnftnl):
// all its elements, and every other one in reverse (a run of a diff's additions).
int checkSets(const Ruleset& rs, const std::string& where) {
  int checked = 0;
  for (const auto& s : rs.sets) {
    if (s.interval && s.key.size() == 1) continue;
    INFO(where + " set " + s.name);
    std::vector<std::size_t> all(s.elements.size());
    std::iota(all.begin(), all.end(), 0);
    CHECK(message(rs.table, s, all, direct) == message(rs.table, s, all, throughLibnftnl));
    std::vector<std::size_t> some;
    for (std::size_t i = all.size(); i-- > 0;) {
      if (i % 2 == 0) some.push_back(i);
    }
    CHECK(message(rs.table, s, some, direct) == message(rs.table, s, some, throughLibnftnl));
    checked += s.elements.empty() ? 0 : 1;
  }
  return checked;
}

}  // namespace

TEST_CASE("element messages written directly equal libnftnl's, for every example", "[encode]") {
  int sets = 0;
  for (auto& example : svcnft::testing::examples()) {
    REQUIRE_FALSE(example.diags.hasErrors());
    sets += checkSets(svcnft::compileRuleset(example.inputs, example.diags), example.name);
  }
  // Sets with elements: maps of values, verdict maps to chains and to drop,
  // concatenated ranges, comments.
  CHECK(sets > 100);
}

TEST_CASE("element messages written directly equal libnftnl's at scale", "[encode]") {
  svcnft::Diagnostics d;
  CHECK(checkSets(svcnft::compileRuleset(svcnft::testing::generate(200, 10), d), "generated") > 3);
}

TEST_CASE("an element comment past the userdata limit is written as libnftnl writes it",
          "[encode]") {
  Set s;
  s.name = "long-comments";
  s.key = {svcnft::ir::Field{svcnft::ir::FieldType::kIpv4Addr}};
  svcnft::ir::Element e;
  e.key = {*svcnft::IpAddress::parse("198.18.0.1")};
  e.comment = std::string(300, 'x');
  s.elements.push_back(e);
  e.key = {*svcnft::IpAddress::parse("198.18.0.2")};
  e.comment = std::string(253, 'y');  // the longest that fits: 2 + 253 + NUL = 256
  s.elements.push_back(e);
  const std::vector<std::size_t> both{0, 1};
  CHECK(message("t", s, both, direct) == message("t", s, both, throughLibnftnl));
}

TEST_CASE("a message's bytes do not depend on the message before it", "[encode]") {
  svcnft::Diagnostics d;
  const Ruleset rs = svcnft::compileRuleset(svcnft::testing::generate(20, 3), d);
  REQUIRE_FALSE(d.hasErrors());
  const Set* backends = rs.findSet("backends-v4");
  REQUIRE(backends != nullptr);
  std::vector<std::size_t> all(backends->elements.size());
  std::iota(all.begin(), all.end(), 0);
  auto elements = [&](nlmsghdr* nlh) { svcnft::nft::putElements(nlh, rs.table, *backends, all); };
  // Its attributes' padding: a long chain name written before must leave no trace.
  svcnft::nft::Batch after(1), alone(2);
  after.add(
      NFT_MSG_NEWCHAIN, 0,
      [](nlmsghdr* nlh) {
        std::string name(4000, 'x');
        mnl_attr_put_strz(nlh, NFTA_CHAIN_NAME, name.c_str());
      },
      "chain");
  // Element messages write their padding themselves; a message after them that
  // does not (libnftnl's) still starts from zeros.
  auto chain = [](nlmsghdr* nlh) { mnl_attr_put_strz(nlh, NFTA_CHAIN_NAME, "c"); };
  for (auto* b : {&after, &alone}) {
    b->add(NFT_MSG_NEWSETELEM, NLM_F_CREATE, elements, "elements",
           svcnft::nft::Batch::Padding::kZeroed);
    b->add(NFT_MSG_NEWCHAIN, 0, chain, "chain c");
  }
  const auto& a = after.bytes();
  const auto& b = alone.bytes();
  REQUIRE(a.size() > b.size());
  // Past the begin message (its sequence number differs): the same bytes.
  const std::size_t begin = 20;
  CHECK(std::vector<uint8_t>(a.end() - static_cast<std::ptrdiff_t>(b.size() - begin), a.end()) ==
        std::vector<uint8_t>(b.begin() + begin, b.end()));
}
