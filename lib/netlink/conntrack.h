// Conntrack cleanup for UDP (libnetfilter_conntrack): UDP has no connection to
// close, so a flow DNATed to an endpoint that left keeps going to it until its
// conntrack entry times out: the classic DNS blackhole. This deletes such entries.
#pragma once

#include <functional>

#include "common/result.h"
#include "model/address.h"

namespace svcnft::netlink {

// One UDP conntrack entry as the cleanup sees it.
struct UdpFlow {
  IpAddress originalDestination;  // what the client sent to (the Service front)
  uint16_t originalPort = 0;
  IpAddress replySource;  // who answers (the endpoint chosen by DNAT)
  bool dnat = false;
};

// Deletes the UDP entries for which `stale` says yes; returns how many went.
Result<int> deleteUdpFlows(const std::function<bool(const UdpFlow&)>& stale);

// The same behind an interface, so the agent's loop can be tested without the kernel.
class ConntrackCleaner {
 public:
  virtual ~ConntrackCleaner() = default;
  virtual Result<int> deleteUdpFlows(const std::function<bool(const UdpFlow&)>& stale) = 0;
};

class KernelConntrack : public ConntrackCleaner {
 public:
  Result<int> deleteUdpFlows(const std::function<bool(const UdpFlow&)>& stale) override {
    return netlink::deleteUdpFlows(stale);
  }
};

}  // namespace svcnft::netlink
