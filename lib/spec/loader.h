// The spec layer's public face: Kubernetes manifests (YAML or JSON, multi-document,
// kind: List, files or directories) and the node config → validated model values.
// Every problem becomes a Diagnostic with FILE:LINE:COL naming object and field;
// nothing here throws.
#pragma once

#include <string>
#include <vector>

#include "common/diagnostics.h"
#include "model/service.h"

namespace svcnft::spec {

struct Manifests {
  std::vector<Service> services;
  std::vector<EndpointSlice> slices;
};

// Reads every path (a file, or a directory's *.yaml, *.yml and *.json in name order).
Manifests loadManifests(const std::vector<std::string>& paths, Diagnostics& diags);

// Parses one file's text; `fileName` is what diagnostics print.
void parseManifestText(const std::string& text, const std::string& fileName, Manifests& out,
                       Diagnostics& diags);

NodeConfig loadNodeConfig(const std::string& path, Diagnostics& diags);
NodeConfig parseNodeConfigText(const std::string& text, const std::string& fileName,
                               Diagnostics& diags);

// Cross-object checks that need the node config: nodePort range and conflicts,
// externalIPAllow, duplicate objects, slices of unknown Services.
void validate(const Manifests& manifests, const NodeConfig& node, Diagnostics& diags);

// load + validate in one call, the way the commands use it.
Inputs loadInputs(const std::vector<std::string>& paths, const std::string& nodeConfigPath,
                  Diagnostics& diags);

}  // namespace svcnft::spec
