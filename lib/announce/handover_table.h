// The kernel side of announce/handover.h: tables of their own (ip and ip6
// svcnft-handover: the kernel's `dup` exists for those families, not for inet), so
// that the agent's diff and drift repair of its main table never see them. Its prerouting chain
// runs before DNAT (priority -160); what it hands on it drops, so the main table never sees it:
//
//   table ip svcnft-handover {
//     map handover-v4 { type ipv4_addr : ipv4_addr }   LoadBalancer address -> previous holder
//     chain prerouting {
//       ct state new tcp flags ack / syn,ack ip daddr @handover-v4 dup to ip daddr map
//       @handover-v4 drop
//     }
//   }
//   (the same in table ip6 svcnft-handover)
//
// `dup to` sends a copy to the next hop without changing it and untracked (the
// previous holder's conntrack entry matches it); the original is dropped.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "announce/handover.h"
#include "common/result.h"
#include "compile/ir.h"
#include "netlink/transport.h"

namespace svcnft::announce {

inline constexpr const char* kHandoverTable = "svcnft-handover";

// The table of family `f` for these handovers. Pure.
ir::Ruleset handoverRuleset(IpFamily f, const std::map<IpAddress, IpAddress>& previousHolders);

// Removes both handover tables (`svcnft cleanup`); true when there was one.
Result<bool> removeHandoverTables(netlink::Transport& sock);

class HandoverTable : public Handover {
 public:
  using Log = std::function<void(const std::string&)>;
  HandoverTable(netlink::Transport& sock, Log log) : sock_(sock), log_(std::move(log)) {}
  void handOn(const std::map<IpAddress, IpAddress>& previousHolders) override;

 private:
  netlink::Transport& sock_;
  Log log_;
  std::map<IpAddress, IpAddress> installed_;
  bool everInstalled_ = false;
};

}  // namespace svcnft::announce
