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

HealthResponse healthResponse(const HealthCheck& check, bool proxyHealthy) {
  HealthResponse r;
  r.status = check.localEndpoints > 0 && proxyHealthy ? 200 : 503;
  r.headers["Content-Type"] = "application/json";
  r.headers["X-Content-Type-Options"] = "nosniff";
  r.headers["X-Load-Balancing-Endpoint-Weight"] = std::to_string(check.localEndpoints);
  r.body = "{\"service\":{\"namespace\":\"" + check.ns + "\",\"name\":\"" + check.name +
           "\"},\"localEndpoints\":" + std::to_string(check.localEndpoints) +
           ",\"serviceProxyHealthy\":" + (proxyHealthy ? "true" : "false") + "}";
  return r;
}

HealthCheckServers::HealthCheckServers(std::function<bool()> proxyHealthy)
    : proxyHealthy_(std::move(proxyHealthy)) {}
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
      const HealthResponse r = healthResponse(h, proxyHealthy_());
      res.status = r.status;
      for (const auto& [name, value] : r.headers) {
        if (name != "Content-Type") res.set_header(name, value);
      }
      res.set_content(r.body, r.headers.at("Content-Type"));
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
