// The diff's records of desired elements are built directly from the IR; they
// must be byte for byte what libnftnl encodes (and so what the kernel reports).
#include "nft/records.h"

#include <catch2/catch.hpp>

#include "compile/compiler.h"
#include "generated_inputs.h"
#include "test_support.h"

TEST_CASE("direct element records equal libnftnl's, for every example", "[records]") {
  int sets = 0;
  for (auto& example : svcnft::testing::examples()) {
    REQUIRE_FALSE(example.diags.hasErrors());
    const svcnft::ir::Ruleset rs = svcnft::compileRuleset(example.inputs, example.diags);
    for (const auto& s : rs.sets) {
      INFO(example.name + " " + s.name);
      CHECK(svcnft::nft::desiredRecords(rs.table, s) == svcnft::nft::encodedRecords(rs.table, s));
      ++sets;
    }
  }
  CHECK(sets > 500);
}

TEST_CASE("direct element records equal libnftnl's at scale", "[records]") {
  svcnft::Diagnostics d;
  const svcnft::ir::Ruleset rs = svcnft::compileRuleset(svcnft::testing::generate(200, 10), d);
  for (const auto& s : rs.sets) {
    INFO(s.name);
    CHECK(svcnft::nft::desiredRecords(rs.table, s) == svcnft::nft::encodedRecords(rs.table, s));
  }
}
