#include "announce/responder.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

namespace svcnft::announce {

namespace {

constexpr int kAnnouncements = 3;
constexpr std::chrono::milliseconds kAnnounceEvery{500};

// Only ARP requests (operation 1) and ICMPv6 neighbour solicitations (type 135,
// in an IPv6 header without extension headers, as neighbour discovery sends them).
sock_filter kQuestions[] = {
    BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),             // 0: ethertype
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x0806, 0, 2),  // 1: ARP? else 4
    BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 20),             // 2: ARP operation
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 1, 5, 6),       // 3: request? 9 : 10
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x86dd, 0, 5),  // 4: IPv6? else 10
    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 20),             // 5: next header
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 58, 0, 3),      // 6: ICMPv6? else 10
    BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 54),             // 7: ICMPv6 type
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 135, 0, 1),     // 8: solicitation? else 10
    BPF_STMT(BPF_RET | BPF_K, 0x40000),                 // 9: take it
    BPF_STMT(BPF_RET | BPF_K, 0),                       // 10: not for us
};

Error failed(const std::string& what) { return Error{what + ": " + std::strerror(errno)}; }

}  // namespace

Result<std::unique_ptr<Responder>> Responder::open(const std::string& interface, Log log) {
  const unsigned ifindex = if_nametoindex(interface.c_str());
  if (ifindex == 0) return failed("announcing on interface " + interface);
  const int groupFd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (groupFd < 0) return failed("socket for neighbour discovery groups");
  ifreq req{};
  std::strncpy(req.ifr_name, interface.c_str(), IFNAMSIZ - 1);
  if (ioctl(groupFd, SIOCGIFHWADDR, &req) < 0 || req.ifr_hwaddr.sa_family != ARPHRD_ETHER) {
    close(groupFd);
    return Error{"interface " + interface + " has no Ethernet address to announce with"};
  }
  Mac mac{};
  std::memcpy(mac.data(), req.ifr_hwaddr.sa_data, mac.size());

  const int packetFd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
  if (packetFd < 0) {
    Error e = failed("packet socket on " + interface);
    close(groupFd);
    // The agent's usual privileges (CAP_NET_ADMIN, netlink and IP sockets) do not
    // cover this one.
    if (errno == EPERM || errno == EAFNOSUPPORT || errno == EACCES) {
      e.message +=
          " (announcing needs CAP_NET_RAW and AF_PACKET sockets: README, "
          "\"LoadBalancer addresses on bare metal\")";
    }
    return e;
  }
  sock_fprog program{static_cast<unsigned short>(std::size(kQuestions)), kQuestions};
  sockaddr_ll where{};
  where.sll_family = AF_PACKET;
  where.sll_protocol = htons(ETH_P_ALL);
  where.sll_ifindex = static_cast<int>(ifindex);
  if (setsockopt(packetFd, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program) < 0 ||
      bind(packetFd, reinterpret_cast<sockaddr*>(&where), sizeof where) < 0) {
    Error e = failed("packet socket on " + interface);
    close(packetFd);
    close(groupFd);
    return e;
  }
  const int wakeFd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wakeFd < 0) {
    close(packetFd);
    close(groupFd);
    return failed("eventfd");
  }
  return std::unique_ptr<Responder>(new Responder(
      interface, std::move(log), static_cast<int>(ifindex), mac, packetFd, groupFd, wakeFd));
}

Responder::Responder(std::string interface, Log log, int ifindex, Mac mac, int packetFd,
                     int groupFd, int wakeFd)
    : interface_(std::move(interface)),
      log_(std::move(log)),
      ifindex_(ifindex),
      mac_(mac),
      packetFd_(packetFd),
      groupFd_(groupFd),
      wakeFd_(wakeFd) {
  thread_ = std::thread([this] { run(); });
}

Responder::~Responder() {
  stop_ = true;
  const uint64_t one = 1;
  (void)!write(wakeFd_, &one, sizeof one);
  thread_.join();
  close(packetFd_);
  close(groupFd_);
  close(wakeFd_);
}

void Responder::answerFor(const std::map<IpAddress, TimePoint>& addresses) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [a, until] : addresses) {
      if (addresses_.count(a)) continue;
      toAnnounce_[a] = kAnnouncements;
      if (a.family() == IpFamily::kV6) joinGroup(a, true);
    }
    for (const auto& [a, until] : addresses_) {
      if (addresses.count(a)) continue;
      toAnnounce_.erase(a);
      if (a.family() == IpFamily::kV6) joinGroup(a, false);
    }
    addresses_ = addresses;
  }
  const uint64_t one = 1;
  (void)!write(wakeFd_, &one, sizeof one);
}

