// The agent's Prometheus metrics, named as kube-proxy names them where the meaning
// is the same (prefixed svcnft_), rendered in the Prometheus text format.
// Thread-safe: the loop writes, the HTTP thread reads.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "announce/announcer.h"
#include "source/reflector.h"

namespace svcnft::agent {

class Metrics : public source::ApiCounters, public announce::AnnounceObserver {
 public:
  void observeSync(bool full, double seconds);
  // A change was queued for the next sync (kube-proxy's last_queued_timestamp).
  void queued(double unixSeconds);
  // A probe of /healthz (livez false) or /livez answered with `code`.
  void probed(bool livez, int code);
  void syncFailed();
  // Changes taken in (Service objects, Services' endpoints) and those not synced yet.
  void changes(uint64_t serviceTotal, uint64_t endpointTotal, std::size_t servicePending,
               std::size_t endpointPending);
  // Service ports whose Local policy finds no endpoint here (kube-proxy's gauge).
  void noLocalEndpoints(int internal, int external);
  // spec.externalIPs addresses left out for being outside externalIPAllow.
  void externalIPsRefused(int addresses);
  void synced(double unixSeconds, std::size_t services, std::size_t endpoints);
  void inputErrors(std::size_t n);
  void observeProgramming(double seconds);  // input change seen (file, watch event) -> commit
  // An EndpointSlice's last-change-trigger-time -> kernel commit (kube-proxy's metric).
  void observeNetworkProgramming(double seconds);
  // The Kubernetes API source, per resource ("services", "endpointslices", "nodes").
  void apiList(const std::string& resource) override { apiCount(resource, ApiCounter::kList); }
  void apiWatchRestart(const std::string& resource) override {
    apiCount(resource, ApiCounter::kWatch);
  }
  void apiError(const std::string& resource) override { apiCount(resource, ApiCounter::kError); }
  void apiInvalidObject(const std::string& resource) override {
    apiCount(resource, ApiCounter::kInvalid);
  }
  void driftRepaired();
  void conntrackDeleted(std::size_t n);
  void conntrackFailed();
  // The event socket overran (ENOBUFS): events were lost, the table is read back.
  void eventsLost(uint64_t total);

  // LoadBalancer announcement (announce/announcer.h).
  void announcing(const std::map<IpAddress, std::string>& addresses) override;
  void takeover() override;
  void leaseRenewFailed() override;

  std::string text() const;

 private:
  // kube-proxy's buckets: 1 ms doubling to ~16 s.
  static constexpr std::size_t kBuckets = 15;
  struct Histogram {
    std::array<uint64_t, kBuckets> counts{};
    uint64_t count = 0;
    double sum = 0;
    void observe(double v);
    void render(std::string& out, const std::string& name, const std::string& help) const;
  };

  enum class ApiCounter : std::size_t { kList, kWatch, kError, kInvalid };
  void apiCount(const std::string& resource, ApiCounter which);

  mutable std::mutex mu_;
  Histogram all_, full_, partial_, programming_, networkProgramming_;
  double lastQueued_ = 0;
  std::map<int, uint64_t> healthz_, livez_;             // status code → probes
  std::map<std::string, std::array<uint64_t, 4>> api_;  // resource → list, watch, error, invalid
  uint64_t failures_ = 0, inputErrors_ = 0, drift_ = 0, conntrack_ = 0, conntrackFailures_ = 0,
           eventsLost_ = 0;
  double lastSync_ = 0;
  uint64_t serviceChanges_ = 0, endpointChanges_ = 0;
  std::size_t servicePending_ = 0, endpointPending_ = 0;
  int noLocalInternal_ = 0, noLocalExternal_ = 0, externalIPsRefused_ = 0;
  std::size_t services_ = 0, endpoints_ = 0;
  std::map<IpAddress, std::string> announced_;
  uint64_t takeovers_ = 0, renewFailures_ = 0;
};

}  // namespace svcnft::agent
