// Connections begun through the previous holder of an address, handed on to it.
//
// A client's neighbour cache moves to the new holder in one instant; a TCP
// connection in flight at that instant has its conntrack (and NAT) state on the
// previous holder only, and its next packets would reach a pod through a node that
// never saw it begin (reset). So the new holder sends the packets of connections it
// did not see begin (TCP without SYN, new to its conntrack) for that address,
// unchanged, to the previous holder, which still forwards them. Only after a clean
// release: a holder that died takes its connections with it.
#pragma once

#include <map>

#include "model/address.h"

namespace svcnft::announce {

class Handover {
 public:
  virtual ~Handover() = default;
  // From now on, for each address: the previous holder's address (of the same
  // family) to hand such packets on to. An address not named: none.
  virtual void handOn(const std::map<IpAddress, IpAddress>& previousHolders) = 0;
};

}  // namespace svcnft::announce
