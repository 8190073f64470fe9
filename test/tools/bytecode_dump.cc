// Prints every rule of a compiled ruleset as `nft --debug=netlink` prints rules,
// from our own encoding: test/netns/bytecode_check.sh compares the two.
// Usage: bytecode_dump MANIFESTS NODE_CONFIG
#include <iostream>

#include "compile/compiler.h"
#include "nft/encode.h"
#include "manifest/loader.h"

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  svcnft::Diagnostics d;
  svcnft::Inputs in = svcnft::manifest::loadInputs({argv[1]}, argv[2], d);
  if (d.hasErrors()) return 1;
  svcnft::ir::Ruleset rs = svcnft::compileRuleset(in, d);
  if (d.hasErrors()) return 1;
  for (const auto& c : rs.chains) {
    for (const auto& r : c.rules) std::cout << svcnft::nft::bytecode(rs.table, c.name, r);
  }
  return 0;
}
