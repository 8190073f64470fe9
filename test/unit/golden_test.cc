// Golden files: each examples/NAME/ compiles to exactly test/golden/NAME.nft, and
// the reference node config with no Services to rules/skeleton.nft. Regenerate
// with scripts/update-goldens and review the diff.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "compile/compiler.h"
#include "compile/render_nft.h"
#include "manifest/loader.h"

namespace fs = std::filesystem;

namespace {

const fs::path kRoot = SVCNFT_SOURCE_DIR;

std::string readAll(const fs::path& p) {
  std::ifstream in(p);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string compileExample(const fs::path& manifests, const fs::path& nodeConfig) {
  svcnft::Diagnostics d;
  svcnft::Inputs in = svcnft::manifest::loadInputs({manifests.string()}, nodeConfig.string(), d);
  std::string problems;
  for (const auto& x : d.all()) problems += x.format() + "\n";
  INFO(problems);
  REQUIRE_FALSE(d.hasErrors());
  auto rs = svcnft::compileRuleset(in, d);
  REQUIRE_FALSE(d.hasErrors());
  return svcnft::renderNft(rs);
}

}  // namespace

TEST_CASE("every example matches its golden dump", "[golden]") {
  int checked = 0;
  for (const auto& dir : fs::directory_iterator(kRoot / "examples")) {
    if (!dir.is_directory()) continue;
    const std::string name = dir.path().filename().string();
    DYNAMIC_SECTION(name) {
      const fs::path golden = kRoot / "test" / "golden" / (name + ".nft");
      REQUIRE(fs::exists(golden));
      CHECK(compileExample(dir.path() / "manifests.yaml", dir.path() / "node-config.yaml") ==
            readAll(golden));
    }
    ++checked;
  }
  CHECK(checked >= 10);
}

TEST_CASE("the skeleton in rules/ is what the compiler emits with no Services", "[golden]") {
  const fs::path empty = kRoot / "rules" / "no-services.yaml";
  CHECK(compileExample(empty, kRoot / "rules" / "reference-node.yaml") ==
        readAll(kRoot / "rules" / "skeleton.nft"));
}
