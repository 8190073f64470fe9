// The diff's records of desired elements are built directly from the IR; they
// must be byte for byte what libnftnl encodes (and so what the kernel reports).
#include "nft/records.h"

#include <catch2/catch.hpp>
#include <filesystem>

#include "compile/compiler.h"
#include "generated_inputs.h"
#include "manifest/loader.h"

namespace fs = std::filesystem;

TEST_CASE("direct element records equal libnftnl's, for every example", "[records]") {
  int sets = 0;
  for (const auto& dir : fs::directory_iterator(fs::path(SVCNFT_SOURCE_DIR) / "examples")) {
    svcnft::Diagnostics d;
    svcnft::Inputs in = svcnft::manifest::loadInputs({(dir.path() / "manifests.yaml").string()},
                                                 (dir.path() / "node-config.yaml").string(), d);
    REQUIRE_FALSE(d.hasErrors());
    const svcnft::ir::Ruleset rs = svcnft::compileRuleset(in, d);
    for (const auto& s : rs.sets) {
      INFO(dir.path().filename().string() + " " + s.name);
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
