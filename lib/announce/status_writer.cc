#include "announce/status_writer.h"

namespace svcnft::announce {

std::string ingressPatch(const std::vector<IpAddress>& addresses) {
  std::string ingress;
  for (const auto& a : addresses) {
    ingress += std::string(ingress.empty() ? "" : ",") + "{\"ip\":\"" + a.str() + "\"}";
  }
  return "{\"status\":{\"loadBalancer\":{\"ingress\":[" + ingress + "]}}}";
}

Result<bool> ApiStatusWriter::writeIngress(const std::string& key,
                                           const std::vector<IpAddress>& addresses) {
  const auto slash = key.find('/');
  if (slash == std::string::npos) return Error{"not a namespace/name: " + key};
  const std::string path = "/api/v1/namespaces/" + key.substr(0, slash) + "/services/" +
                           key.substr(slash + 1) + "/status";
  const source::HttpResponse r =
      http_.send("PATCH", path, ingressPatch(addresses), {timeoutSeconds_, 0});
  if (r.status >= 200 && r.status < 300) return true;
  return Error{
      "writing the status of Service " + key + ": " +
      (r.status == 0 ? r.error : "HTTP " + std::to_string(r.status) + " " + r.body.substr(0, 300))};
}

}  // namespace svcnft::announce
