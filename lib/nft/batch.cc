#include "nft/batch.h"

#include <libnftnl/common.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include "nft/encode.h"

namespace svcnft::nft {

namespace {

// Big enough for one message of elements (we cut those at ~60 KiB) or one rule.
constexpr std::size_t kMessageBuffer = 1 << 17;

}  // namespace

Batch::Batch(uint32_t firstSeq, uint16_t family)
    : firstSeq_(firstSeq), family_(family), nextSeq_(firstSeq + 1) {}

void Batch::add(uint16_t nftMsgType, uint16_t flags, const std::function<void(nlmsghdr*)>& payload,
                std::string concerns) {
  // One buffer for every message: a fresh zeroed one each time cost more than the
  // message (680 of them at 10,000 x 10).
  if (scratch_.empty()) scratch_.resize(kMessageBuffer);
  const uint32_t seq = nextSeq_++;
  nlmsghdr* nlh =
      nftnl_nlmsg_build_hdr(scratch_.data(), nftMsgType, family_, flags | NLM_F_ACK, seq);
  payload(nlh);
  body_.insert(body_.end(), scratch_.data(), scratch_.data() + NLMSG_ALIGN(nlh->nlmsg_len));
  notes_[seq] = std::move(concerns);
}

std::vector<uint8_t> Batch::bytes() const {
  std::vector<char> begin(256), end(256);
  nlmsghdr* b = nftnl_batch_begin(begin.data(), firstSeq_);
  nlmsghdr* e = nftnl_batch_end(end.data(), nextSeq_);
  std::vector<uint8_t> out;
  out.reserve(body_.size() + 64);
  out.insert(out.end(), begin.data(), begin.data() + NLMSG_ALIGN(b->nlmsg_len));
  out.insert(out.end(), body_.begin(), body_.end());
  out.insert(out.end(), end.data(), end.data() + NLMSG_ALIGN(e->nlmsg_len));
  return out;
}

std::size_t Batch::byteCount() const {
  std::vector<char> marker(256);
  const std::size_t begin = NLMSG_ALIGN(nftnl_batch_begin(marker.data(), firstSeq_)->nlmsg_len);
  const std::size_t end = NLMSG_ALIGN(nftnl_batch_end(marker.data(), nextSeq_)->nlmsg_len);
  return begin + body_.size() + end;
}

std::vector<uint8_t> Batch::checkOnlyBytes() const {
  std::vector<char> begin(256);
  nlmsghdr* b = nftnl_batch_begin(begin.data(), firstSeq_);
  std::vector<uint8_t> out(begin.data(), begin.data() + NLMSG_ALIGN(b->nlmsg_len));
  out.insert(out.end(), body_.begin(), body_.end());
  return out;
}

std::string Batch::concerns(uint32_t seq) const {
  auto it = notes_.find(seq);
  return it == notes_.end() ? "" : it->second;
}

}  // namespace svcnft::nft
