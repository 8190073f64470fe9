// The agent's HTTP endpoints (cpp-httplib, one thread each):
// --healthz-bind: /healthz and /livez with kube-proxy's semantics and JSON body;
// --metrics-bind: /metrics in the Prometheus text format.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "agent/agent.h"
#include "agent/metrics.h"
#include "common/result.h"

namespace httplib {
class Server;
}

namespace svcnft::agent {

class HttpEndpoints {
 public:
  HttpEndpoints(const Agent& agent, Metrics& metrics);
  ~HttpEndpoints();
  // "HOST:PORT"; an empty string leaves that server off.
  Result<bool> start(const std::string& healthzBind, const std::string& metricsBind);
  void stop();

 private:
  const Agent& agent_;
  Metrics& metrics_;
  std::unique_ptr<httplib::Server> healthz_, metrics_server_;
  std::thread healthzThread_, metricsThread_;
};

}  // namespace svcnft::agent
