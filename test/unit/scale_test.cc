// The design's one hard rule (docs/design.md): kernel objects do not grow with Services
// or endpoints. 10 and 10,000 Services, same mix of features, same object counts;
// only elements grow. (Counts, not time: speed lives in scripts/bench.)
#include <catch2/catch.hpp>

#include "compile/compiler.h"
#include "generated_inputs.h"

using namespace svcnft;
using svcnft::testing::generate;

TEST_CASE("sets, chains and rules are the same for 10 and 10,000 Services", "[scale]") {
  Diagnostics d10, d10k;
  const ir::Ruleset small = compileRuleset(generate(10, 10), d10);
  const ir::Ruleset large = compileRuleset(generate(10000, 10), d10k);
  REQUIRE_FALSE(d10.hasErrors());
  REQUIRE_FALSE(d10k.hasErrors());
  CHECK(small.sets.size() == large.sets.size());
  CHECK(small.chains.size() == large.chains.size());
  CHECK(small.ruleCount() == large.ruleCount());
  CHECK(large.elementCount() > 900 * small.elementCount());
}

TEST_CASE("ten times the endpoints per Service add elements, not objects", "[scale]") {
  Diagnostics d1, d2;
  const ir::Ruleset a = compileRuleset(generate(200, 10), d1);
  const ir::Ruleset b = compileRuleset(generate(200, 100), d2);
  CHECK(a.sets.size() == b.sets.size());
  CHECK(a.chains.size() == b.chains.size());
  CHECK(a.ruleCount() == b.ruleCount());
  CHECK(b.elementCount() > 8 * a.elementCount());
}
