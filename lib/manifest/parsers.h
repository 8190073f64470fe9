// Per-kind parsers: one YAML/JSON document node → one model object. Each reports
// its own problems through the FieldReader and returns nullopt when the object is
// unusable. Internal to lib/manifest.
#pragma once

#include <optional>
#include <vector>

#include "manifest/k8s_names.h"
#include "manifest/yaml_fields.h"
#include "model/service.h"

namespace svcnft::manifest {

std::optional<Service> parseService(FieldReader& r, const YamlNode& doc);

// EndpointSlice (discovery.k8s.io/v1), with the svcnft.io/weights annotation.
std::optional<EndpointSlice> parseEndpointSlice(FieldReader& r, const YamlNode& doc);

// Legacy v1 Endpoints: one slice per (subset, address family).
std::vector<EndpointSlice> parseLegacyEndpoints(FieldReader& r, const YamlNode& doc);

// "namespace/name" from metadata, reporting a missing or malformed name (checked by
// nameProblem, one of k8s_names.h) or namespace; nullopt without a good one.
struct ObjectName {
  std::string ns;
  std::string name;
};
using NameCheck = std::optional<std::string> (*)(std::string_view);
std::optional<ObjectName> parseObjectName(FieldReader& r, const YamlNode& doc,
                                          NameCheck nameProblem);
// Reports `problem`, if any, at `node`; true when there was none.
bool checkName(FieldReader& r, const YamlNode& node, const FieldPath& path,
               const std::optional<std::string>& problem);

// Parses an address field value; reports `path` on failure.
std::optional<IpAddress> parseAddressField(FieldReader& r, const YamlNode& node,
                                           const FieldPath& path);
std::optional<Cidr> parseCidrField(FieldReader& r, const YamlNode& node, const std::string& path);
// A port number 1-65535.
std::optional<uint16_t> parsePortField(FieldReader& r, const YamlNode& node,
                                       const std::string& path);
std::optional<Protocol> parseProtocolField(FieldReader& r, const YamlNode& parent,
                                           const std::string& path);

}  // namespace svcnft::manifest
