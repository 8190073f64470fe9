// What the announcer asks of the link: answer for these addresses, until these
// times. The Responder is the real one; tests give a fake.
#pragma once

#include <chrono>
#include <map>
#include <vector>

#include "model/address.h"

namespace svcnft::announce {

using TimePoint = std::chrono::steady_clock::time_point;

class Speaker {
 public:
  virtual ~Speaker() = default;
  // Answer for exactly these addresses from now on, each only until its time: past
  // it, the address is given up even when no new list came (the announcer may be
  // blocked on an API server that does not answer).
  virtual void answerFor(const std::map<IpAddress, TimePoint>& addresses) = 0;
  // Whether the interface is up with its carrier.
  virtual bool linkUp() const = 0;
  // The node's own addresses on the interface (not link-local): where the next
  // holder hands on connections begun here (announce/handover.h).
  virtual std::vector<IpAddress> ownAddresses() const = 0;
};

}  // namespace svcnft::announce