bool Responder::linkUp() const {
  ifreq req{};
  std::strncpy(req.ifr_name, interface_.c_str(), IFNAMSIZ - 1);
  if (ioctl(groupFd_, SIOCGIFFLAGS, &req) < 0) return false;
  return (req.ifr_flags & IFF_UP) && (req.ifr_flags & IFF_RUNNING);
}

std::vector<IpAddress> Responder::ownAddresses() const {
  std::vector<IpAddress> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) < 0) return out;
  for (ifaddrs* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || interface_ != a->ifa_name) continue;
    std::array<uint8_t, 16> bytes{};
    if (a->ifa_addr->sa_family == AF_INET) {
      std::memcpy(bytes.data(), &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, 4);
      out.push_back(IpAddress::fromBytes(IpFamily::kV4, bytes));
    } else if (a->ifa_addr->sa_family == AF_INET6) {
      std::memcpy(bytes.data(), &reinterpret_cast<sockaddr_in6*>(a->ifa_addr)->sin6_addr, 16);
      if (bytes[0] == 0xfe && (bytes[1] & 0xc0) == 0x80) continue;  // link-local
      out.push_back(IpAddress::fromBytes(IpFamily::kV6, bytes));
    }
  }
  freeifaddrs(list);
  return out;
}

void Responder::joinGroup(const IpAddress& address, bool join) {
  ipv6_mreq group{};
  const IpAddress g = solicitedNodeGroup(address);
  std::memcpy(&group.ipv6mr_multiaddr, g.bytes().data(), 16);
  group.ipv6mr_interface = static_cast<unsigned>(ifindex_);
  // Two addresses can share a group (the same last 24 bits): the kernel counts.
  if (setsockopt(groupFd_, IPPROTO_IPV6, join ? IPV6_JOIN_GROUP : IPV6_LEAVE_GROUP, &group,
                 sizeof group) < 0 &&
      join) {
    log_("warning: cannot join " + g.str() + " on " + interface_ + ": " + std::strerror(errno) +
         "; solicitations for " + address.str() +
         " may not reach this node through switches that snoop MLD");
  }
}

void Responder::send(const std::vector<uint8_t>& frame) {
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_ifindex = ifindex_;
  to.sll_halen = 6;
  std::memcpy(to.sll_addr, frame.data(), 6);
  // A failure (the link went down) is not logged per frame: the announcer gives
  // the addresses up when the link stays down.
  (void)sendto(packetFd_, frame.data(), frame.size(), 0, reinterpret_cast<sockaddr*>(&to),
               sizeof to);
}

void Responder::run() {
  using Clock = std::chrono::steady_clock;
  Clock::time_point nextAnnouncement = Clock::now();
  std::vector<uint8_t> buf(2048);
  while (!stop_) {
    int timeoutMs = 1000;
    {
      std::lock_guard<std::mutex> lock(mu_);
      const auto now = Clock::now();
      if (!toAnnounce_.empty() && now >= nextAnnouncement) {
        for (auto it = toAnnounce_.begin(); it != toAnnounce_.end();) {
          if (auto held = addresses_.find(it->first);
              held != addresses_.end() && now < held->second)
            send(announcementFrame(it->first, mac_));
          it = --it->second == 0 ? toAnnounce_.erase(it) : std::next(it);
        }
        nextAnnouncement = now + kAnnounceEvery;
      }
      if (!toAnnounce_.empty()) {
        timeoutMs = static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(
                                         std::max(nextAnnouncement - now, Clock::duration{}))
                                         .count());
      }
    }
    pollfd fds[2] = {{packetFd_, POLLIN, 0}, {wakeFd_, POLLIN, 0}};
    if (poll(fds, 2, timeoutMs) < 0 && errno != EINTR) break;
    if (fds[1].revents & POLLIN) {
      uint64_t n = 0;
      (void)!read(wakeFd_, &n, sizeof n);
      std::lock_guard<std::mutex> lock(mu_);
      // New addresses go out now, not at the next tick.
      for (const auto& [a, count] : toAnnounce_) {
        if (count == kAnnouncements) nextAnnouncement = Clock::now();
      }
    }
    if (!(fds[0].revents & POLLIN)) continue;
    for (;;) {
      sockaddr_ll from{};
      socklen_t fromLen = sizeof from;
      const ssize_t n = recvfrom(packetFd_, buf.data(), buf.size(), MSG_DONTWAIT,
                                 reinterpret_cast<sockaddr*>(&from), &fromLen);
      if (n <= 0) break;
      if (from.sll_pkttype == PACKET_OUTGOING) continue;
      auto q = parseQuestion(std::span<const uint8_t>(buf.data(), static_cast<std::size_t>(n)));
      if (!q) continue;
      bool ours = false;
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto held = addresses_.find(q->target);
        ours = held != addresses_.end() && Clock::now() < held->second;
      }
      if (ours) send(answerFrame(*q, mac_));
    }
  }
}

}  // namespace svcnft::announce
