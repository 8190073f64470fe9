// JSON text (what the Kubernetes API serves) → the same compact tree the YAML
// reader builds, through simdjson, so API objects go through the very parsers and
// checks that manifest files do. The tree owns copies of every scalar: the text
// may go as soon as this returns. JSON carries no positions: marks are unknown,
// and diagnostics name the object by its API path instead.
#pragma once

#include <optional>
#include <string_view>

#include "manifest/yaml_tree.h"

namespace svcnft::manifest {

// Parses one JSON value into `out`; the error instead when the text is not JSON
// (truncated, invalid UTF-8, nested deeper than 1024, ...).
std::optional<YamlError> parseJson(std::string_view text, YamlDocument& out);

}  // namespace svcnft::manifest
