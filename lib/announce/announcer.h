// Which node answers for each LoadBalancer address: one Lease election per
// address (announce/election.h), on a thread of its own, telling the Speaker
// (announce/responder.h) what to answer for and until when.
//
// - The agent says after each sync what this node would announce (want()); a node
//   is a candidate for an address unless the Service's externalTrafficPolicy is
//   Local and none of its ready endpoints is on this node (traffic sent there
//   would be dropped), or its interface is down.
// - Every address given to the Speaker carries the time its renewal runs out: the
//   Speaker stops answering then by itself, even while a request to an unreachable
//   API server still blocks this thread.
// - A clean stop releases every Lease held, so another node takes over at its next
//   try instead of after the lease duration. The released Lease names this node's
//   addresses, and the node taking over hands on to it the connections begun
//   through it (announce/handover.h): a clean stop loses none.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "announce/allocator.h"
#include "announce/election.h"
#include "announce/handover.h"
#include "announce/lease_store.h"
#include "announce/speaker.h"
#include "announce/status_writer.h"
#include "model/address.h"

namespace svcnft::announce {

struct Announcement {
  IpAddress address;
  std::string service;    // "namespace/name", for logs and metrics
  bool candidate = true;  // this node may answer for it
  auto operator<=>(const Announcement&) const = default;
};

// Where the announcer reports (the agent's metrics).
class AnnounceObserver {
 public:
  virtual ~AnnounceObserver() = default;
  // The addresses this node answers for now, with their Services.
  virtual void announcing(const std::map<IpAddress, std::string>& addresses) = 0;
  virtual void takeover() = 0;          // this node became the holder of an address
  virtual void leaseRenewFailed() = 0;  // the holder could not renew (or read) its Lease
};

// The Lease that elects the one node writing pool addresses to Services.
inline constexpr const char* kAllocatorLease = "svcnft-lb-allocator";

class Announcer {
 public:
  using Log = std::function<void(const std::string&)>;
  struct Clocks {
    std::function<TimePoint()> steady;
    std::function<double()> unixNow;
  };

  // `status` and `pools`: addresses for the Services that ask (announce/allocator.h);
  // without pools none are assigned.
  Announcer(std::string identity, ElectionTimes times, LeaseStore& leases, Speaker& speaker,
            Handover& handover, AnnounceObserver& observer, Log log, Clocks clocks,
            StatusWriter* status = nullptr, std::vector<Cidr> pools = {});
  ~Announcer();
  Announcer(const Announcer&) = delete;
  Announcer& operator=(const Announcer&) = delete;

  // Thread-safe: what this node would announce now (the whole list); the Services
  // that ask for addresses, and every address some Service already has.
  void want(std::vector<Announcement> wanted, std::vector<AddressRequest> requests = {},
            std::set<IpAddress> used = {});
  // One round: reads and writes the Leases that are due, tells the Speaker what to
  // answer for. Returns when the next round is due. (The thread's body; tests call it.)
  TimePoint step();
  // Gives up every address and releases every Lease held.
  void releaseAll();

  void start();
  // Stops the thread, then releases every Lease held.
  void stop();

 private:
  struct Address {
    Election election;
    std::string service;
    TimePoint next{};
    bool announced = false;
  };
  void tryLease(const IpAddress& address, Address& a, bool candidate);
  // Reads the Lease `name` when due and acquires or renews it.
  void contend(const std::string& name, Election& e, TimePoint& next);
  void report(const std::string& name, const Election& e, const std::string& failure);
  // The elected allocator writes addresses for the Services that ask.
  void assignAddresses();
  void tell(TimePoint now);

  std::string identity_;
  ElectionTimes times_;
  LeaseStore& leases_;
  Speaker& speaker_;
  Handover& handover_;
  AnnounceObserver& observer_;
  Log log_;
  Clocks clocks_;
  class NoStatus : public StatusWriter {
    Result<bool> writeIngress(const std::string&, const std::vector<IpAddress>&) override {
      return Error{"no status writer"};
    }
  } noStatus_;
  StatusWriter& status_;
  std::vector<Cidr> pools_;

  std::mutex mu_;
  std::condition_variable wake_;
  std::map<IpAddress, Announcement> wanted_;
  std::vector<AddressRequest> requests_;
  std::set<IpAddress> used_;
  bool stop_ = false;
  bool changed_ = false;  // want() gave a new list since the loop last woke
  std::thread thread_;

  // Only the announcing thread (or a test's) touches these.
  std::map<IpAddress, Address> addresses_;
  bool linkWasUp_ = true;
  bool releasing_ = false;         // releaseAll() has begun
  std::set<std::string> failing_;  // Leases whose last request failed (logged once)
  Election allocator_;             // the Lease kAllocatorLease
  TimePoint allocatorNext_{};
  std::map<std::string, std::vector<IpAddress>> assigned_;  // written, not seen back yet
  std::set<std::string> exhausted_;                         // logged once
};

}  // namespace svcnft::announce
