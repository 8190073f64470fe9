#include "agent/metrics.h"

#include <cstdio>

namespace svcnft::agent {

namespace {

double bucketBound(std::size_t i) { return 0.001 * static_cast<double>(1u << i); }

std::string number(double v) {
  char buf[32];
  // Nine significant digits keep bucket bounds short ("0.005"); a Unix timestamp
  // needs its seconds and milliseconds (with %.9g it moved in steps of 10 s).
  std::snprintf(buf, sizeof buf, v >= 1e6 ? "%.3f" : "%.9g", v);
  return buf;
}

void scalar(std::string& out, const std::string& name, const char* type, const std::string& help,
            double value) {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + " " +
         number(value) + "\n";
}

}  // namespace

void Metrics::Histogram::observe(double v) {
  for (std::size_t i = 0; i < kBuckets; ++i) {
    if (v <= bucketBound(i)) ++counts[i];
  }
  ++count;
  sum += v;
}

void Metrics::Histogram::render(std::string& out, const std::string& name,
                                const std::string& help) const {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " histogram\n";
  for (std::size_t i = 0; i < kBuckets; ++i) {
    out +=
        name + "_bucket{le=\"" + number(bucketBound(i)) + "\"} " + std::to_string(counts[i]) + "\n";
  }
  out += name + "_bucket{le=\"+Inf\"} " + std::to_string(count) + "\n";
  out += name + "_sum " + number(sum) + "\n" + name + "_count " + std::to_string(count) + "\n";
}

void Metrics::observeSync(bool full, double seconds) {
  std::lock_guard<std::mutex> l(mu_);
  (full ? full_ : partial_).observe(seconds);
  all_.observe(seconds);
}

void Metrics::queued(double unixSeconds) {
  std::lock_guard<std::mutex> l(mu_);
  lastQueued_ = unixSeconds;
}

void Metrics::probed(bool livez, int code) {
  std::lock_guard<std::mutex> l(mu_);
  ++(livez ? livez_ : healthz_)[code];
}

void Metrics::syncFailed() {
  std::lock_guard<std::mutex> l(mu_);
  ++failures_;
}

void Metrics::synced(double unixSeconds, std::size_t services, std::size_t endpoints) {
  std::lock_guard<std::mutex> l(mu_);
  lastSync_ = unixSeconds;
  services_ = services;
  endpoints_ = endpoints;
}

void Metrics::inputErrors(std::size_t n) {
  std::lock_guard<std::mutex> l(mu_);
  inputErrors_ += n;
}

void Metrics::observeProgramming(double seconds) {
  std::lock_guard<std::mutex> l(mu_);
  programming_.observe(seconds);
}

void Metrics::observeNetworkProgramming(double seconds) {
  std::lock_guard<std::mutex> l(mu_);
  networkProgramming_.observe(seconds);
}

void Metrics::apiCount(const std::string& resource, ApiCounter which) {
  std::lock_guard<std::mutex> l(mu_);
  ++api_[resource][static_cast<std::size_t>(which)];
}

void Metrics::conntrackDeleted(std::size_t n) {
  std::lock_guard<std::mutex> l(mu_);
  conntrack_ += n;
}

void Metrics::driftRepaired() {
  std::lock_guard<std::mutex> l(mu_);
  ++drift_;
}

void Metrics::conntrackFailed() {
  std::lock_guard<std::mutex> l(mu_);
  ++conntrackFailures_;
}

void Metrics::changes(uint64_t serviceTotal, uint64_t endpointTotal, std::size_t servicePending,
                      std::size_t endpointPending) {
  std::lock_guard<std::mutex> l(mu_);
  serviceChanges_ = serviceTotal;
  endpointChanges_ = endpointTotal;
  servicePending_ = servicePending;
  endpointPending_ = endpointPending;
}

void Metrics::noLocalEndpoints(int internal, int external) {
  std::lock_guard<std::mutex> l(mu_);
  noLocalInternal_ = internal;
  noLocalExternal_ = external;
}

void Metrics::externalIPsRefused(int addresses) {
  std::lock_guard<std::mutex> l(mu_);
  externalIPsRefused_ = addresses;
}

void Metrics::eventsLost(uint64_t total) {
  std::lock_guard<std::mutex> l(mu_);
  eventsLost_ = total;
}

std::string Metrics::text() const {
  std::lock_guard<std::mutex> l(mu_);
  std::string out;
  all_.render(out, "svcnft_sync_proxy_rules_duration_seconds",
              "Every sync of the ruleset, full or partial, in seconds.");
  full_.render(out, "svcnft_sync_full_proxy_rules_duration_seconds",
               "Full sync of the ruleset (the whole table), in seconds.");
  partial_.render(out, "svcnft_sync_partial_proxy_rules_duration_seconds",
                  "Partial sync of the ruleset (only what changed), in seconds.");
  programming_.render(out, "svcnft_input_to_commit_duration_seconds",
                      "From an input change being seen (a file event, a watch event) to its rules "
                      "being committed, in seconds.");
  networkProgramming_.render(
      out, "svcnft_network_programming_duration_seconds",
      "From an EndpointSlice's endpoints.kubernetes.io/last-change-trigger-time to its rules "
      "being committed, in seconds.");
  scalar(out, "svcnft_sync_proxy_rules_last_timestamp_seconds", "gauge",
         "The last time the ruleset was synced successfully (Unix seconds).", lastSync_);
  scalar(out, "svcnft_sync_proxy_rules_last_queued_timestamp_seconds", "gauge",
         "The last time a change was queued for a sync (Unix seconds).", lastQueued_);
  for (const auto& [probes, name] : {std::pair{&healthz_, "svcnft_proxy_healthz_total"},
                                     std::pair{&livez_, "svcnft_proxy_livez_total"}}) {
    out += std::string("# HELP ") + name + " Probes answered, by HTTP status code.\n# TYPE " +
           name + " counter\n";
    for (const auto& [code, n] : *probes) {
      out +=
          std::string(name) + "{code=\"" + std::to_string(code) + "\"} " + std::to_string(n) + "\n";
    }
  }
  scalar(out, "svcnft_sync_proxy_rules_service_changes_total", "counter",
         "Service object changes taken in (per Service changed).",
         static_cast<double>(serviceChanges_));
  scalar(out, "svcnft_sync_proxy_rules_endpoint_changes_total", "counter",
         "Endpoint changes taken in (per Service whose EndpointSlices changed).",
         static_cast<double>(endpointChanges_));
  scalar(out, "svcnft_sync_proxy_rules_service_changes_pending", "gauge",
         "Services whose object changed since the last successful sync.",
         static_cast<double>(servicePending_));
  scalar(out, "svcnft_sync_proxy_rules_endpoint_changes_pending", "gauge",
         "Services whose endpoints changed since the last successful sync.",
         static_cast<double>(endpointPending_));
  // A gauge despite its name, as kube-proxy's.
  const std::string noLocal = "svcnft_sync_proxy_rules_no_local_endpoints_total";
  out += "# HELP " + noLocal +
         " Service ports whose Local traffic policy finds no endpoint on this node while "
         "others exist.\n# TYPE " +
         noLocal + " gauge\n" + noLocal + "{traffic_policy=\"internal\"} " +
         std::to_string(noLocalInternal_) + "\n" + noLocal + "{traffic_policy=\"external\"} " +
         std::to_string(noLocalExternal_) + "\n";
  scalar(out, "svcnft_external_ips_refused", "gauge",
         "spec.externalIPs addresses left out for being outside the node config's "
         "externalIPAllow (each named in the log and in svcnft show).",
         externalIPsRefused_);
  scalar(out, "svcnft_sync_proxy_rules_nftables_sync_failures_total", "counter",
         "Syncs the kernel or netlink refused.", static_cast<double>(failures_));
  scalar(out, "svcnft_services_programmed", "gauge", "Services in the installed ruleset.",
         static_cast<double>(services_));
  scalar(out, "svcnft_endpoints_programmed", "gauge", "Endpoints in the installed ruleset.",
         static_cast<double>(endpoints_));
  scalar(out, "svcnft_input_errors_total", "counter",
         "Problems found in input files (each counted once per change of its file).",
         static_cast<double>(inputErrors_));
  scalar(out, "svcnft_conntrack_reconciler_deleted_entries_total", "counter",
         "UDP conntrack entries deleted because their endpoint left.",
         static_cast<double>(conntrack_));
  scalar(out, "svcnft_conntrack_cleanup_failures_total", "counter",
         "UDP conntrack cleanups that failed (tried again later).",
         static_cast<double>(conntrackFailures_));
  scalar(out, "svcnft_nftables_event_overruns_total", "counter",
         "Times the nf_tables event socket overran (ENOBUFS) and the table was read back.",
         static_cast<double>(eventsLost_));
  scalar(out, "svcnft_drift_repairs_total", "counter",
         "Times the installed table had been changed by someone else and was restored.",
         static_cast<double>(drift_));
  static const char* const kApi[4][3] = {
      {"svcnft_api_lists_total", "counter", "Complete lists of a resource from the API server."},
      {"svcnft_api_watch_restarts_total", "counter",
       "Watches of a resource started again (after a clean end, an error or a relist)."},
      {"svcnft_api_errors_total", "counter",
       "Failed API requests or broken watch streams, by resource."},
      {"svcnft_api_invalid_objects_total", "counter",
       "API objects skipped as invalid (logged with namespace/name and field)."}};
  for (int m = 0; m < 4; ++m) {
    out += std::string("# HELP ") + kApi[m][0] + " " + kApi[m][2] + "\n# TYPE " + kApi[m][0] + " " +
           kApi[m][1] + "\n";
    for (const auto& [resource, counts] : api_) {
      out += std::string(kApi[m][0]) + "{resource=\"" + resource + "\"} " +
             std::to_string(counts[m]) + "\n";
    }
  }
  out +=
      "# HELP svcnft_lb_announced LoadBalancer addresses this node answers for (ARP, "
      "neighbour discovery), by address and Service.\n# TYPE svcnft_lb_announced gauge\n";
  for (const auto& [address, service] : announced_) {
    out += "svcnft_lb_announced{address=\"" + address.str() + "\",service=\"" + service + "\"} 1\n";
  }
  scalar(out, "svcnft_lb_takeovers_total", "counter",
         "Times this node became the holder of a LoadBalancer address's Lease.",
         static_cast<double>(takeovers_));
  scalar(out, "svcnft_lb_lease_renew_failures_total", "counter",
         "Failed reads or renewals of a Lease this node held.",
         static_cast<double>(renewFailures_));
  return out;
}

void Metrics::announcing(const std::map<IpAddress, std::string>& addresses) {
  std::lock_guard<std::mutex> l(mu_);
  announced_ = addresses;
}

void Metrics::takeover() {
  std::lock_guard<std::mutex> l(mu_);
  ++takeovers_;
}

void Metrics::leaseRenewFailed() {
  std::lock_guard<std::mutex> l(mu_);
  ++renewFailures_;
}

}  // namespace svcnft::agent
