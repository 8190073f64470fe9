#include "nft/batch.h"

#include <libnftnl/common.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include <algorithm>
#include <cstring>

#include "nft/encode.h"

namespace svcnft::nft {

namespace {

// Big enough for one message of elements (we cut those at ~60 KiB) or one rule.
constexpr std::size_t kMessageBuffer = 1 << 17;

}  // namespace

Batch::Batch(uint32_t firstSeq, uint16_t family)
    : firstSeq_(firstSeq), family_(family), nextSeq_(firstSeq + 1) {
  std::vector<char> begin(256);
  const nlmsghdr* b = nftnl_batch_begin(begin.data(), firstSeq_);
  wire_.assign(begin.data(), begin.data() + NLMSG_ALIGN(b->nlmsg_len));
}

void Batch::add(uint16_t nftMsgType, uint16_t flags, const std::function<void(nlmsghdr*)>& payload,
                std::string concerns, Padding padding) {
  unseal();
  // One buffer for every message: a fresh zeroed one each time cost more than the
  // message (680 of them at 10,000 x 10).
  if (scratch_.empty()) scratch_.resize(kMessageBuffer);
  // libmnl 1.0.4 leaves an attribute's padding as it finds it, and a message's bytes
  // must not depend on the one before: a payload that does not zero its padding
  // itself gets a zeroed buffer. Element messages zero theirs (encode_elements.cc),
  // and the buffer is zeroed only before the next message that does not.
  if (padding == Padding::kLeftAsFound && dirty_ > 0) {
    std::memset(scratch_.data(), 0, dirty_);
    dirty_ = 0;
  }
  const uint32_t seq = nextSeq_++;
  nlmsghdr* nlh =
      nftnl_nlmsg_build_hdr(scratch_.data(), nftMsgType, family_, flags | NLM_F_ACK, seq);
  payload(nlh);
  const std::size_t used = NLMSG_ALIGN(nlh->nlmsg_len);
  wire_.insert(wire_.end(), scratch_.data(), scratch_.data() + used);
  dirty_ = std::max(dirty_, used);
  notes_[seq] = std::move(concerns);
}

void Batch::unseal() const {
  if (sealedAt_) wire_.resize(*sealedAt_);
  sealedAt_.reset();
}

const std::vector<uint8_t>& Batch::bytes() const {
  if (!sealedAt_) {
    std::vector<char> end(256);
    const nlmsghdr* e = nftnl_batch_end(end.data(), nextSeq_);
    sealedAt_ = wire_.size();
    wire_.insert(wire_.end(), end.data(), end.data() + NLMSG_ALIGN(e->nlmsg_len));
  }
  return wire_;
}

std::size_t Batch::byteCount() const { return bytes().size(); }

std::vector<uint8_t> Batch::checkOnlyBytes() const {
  unseal();
  return wire_;
}

std::string Batch::concerns(uint32_t seq) const {
  auto it = notes_.find(seq);
  return it == notes_.end() ? "" : it->second;
}

}  // namespace svcnft::nft
