// Writes the LoadBalancer addresses the allocator chose into a Service's
// status.loadBalancer.ingress (a merge patch of the status subresource). An
// interface, so the announcer is tested without an API server.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "model/address.h"
#include "source/http_client.h"

namespace svcnft::announce {

class StatusWriter {
 public:
  virtual ~StatusWriter() = default;
  // `key`: "namespace/name".
  virtual Result<bool> writeIngress(const std::string& key,
                                    const std::vector<IpAddress>& addresses) = 0;
};

class ApiStatusWriter : public StatusWriter {
 public:
  ApiStatusWriter(source::HttpClient& http, long timeoutSeconds)
      : http_(http), timeoutSeconds_(timeoutSeconds) {}
  Result<bool> writeIngress(const std::string& key,
                            const std::vector<IpAddress>& addresses) override;

 private:
  source::HttpClient& http_;
  long timeoutSeconds_;
};

// The merge patch: {"status":{"loadBalancer":{"ingress":[{"ip":"..."},...]}}}.
std::string ingressPatch(const std::vector<IpAddress>& addresses);

}  // namespace svcnft::announce
