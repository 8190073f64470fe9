#include "agent/http.h"

#include <httplib.h>

#include <cstdio>
#include <ctime>

namespace svcnft::agent {

namespace {

std::string rfc3339(double unixSeconds) {
  const std::time_t t = static_cast<std::time_t>(unixSeconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Result<std::pair<std::string, int>> parseBind(const std::string& bind) {
  const auto colon = bind.rfind(':');
  if (colon == std::string::npos) return Error{"\"" + bind + "\" is not HOST:PORT"};
  std::string host = bind.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  try {
    const int port = std::stoi(bind.substr(colon + 1));
    if (port < 0 || port > 65535) throw std::out_of_range("port");
    return std::make_pair(host, port);
  } catch (const std::exception&) {
    return Error{"\"" + bind + "\" is not HOST:PORT"};
  }
}

std::string jsonEscaped(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out += c;
  }
  return out;
}

}  // namespace

HttpEndpoints::HttpEndpoints(const Agent& agent, Metrics& metrics)
    : agent_(agent), metrics_(metrics) {}

HttpEndpoints::~HttpEndpoints() { stop(); }

Result<bool> HttpEndpoints::start(const std::string& healthzBind, const std::string& metricsBind) {
  if (!healthzBind.empty()) {
    auto bind = parseBind(healthzBind);
    if (!bind) return bind.error();
    healthz_ = std::make_unique<httplib::Server>();
    // kube-proxy: 200 while no change has waited too long for its sync, else 503;
    // the body says when the rules were last updated, and (ours) how current each
    // source's picture is: an API server out of reach leaves the rules as they are,
    // and this is where an operator sees how old they are.
    // /healthz also says whether this node should get new traffic at all (its Node
    // being deleted or tainted for deletion: 503, nodeEligible false); /livez only
    // whether the proxy itself is healthy. Both as kube-proxy answers them.
    auto handler = [this](bool forLoadBalancers, const httplib::Request&, httplib::Response& res) {
      const Agent::Health h = agent_.health();
      std::string body = "{\"lastUpdated\": \"" + (h.synced ? rfc3339(h.lastUpdated) : "") +
                         "\",\"currentTime\": \"" + rfc3339(h.now) +
                         "\",\"nodeEligible\": " + (h.nodeEligible ? "true" : "false") +
                         ",\"sources\": [";
      for (std::size_t i = 0; i < h.sources.size(); ++i) {
        const auto& s = h.sources[i];
        char age[64] = "null";
        if (s.currentAsOf) std::snprintf(age, sizeof age, "%.3f", h.now - *s.currentAsOf);
        body += std::string(i ? "," : "") + "{\"name\": \"" + jsonEscaped(s.name) +
                "\",\"ready\": " + (s.ready ? "true" : "false") + ",\"currentAsOf\": \"" +
                (s.currentAsOf ? rfc3339(*s.currentAsOf) : "") + "\",\"ageSeconds\": " + age + "}";
      }
      body += "]}";
      res.status = h.healthy && (h.nodeEligible || !forLoadBalancers) ? 200 : 503;
      metrics_.probed(!forLoadBalancers, res.status);
      res.set_content(body, "application/json");
    };
    healthz_->Get("/healthz", [handler](const httplib::Request& q, httplib::Response& r) {
      handler(true, q, r);
    });
    healthz_->Get("/livez", [handler](const httplib::Request& q, httplib::Response& r) {
      handler(false, q, r);
    });
    if (!healthz_->bind_to_port(bind->first, bind->second)) {
      return Error{"cannot listen on " + healthzBind + " (--healthz-bind)"};
    }
    healthzThread_ = std::thread([this] { healthz_->listen_after_bind(); });
  }
  if (!metricsBind.empty()) {
    auto bind = parseBind(metricsBind);
    if (!bind) return bind.error();
    metrics_server_ = std::make_unique<httplib::Server>();
    metrics_server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(metrics_.text(), "text/plain; version=0.0.4; charset=utf-8");
    });
    if (!metrics_server_->bind_to_port(bind->first, bind->second)) {
      return Error{"cannot listen on " + metricsBind + " (--metrics-bind)"};
    }
    metricsThread_ = std::thread([this] { metrics_server_->listen_after_bind(); });
  }
  return true;
}

void HttpEndpoints::stop() {
  if (healthz_) healthz_->stop();
  if (metrics_server_) metrics_server_->stop();
  if (healthzThread_.joinable()) healthzThread_.join();
  if (metricsThread_.joinable()) metricsThread_.join();
}

}  // namespace svcnft::agent
