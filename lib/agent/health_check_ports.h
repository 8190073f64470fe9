// kube-proxy's service health checks: for each LoadBalancer Service with
// externalTrafficPolicy Local and a healthCheckNodePort, an HTTP server on that
// port (every node address) that the cloud load balancer polls to learn whether
// this node should get traffic: 200 when it has a local endpoint and the proxy
// itself is healthy (its rules are current), else 503. As kube-proxy's: the body
// names the Service, counts the endpoints and says whether the proxy is healthy,
// and X-Load-Balancing-Endpoint-Weight carries the count.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "model/service.h"

namespace httplib {
class Server;
}

namespace svcnft::agent {

struct HealthCheck {
  std::string ns, name;
  int localEndpoints = 0;
  bool operator==(const HealthCheck&) const = default;
};

// port → the Service it reports on; from validated inputs, for this node.
std::map<uint16_t, HealthCheck> healthChecks(const Inputs& inputs);

// What one probe gets back. Pure.
struct HealthResponse {
  int status = 503;
  std::map<std::string, std::string> headers;
  std::string body;
};
HealthResponse healthResponse(const HealthCheck& check, bool proxyHealthy);

class HealthCheckServers {
 public:
  // proxyHealthy: asked on every probe, from the servers' threads.
  explicit HealthCheckServers(std::function<bool()> proxyHealthy);
  ~HealthCheckServers();
  HealthCheckServers(const HealthCheckServers&) = delete;
  HealthCheckServers& operator=(const HealthCheckServers&) = delete;
  // Starts servers for new ports, stops those no longer wanted, updates counts.
  void update(const std::map<uint16_t, HealthCheck>& wanted);
  void stopAll();

 private:
  struct Server {
    std::unique_ptr<httplib::Server> http;
    std::thread thread;
  };
  std::function<bool()> proxyHealthy_;
  std::mutex mu_;  // guards state_ (read by the server threads)
  std::map<uint16_t, HealthCheck> state_;
  std::map<uint16_t, Server> servers_;
};

}  // namespace svcnft::agent
