#include "netlink/transport.h"

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace svcnft::netlink {

namespace {

// Replies can outnumber what one receive buffer holds (one ack per message), so
// the receive side is raised as well; 16 MiB covers 50,000 Services' batches.
constexpr int kReceiveBufferBytes = 16 << 20;
// A 50,000-Service commit takes ~3 s in the kernel before the first reply.
constexpr int kReplyTimeoutMs = 60000;

Error sysError(const std::string& what, int errnum) {
  return Error{what + ": " + errnoText(errnum)};
}

}  // namespace

std::string errnoText(int errnum) {
  const char* name = strerrordesc_np(errnum);
  const char* abbrev = strerrorname_np(errnum);
  return std::string(abbrev ? abbrev : "E?") + " (" + (name ? name : "unknown") + ")";
}

Socket::Socket(mnl_socket* s) : socket_(s), portId_(mnl_socket_get_portid(s)) {}

Socket::Socket(Socket&& other) noexcept : socket_(other.socket_), portId_(other.portId_) {
  other.socket_ = nullptr;
}

Socket& Socket::operator=(Socket&& other) noexcept {
  if (this != &other) {
    if (socket_) mnl_socket_close(socket_);
    socket_ = other.socket_;
    portId_ = other.portId_;
    other.socket_ = nullptr;
  }
  return *this;
}

Socket::~Socket() {
  if (socket_) mnl_socket_close(socket_);
}

Result<Socket> Socket::open() {
  mnl_socket* s = mnl_socket_open(NETLINK_NETFILTER);
  if (!s) return sysError("netlink socket", errno);
  if (mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) < 0) {
    const int e = errno;
    mnl_socket_close(s);
    return sysError("netlink bind", e);
  }
  Socket sock(s);
  int rcv = kReceiveBufferBytes;
  // Best effort: without CAP_NET_ADMIN the FORCE variant fails; the plain one caps.
  if (setsockopt(mnl_socket_get_fd(s), SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof rcv) < 0) {
    setsockopt(mnl_socket_get_fd(s), SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
  }
  return sock;
}

Result<int> Socket::raiseBuffers(std::size_t bytes) {
  // A 384 KB batch fails with EMSGSIZE at the default send buffer (docs/design.md).
  int snd = static_cast<int>(std::min<std::size_t>(bytes + (1 << 16), 1u << 30));
  if (setsockopt(mnl_socket_get_fd(socket_), SOL_SOCKET, SO_SNDBUFFORCE, &snd, sizeof snd) < 0) {
    if (setsockopt(mnl_socket_get_fd(socket_), SOL_SOCKET, SO_SNDBUF, &snd, sizeof snd) < 0) {
      return sysError("raising the netlink send buffer", errno);
    }
  }
  return 0;
}

Result<TransactionResult> Socket::transact(const std::vector<uint8_t>& batch, int acks) {
  if (auto r = raiseBuffers(batch.size()); !r) return r.error();
  // One sendmsg: the kernel treats the whole buffer as one transaction.
  if (mnl_socket_sendto(socket_, batch.data(), batch.size()) < 0) {
    return sysError("sending the transaction (" + std::to_string(batch.size()) + " bytes)", errno);
  }
  TransactionResult result;
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE * 4);
  int answered = 0;
  bool overrun = false;
  while (answered < acks) {
    // Replies come at once after the commit; silence this long means they were lost.
    pollfd p{mnl_socket_get_fd(socket_), POLLIN, 0};
    const int ready = poll(&p, 1, overrun ? 200 : kReplyTimeoutMs);
    if (ready == 0) break;
    if (ready < 0) {
      if (errno == EINTR) continue;
      return sysError("waiting for transaction replies", errno);
    }
    const ssize_t n = mnl_socket_recvfrom(socket_, buf.data(), buf.size());
    if (n < 0) {
      if (errno == ENOBUFS) {
        // Some replies were dropped, not the transaction: drain what is left.
        overrun = true;
        continue;
      }
      if (errno == EINTR) continue;
      return sysError("reading transaction replies", errno);
    }
    int len = static_cast<int>(n);
    for (const nlmsghdr* nlh = reinterpret_cast<const nlmsghdr*>(buf.data());
         mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
      if (nlh->nlmsg_type != NLMSG_ERROR) continue;
      const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
      ++answered;
      if (err->error != 0) result.errors.push_back({nlh->nlmsg_seq, -err->error});
    }
  }
  if (answered < acks && result.errors.empty()) {
    return Error{std::string(overrun ? "netlink replies overran the receive buffer (ENOBUFS)"
                                     : "netlink replies stopped coming") +
                 " after " + std::to_string(answered) + " of " + std::to_string(acks) +
                 "; whether the transaction committed is unknown: run `svcnft diff`"};
  }
  return result;
}

