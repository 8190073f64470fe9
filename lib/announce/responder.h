// Answers ARP requests and IPv6 neighbour solicitations for the LoadBalancer
// addresses this node announces, on one interface, from a thread of its own (so a
// slow API request never delays an answer). The addresses are not configured on
// the interface: the kernel itself stays silent for them, and nftables' prerouting
// DNAT takes the traffic that arrives.
//
// - A packet socket with a classic BPF filter sees only ARP requests and neighbour
//   solicitations, nothing of the data traffic.
// - For each IPv6 address the node joins its solicited-node group, so that
//   switches that snoop MLD forward the solicitations to it.
// - An address newly answered for is announced at once (gratuitous ARP, unsolicited
//   advertisement) and twice more at 0.5 s intervals, so that neighbour caches
//   that still point at the previous holder move now and not when they expire.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "announce/neighbour_packets.h"
#include "announce/speaker.h"
#include "common/result.h"
#include "model/address.h"

namespace svcnft::announce {

class Responder : public Speaker {
 public:
  using Log = std::function<void(const std::string&)>;
  static Result<std::unique_ptr<Responder>> open(const std::string& interface, Log log);
  ~Responder() override;
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;

  void answerFor(const std::map<IpAddress, TimePoint>& addresses) override;
  bool linkUp() const override;
  std::vector<IpAddress> ownAddresses() const override;

 private:
  Responder(std::string interface, Log log, int ifindex, Mac mac, int packetFd, int groupFd,
            int wakeFd);
  void run();
  void send(const std::vector<uint8_t>& frame);
  void joinGroup(const IpAddress& address, bool join);

  std::string interface_;
  Log log_;
  int ifindex_;
  Mac mac_;
  int packetFd_, groupFd_, wakeFd_;
  mutable std::mutex mu_;
  std::map<IpAddress, TimePoint> addresses_;  // and until when
  // Announcements still to send: address -> how many.
  std::map<IpAddress, int> toAnnounce_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace svcnft::announce
