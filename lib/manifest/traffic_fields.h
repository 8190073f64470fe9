// Fields the node config and kube-proxy's configuration file share: how local
// traffic is told apart (detectLocalMode and its interface) and which addresses
// take NodePorts (nodePortAddresses).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "manifest/yaml_fields.h"
#include "model/service.h"

namespace svcnft::manifest {

// What Linux takes as an interface name (1-15 bytes, no '/', ':' or blanks), and
// nothing nft would read as a wildcard or the end of a string.
bool isInterfaceName(const std::string& name);
// The error for a name that is not one, which detectLocalMode `mode` needs.
std::string notAnInterfaceName(const std::string& name, const std::string& mode);

// nodePortAddresses: "primary", "all" (0.0.0.0/0 and ::/0) and CIDRs. Loopback
// ("localhost", 127.0.0.0/8, ::1) is never served (CVE-2020-8558): each such entry
// is returned in `loopback` for the caller to report.
struct NodePortAddresses {
  bool primary = false;
  std::vector<Cidr> cidrs;
  std::vector<std::string> loopback;  // "nodePortAddresses[i] TEXT"
};
NodePortAddresses readNodePortAddresses(FieldReader& r, const YamlNode& list);

}  // namespace svcnft::manifest
