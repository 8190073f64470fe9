// The manifest layer's public face: Kubernetes manifests (YAML or JSON, multi-document,
// kind: List, files or directories) and the node config → validated model values.
// Every problem becomes a Diagnostic with FILE:LINE:COL naming object and field;
// nothing here throws.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/diagnostics.h"
#include "manifest/yaml_tree.h"
#include "model/inputs.h"
#include "model/service.h"

namespace svcnft::manifest {

// The manifest files (*.yaml, *.yml, *.json) of directory `dir`, regular files
// only, in name order. nullopt (after reporting) when the directory cannot be
// read: a read failure is never an empty directory, which would delete everything.
std::optional<std::vector<std::string>> listManifestFiles(const std::string& dir,
                                                          Diagnostics& diags);
bool hasManifestExtension(const std::string& path);

// A regular file's whole text; nullopt (after reporting) when it cannot be read
// or is not a regular file (a FIFO would block forever).
std::optional<std::string> readRegularFile(const std::string& path, Diagnostics& diags);

// Reads every path (a file, or a directory's *.yaml, *.yml and *.json in name order).
Manifests loadManifests(const std::vector<std::string>& paths, Diagnostics& diags);

// An object left out because it has errors (they are in the diagnostics): what it
// is, when that could be read. The agent keeps such an object's last good version.
struct RefusedObject {
  std::string kind;  // "Service", "EndpointSlice"; "" when not even that could be read
  std::string key;   // "namespace/name"; "" when unreadable (malformed YAML, no name)
  SourceLocation where;
};

// Parses one file's text; `fileName` is what diagnostics print. An object with an
// error is left out of `out` (and named in `refused`, when given).
void parseManifestText(const std::string& text, const std::string& fileName, Manifests& out,
                       Diagnostics& diags, std::vector<RefusedObject>* refused = nullptr);

// One decoded object of `kind` ("Service" or "EndpointSlice"; API list items carry
// no kind of their own) → model, through the same parsers files go through.
// `origin` names it in diagnostics (an API object's path, say).
void parseObject(const YamlNode& object, std::string_view kind, const std::string& origin,
                 Manifests& out, Diagnostics& diags);

// A v1 Node → what it says of this node: its primary address per family
// (InternalIP, else ExternalIP, kube-proxy's choice), spec.podCIDRs and the
// topology.kubernetes.io/zone label.
NodeFacts parseNodeObject(const YamlNode& object, const std::string& origin, Diagnostics& diags);

NodeConfig loadNodeConfig(const std::string& path, Diagnostics& diags);
NodeConfig parseNodeConfigText(const std::string& text, const std::string& fileName,
                               Diagnostics& diags);

// Checks that need the node config or more than one object: nodePort range and
// conflicts, duplicate objects, slices of unknown Services. Also leaves out each
// spec.externalIPs address outside the node config's externalIPAllow, with a
// warning naming the Service and the address (CVE-2020-8554): the only change it
// makes to `manifests`.
// With `refused`, each Service an error is about (defined twice, a nodePort out of
// range or taken) is also left out of `manifests` and named there.
void validate(Manifests& manifests, const NodeConfig& node, Diagnostics& diags,
              std::vector<RefusedObject>* refused = nullptr);

// load + validate in one call, the way the commands use it.
// kubeProxyConfigPath, when given: a KubeProxyConfiguration laid over the node config.
Inputs loadInputs(const std::vector<std::string>& paths, const std::string& nodeConfigPath,
                  Diagnostics& diags, const std::string& kubeProxyConfigPath = "");

}  // namespace svcnft::manifest
