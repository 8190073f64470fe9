#include "manifest/traffic_fields.h"

#include "manifest/parsers.h"

namespace svcnft::manifest {

bool isInterfaceName(const std::string& name) {
  return !name.empty() && name.size() < 16 && name != "." && name != ".." &&
         name.find_first_of("/: \t\n*\\\"") == std::string::npos;
}

std::string notAnInterfaceName(const std::string& name, const std::string& mode) {
  return "\"" + name +
         "\" is not an interface name (1-15 characters, no /, :, *, blanks or quotes); "
         "detectLocalMode " +
         mode + " needs one";
}

NodePortAddresses readNodePortAddresses(FieldReader& r, const YamlNode& list) {
  NodePortAddresses out;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string path = "nodePortAddresses[" + std::to_string(i) + "]";
    auto text = r.asString(list[i], path);
    if (!text) continue;
    if (*text == "primary") {
      out.primary = true;
    } else if (*text == "all") {
      out.cidrs.push_back(*Cidr::parse("0.0.0.0/0"));
      out.cidrs.push_back(*Cidr::parse("::/0"));
    } else if (*text == "localhost") {
      out.loopback.push_back(path + " " + *text);
    } else if (auto cidr = Cidr::parse(*text, /*allowHostBits=*/true)) {
      if (cidr->base().isLoopback()) {
        out.loopback.push_back(path + " " + *text);
      } else {
        out.cidrs.push_back(*cidr);  // host bits dropped, as kube-proxy reads them
      }
    } else {
      r.error(list[i], path,
              "\"" + *text + "\" is not a CIDR or one of the keywords primary, all, localhost");
    }
  }
  return out;
}

}  // namespace svcnft::manifest
