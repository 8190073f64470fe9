// Leader election for one LoadBalancer address over a coordination.k8s.io/v1
// Lease, with client-go's rules (leaderelection.go), so that at most one node
// answers for the address at a time. Pure: the caller reads and writes the Lease
// (announce/lease_store.h) and passes the times in.
//
// - A Lease held by another node is taken only once it has not changed for its
//   leaseDurationSeconds, timed by this node's own clock from when it saw the
//   change (no comparison of clocks between nodes; any write is a change, as its
//   resourceVersion tells). An empty holder is free.
// - The holder renews every retry period. It announces only while its last
//   successful renewal was sent less than renewDeadline ago; renewDeadline is
//   shorter than the lease, so a holder cut off from the API server goes silent
//   before any other node can take the address over.
// - A node that may no longer hold the address (its interface is down, or a
//   Local-policy Service has no endpoint on it) or that stops cleanly releases the
//   Lease (empty holder, 1 s), so another node takes over at its next try.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace svcnft::announce {

// The Lease's spec, and its resourceVersion for optimistic concurrency.
struct LeaseRecord {
  std::string holder;  // holderIdentity; empty: nobody
  int durationSeconds = 0;
  std::string acquireTime, renewTime;  // RFC 3339 with microseconds
  int transitions = 0;
  std::string resourceVersion;
  // Set by a holder that released the Lease at a clean stop: its addresses on the
  // segment ("198.18.0.2,2001:db8::2"), to which the next holder hands on the
  // packets of connections begun through it (annotation svcnft.io/released-from).
  std::string releasedFrom;

  // The same record (resourceVersion aside, as client-go compares).
  bool sameAs(const LeaseRecord& o) const {
    return holder == o.holder && durationSeconds == o.durationSeconds &&
           acquireTime == o.acquireTime && renewTime == o.renewTime &&
           transitions == o.transitions && releasedFrom == o.releasedFrom;
  }
};

// client-go's defaults.
struct ElectionTimes {
  std::chrono::milliseconds lease{15000}, renewDeadline{10000}, retry{2000};
};

class Election {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  Election(std::string identity, ElectionTimes times)
      : identity_(std::move(identity)), times_(times) {}

  struct Write {
    LeaseRecord record;
    bool create = false;  // no Lease exists yet
  };
  // After reading the Lease at `now` (nullopt: it does not exist): what to write to
  // acquire or renew it, or nothing (another holder's lease runs, or this node is
  // no `candidate` and does not hold it). `wallNow`: the time to write, RFC 3339.
  std::optional<Write> afterRead(const std::optional<LeaseRecord>& lease, bool candidate,
                                 TimePoint now, const std::string& wallNow);
  // A write sent at `sentAt` went through (`stored`: as the API server stored it).
  // A failed one changes nothing: the holder goes on until its deadline.
  void afterWrite(const LeaseRecord& stored, TimePoint sentAt);
  // What to write to give the Lease up, if this node holds it; leading() is false
  // from here on. `from`: this node's addresses, for the next holder's handover.
  std::optional<LeaseRecord> release(const std::string& wallNow, const std::string& from = "");
  // Whom this node took the Lease over from at its last acquisition, when that
  // holder had released it cleanly (its releasedFrom); empty otherwise.
  const std::string& takenOverFrom() const { return takenOverFrom_; }

  // Whether this node answers for the address at `now`.
  bool leading(TimePoint now) const;
  // Until when leading() stays true without another renewal (none: not leading).
  std::optional<TimePoint> leadingUntil() const {
    if (!holds() || !renewedAt_) return std::nullopt;
    return *renewedAt_ + times_.renewDeadline;
  }
  // When to read the Lease again.
  TimePoint nextAttempt(TimePoint now) const;
  // Whether this node holds the Lease as far as it knows (it may be past its deadline).
  bool holds() const { return observed_ && observed_->holder == identity_; }

 private:
  std::string identity_;
  ElectionTimes times_;
  std::optional<LeaseRecord> observed_;  // the last record read or written
  TimePoint observedAt_{};               // when it changed, by this node's clock
  std::optional<TimePoint> renewedAt_;   // when the last successful renewal was sent
  std::string takenOverFrom_;
  std::string pendingFrom_;  // releasedFrom of the record an acquisition is based on
};

}  // namespace svcnft::announce
