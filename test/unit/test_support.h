// Helpers shared by the unit tests: load manifests from strings, compile, and find
// elements in the IR without caring about its order.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "compile/compiler.h"
#include "compile/ir.h"
#include "compile/render_nft.h"
#include "manifest/loader.h"

namespace svcnft::testing {

struct Loaded {
  Inputs inputs;
  Diagnostics diags;
};

// Every example under examples/, its inputs loaded (`diags` says whether they did).
struct Example {
  std::string name;
  Inputs inputs;
  Diagnostics diags;
};
inline std::vector<Example> examples() {
  std::vector<Example> out;
  for (const auto& dir :
       std::filesystem::directory_iterator(std::filesystem::path(SVCNFT_SOURCE_DIR) / "examples")) {
    Example e;
    e.name = dir.path().filename().string();
    e.inputs = manifest::loadInputs({(dir.path() / "manifests.yaml").string()},
                                    (dir.path() / "node-config.yaml").string(), e.diags);
    out.push_back(std::move(e));
  }
  return out;
}

inline Loaded load(const std::string& manifests, const std::string& nodeConfig = "") {
  Loaded out;
  Manifests m;
  if (!nodeConfig.empty()) {
    out.inputs.node = manifest::parseNodeConfigText(nodeConfig, "node.yaml", out.diags);
  }
  manifest::parseManifestText(manifests, "test.yaml", m, out.diags);
  manifest::validate(m, out.inputs.node, out.diags);
  out.inputs.services = std::move(m.services);
  out.inputs.slices = std::move(m.slices);
  return out;
}

inline std::string messages(const Diagnostics& d) {
  std::string out;
  for (const auto& x : d.all()) out += x.format() + "\n";
  return out;
}

// Elements of one set, rendered as nft text: easy to compare and to read in failures.
inline std::vector<std::string> elements(const ir::Ruleset& rs, const std::string& set) {
  std::vector<std::string> out;
  const ir::Set* s = rs.findSet(set);
  if (!s) return {"<no set " + set + ">"};
  for (const auto& e : s->elements) out.push_back(renderElement(e));
  return out;
}

inline bool hasChain(const ir::Ruleset& rs, const std::string& name) {
  for (const auto& c : rs.chains) {
    if (c.name == name) return true;
  }
  return false;
}

}  // namespace svcnft::testing
