// The only socket code in svcnft: a NETLINK_NETFILTER socket that sends one
// nf_tables transaction per sendmsg and reads every reply back.
//
// Facts this rests on (docs/design.md, measured on this kernel): one transaction is one
// sendmsg of BATCH_BEGIN ... BATCH_END; a big batch needs SO_SNDBUFFORCE; the
// kernel reports every failing message by sequence number and then aborts the
// whole batch, so a failed transaction changes nothing. The transport knows
// batches and sequence numbers, never Services.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/result.h"

struct mnl_socket;
struct nlmsghdr;

namespace svcnft::netlink {

struct MessageError {
  uint32_t seq = 0;
  int errnum = 0;  // positive errno
};

struct TransactionResult {
  std::vector<MessageError> errors;  // empty: committed
};

// What the writer needs from netlink, so a test can put itself in between (to
// make the kernel reject a transaction, say) without a flag in the product.
class Transport {
 public:
  virtual ~Transport() = default;
  // Sends `batch` (a complete BATCH_BEGIN..BATCH_END buffer) in one sendmsg and
  // reads replies until each of the `acks` messages that asked for one has answered.
  virtual Result<TransactionResult> transact(const std::vector<uint8_t>& batch, int acks) = 0;
  // Sends one dump request (or a get that asks for an ack) and calls `onMessage`
  // for every reply message.
  virtual Result<int> dump(const std::vector<uint8_t>& request,
                           const std::function<void(const nlmsghdr*)>& onMessage) = 0;
  // The netlink port the kernel names as the origin of our changes in its events.
  virtual uint32_t portId() const = 0;
};

class Socket : public Transport {
 public:
  static Result<Socket> open();
  Socket(Socket&& other) noexcept;
  Socket& operator=(Socket&& other) noexcept;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket() override;

  uint32_t portId() const override { return portId_; }

  Result<TransactionResult> transact(const std::vector<uint8_t>& batch, int acks) override;
  Result<int> dump(const std::vector<uint8_t>& request,
                   const std::function<void(const nlmsghdr*)>& onMessage) override;

 private:
  explicit Socket(mnl_socket* s);
  Result<int> raiseBuffers(std::size_t bytes);

  mnl_socket* socket_ = nullptr;
  uint32_t portId_ = 0;
};

// What the agent needs to hear of other people's changes to our table, so a test
// can stand in for the kernel's event group.
class EventMonitor {
 public:
  virtual ~EventMonitor() = default;
  // Readable when events are pending (-1: never).
  virtual int fd() const = 0;
  // Reads what is pending; true if some event, sent by a port other than
  // `ignorePort`, concerned table `table` (or the socket overran and anything may have).
  virtual bool changedBySomeoneElse(const std::string& table, uint32_t ignorePort) = 0;
  // The same, right after a transaction of our own: an overrun now is taken to be
  // that transaction's own events (a full install at 10,000 Services sends ~200,000
  // element events), not a sign of someone else's change; the periodic full check
  // covers the window.
  virtual bool changedBySomeoneElseAfterOwn(const std::string& table, uint32_t ignorePort) = 0;
  // Leaves and rejoins the event group. While anyone listens, the kernel builds an
  // event per element a transaction touches: a million cost ~50 s of the commit.
  virtual Result<bool> pause() = 0;
  virtual Result<bool> resume() = 0;
  // How often the socket overran (ENOBUFS) so far: events were lost.
  virtual uint64_t overruns() const { return 0; }
};

// A socket subscribed to nf_tables events (NFNLGRP_NFTABLES): every change anyone
// makes to any table is reported on it.
class Monitor : public EventMonitor {
 public:
  static Result<Monitor> open();
  Monitor(Monitor&& other) noexcept;
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;
  ~Monitor() override;
  int fd() const override;
  bool changedBySomeoneElse(const std::string& table, uint32_t ignorePort) override;
  bool changedBySomeoneElseAfterOwn(const std::string& table, uint32_t ignorePort) override;
  Result<bool> pause() override;
  Result<bool> resume() override;
  uint64_t overruns() const override { return overruns_; }

 private:
  explicit Monitor(mnl_socket* s) : socket_(s) {}
  bool read(const std::string& table, uint32_t ignorePort, bool overrunIsChange);
  mnl_socket* socket_ = nullptr;
  uint64_t overruns_ = 0;
};

// "EPERM (Operation not permitted)" style text for an errno.
std::string errnoText(int errnum);

}  // namespace svcnft::netlink
