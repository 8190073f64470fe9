// Fuzz target: any bytes as a manifest file, through the whole pure pipeline
// (parse, validate, compile, render). Nothing may crash, hang or blow up memory.
#include <cstddef>
#include <cstdint>
#include <string>

#include "compile/compiler.h"
#include "compile/render_nft.h"
#include "manifest/loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  svcnft::Diagnostics diags;
  svcnft::Manifests m;
  svcnft::manifest::parseManifestText(text, "fuzz.yaml", m, diags);
  svcnft::NodeConfig node;
  node.externalIPAllow = {*svcnft::Cidr::parse("198.18.0.0/15"), *svcnft::Cidr::parse("2001:db8::/32")};
  svcnft::manifest::validate(m, node, diags);
  if (diags.hasErrors()) return 0;
  svcnft::Inputs in{std::move(m.services), std::move(m.slices), node};
  const svcnft::ir::Ruleset rs = svcnft::compileRuleset(in, diags);
  (void)svcnft::renderNft(rs);
  return 0;
}