Result<int> Socket::dump(const std::vector<uint8_t>& request,
                         const std::function<void(const nlmsghdr*)>& onMessage) {
  if (mnl_socket_sendto(socket_, request.data(), request.size()) < 0) {
    return sysError("sending a dump request", errno);
  }
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE * 4);
  int messages = 0;
  for (;;) {
    const ssize_t n = mnl_socket_recvfrom(socket_, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return sysError("reading a dump", errno);
    }
    int len = static_cast<int>(n);
    for (const nlmsghdr* nlh = reinterpret_cast<const nlmsghdr*>(buf.data());
         mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
      if (nlh->nlmsg_type == NLMSG_DONE) return messages;
      if (nlh->nlmsg_type == NLMSG_ERROR) {
        const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
        if (err->error == 0) return messages;  // the ack of a plain get: its reply came first
        return sysError("dump", -err->error);
      }
      ++messages;
      onMessage(nlh);
    }
  }
}

Result<Monitor> Monitor::open() {
  mnl_socket* s = mnl_socket_open2(NETLINK_NETFILTER, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (!s) return sysError("netlink monitor socket", errno);
  if (mnl_socket_bind(s, 1u << (NFNLGRP_NFTABLES - 1), MNL_SOCKET_AUTOPID) < 0) {
    const int e = errno;
    mnl_socket_close(s);
    return sysError("subscribing to nf_tables events", e);
  }
  int rcv = kReceiveBufferBytes;
  setsockopt(mnl_socket_get_fd(s), SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof rcv);
  return Monitor(s);
}

Result<bool> Monitor::pause() {
  int group = NFNLGRP_NFTABLES;
  if (mnl_socket_setsockopt(socket_, NETLINK_DROP_MEMBERSHIP, &group, sizeof group) < 0) {
    return sysError("leaving the nf_tables event group", errno);
  }
  return true;
}

Result<bool> Monitor::resume() {
  int group = NFNLGRP_NFTABLES;
  if (mnl_socket_setsockopt(socket_, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) < 0) {
    return sysError("joining the nf_tables event group", errno);
  }
  return true;
}

Monitor::Monitor(Monitor&& other) noexcept : socket_(other.socket_), overruns_(other.overruns_) {
  other.socket_ = nullptr;
}

Monitor::~Monitor() {
  if (socket_) mnl_socket_close(socket_);
}

int Monitor::fd() const { return mnl_socket_get_fd(socket_); }

bool Monitor::changedBySomeoneElse(const std::string& table, uint32_t ignorePort) {
  return read(table, ignorePort, /*overrunIsChange=*/true);
}

bool Monitor::changedBySomeoneElseAfterOwn(const std::string& table, uint32_t ignorePort) {
  return read(table, ignorePort, /*overrunIsChange=*/false);
}

bool Monitor::read(const std::string& table, uint32_t ignorePort, bool overrunIsChange) {
  bool changed = false;
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE * 4);
  for (;;) {
    const ssize_t n = mnl_socket_recvfrom(socket_, buf.data(), buf.size());
    if (n < 0) {
      if (errno == ENOBUFS) {  // events were lost: assume the worst, unless told
        ++overruns_;
        changed = changed || overrunIsChange;
        continue;
      }
      break;  // EAGAIN: drained
    }
    int len = static_cast<int>(n);
    for (const nlmsghdr* nlh = reinterpret_cast<const nlmsghdr*>(buf.data());
         mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
      if ((nlh->nlmsg_type >> 8) != NFNL_SUBSYS_NFTABLES || nlh->nlmsg_pid == ignorePort) continue;
      // Tables, chains, rules, sets and element lists all name their table in
      // attribute 1 (NFTA_TABLE_NAME, NFTA_CHAIN_TABLE, NFTA_RULE_TABLE, ...).
      std::string name;
      mnl_attr_parse(
          nlh, sizeof(nfgenmsg),
          [](const nlattr* a, void* out) {
            if (mnl_attr_get_type(a) == 1 && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0) {
              *static_cast<std::string*>(out) = mnl_attr_get_str(a);
            }
            return MNL_CB_OK;
          },
          &name);
      if (name == table) changed = true;
    }
  }
  return changed;
}

}  // namespace svcnft::netlink
