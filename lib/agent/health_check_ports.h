// kube-proxy's service health checks: for each LoadBalancer Service with
// externalTrafficPolicy Local and a healthCheckNodePort, an HTTP server on that
// port (every node address) that the cloud load balancer polls to learn whether
// this node has a local endpoint: 200 with one or more, 503 without; the body
// names the Service and counts them, as kube-proxy's does.
#pragma once

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

class HealthCheckServers {
 public:
  HealthCheckServers();
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
  std::mutex mu_;  // guards state_ (read by the server threads)
  std::map<uint16_t, HealthCheck> state_;
  std::map<uint16_t, Server> servers_;
};

}  // namespace svcnft::agent
