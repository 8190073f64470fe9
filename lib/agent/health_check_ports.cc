#include "agent/health_check_ports.h"

#include <httplib.h>

#include <iostream>
#include <set>

namespace svcnft::agent {

std::map<uint16_t, HealthCheck> healthChecks(const Inputs& in) {
  std::map<uint16_t, HealthCheck> out;
  for (const auto& svc : in.services) {
    if (svc.type != ServiceType::kLoadBalancer || svc.healthCheckNodePort == 0 ||
        svc.externalTrafficPolicy != TrafficPolicy::kLocal) {
      continue;
    }
    // kube-proxy counts this node's ready endpoints of the Service, each address once.
    std::set<IpAddress> local;
    for (const auto& slice : in.slices) {
      if (slice.serviceKey() != svc.key()) continue;
      for (const auto& e : slice.endpoints) {
        if (e.ready && !in.node.nodeName.empty() && e.nodeName == in.node.nodeName) {
          local.insert(e.address);
        }
      }
    }
    out[svc.healthCheckNodePort] = {svc.ns, svc.name, static_cast<int>(local.size())};
  }
  return out;
}

HealthCheckServers::HealthCheckServers() = default;
HealthCheckServers::~HealthCheckServers() { stopAll(); }

void HealthCheckServers::update(const std::map<uint16_t, HealthCheck>& wanted) {
  {
    std::lock_guard<std::mutex> l(mu_);
    state_ = wanted;
  }
  for (auto it = servers_.begin(); it != servers_.end();) {
    if (wanted.count(it->first)) {
      ++it;
      continue;
    }
    it->second.http->stop();
    it->second.thread.join();
    it = servers_.erase(it);
  }
  for (const auto& [port, hc] : wanted) {
    if (servers_.count(port)) continue;
    Server s;
    s.http = std::make_unique<httplib::Server>();
    const uint16_t p = port;
    s.http->Get(".*", [this, p](const httplib::Request&, httplib::Response& res) {
      HealthCheck h;
      {
        std::lock_guard<std::mutex> l(mu_);
        h = state_[p];
      }
      res.status = h.localEndpoints > 0 ? 200 : 503;
      res.set_content("{\"service\":{\"namespace\":\"" + h.ns + "\",\"name\":\"" + h.name +
                          "\"},\"localEndpoints\":" + std::to_string(h.localEndpoints) +
                          ",\"serviceProxyHealthy\":true}",
                      "application/json");
    });
    if (!s.http->bind_to_port("::", port) && !s.http->bind_to_port("0.0.0.0", port)) {
      std::cerr << "svcnft agent: cannot listen on healthCheckNodePort " << port << std::endl;
      continue;
    }
    httplib::Server* raw = s.http.get();
    s.thread = std::thread([raw] { raw->listen_after_bind(); });
    servers_.emplace(port, std::move(s));
  }
}

void HealthCheckServers::stopAll() {
  for (auto& [port, s] : servers_) {
    s.http->stop();
    if (s.thread.joinable()) s.thread.join();
  }
  servers_.clear();
}

}  // namespace svcnft::agent
