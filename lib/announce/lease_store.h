// Leases in the Kubernetes API (coordination.k8s.io/v1), one per announced
// address, read and written with optimistic concurrency: an update carries the
// resourceVersion it was based on, and the API server refuses it (409) when the
// Lease changed since. An interface, so the announcer is tested without a server.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "announce/election.h"
#include "common/result.h"
#include "model/address.h"
#include "source/http_client.h"

namespace svcnft::announce {

class LeaseStore {
 public:
  virtual ~LeaseStore() = default;
  // The Lease, nullopt when it does not exist; an error when that cannot be told.
  virtual Result<std::optional<LeaseRecord>> get(const std::string& name) = 0;
  // The record as stored (with its new resourceVersion); an error on a conflict.
  virtual Result<LeaseRecord> create(const std::string& name, const LeaseRecord& record) = 0;
  virtual Result<LeaseRecord> update(const std::string& name, const LeaseRecord& record) = 0;
};

class ApiLeaseStore : public LeaseStore {
 public:
  // Each request is bounded by `timeout`: a renewal that waits longer than the
  // renew deadline is no use.
  ApiLeaseStore(source::HttpClient& http, std::string ns, long timeoutSeconds)
      : http_(http), ns_(std::move(ns)), timeoutSeconds_(timeoutSeconds) {}

  Result<std::optional<LeaseRecord>> get(const std::string& name) override;
  Result<LeaseRecord> create(const std::string& name, const LeaseRecord& record) override;
  Result<LeaseRecord> update(const std::string& name, const LeaseRecord& record) override;

 private:
  Result<LeaseRecord> write(const std::string& method, const std::string& path,
                            const std::string& name, const LeaseRecord& record);
  source::HttpClient& http_;
  std::string ns_;
  long timeoutSeconds_;
};

// The Lease of an address: "svcnft-lb-" and the address with '.' and ':' as '-'
// (a valid object name for IPv4 and IPv6 alike).
std::string leaseName(const IpAddress& address);

// The Lease object as JSON, and back (an error naming the field that is wrong).
std::string leaseJson(const std::string& ns, const std::string& name, const LeaseRecord& record);
Result<LeaseRecord> parseLease(std::string_view json);

// Now as a Lease's MicroTime: "2026-12-05T10:00:00.123456Z".
std::string microTime(double unixSeconds);

}  // namespace svcnft::announce
