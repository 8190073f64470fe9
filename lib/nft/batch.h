// One nf_tables transaction as bytes: BATCH_BEGIN, the messages, BATCH_END. Each
// message keeps its sequence number and a note of what it concerns (a chain, a set,
// the Services whose elements it carries), so a kernel error reported by sequence
// number can name the Service. Pure: builds bytes, sends nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

struct nlmsghdr;

namespace svcnft::nft {

class Batch {
 public:
  // `family`: the nf_tables family every message is for (NFPROTO_INET: ours).
  explicit Batch(uint32_t firstSeq = 1, uint16_t family = 1);

  // Appends one message; `payload` fills it after the header.
  // `padding`: whether `payload` writes the padding of its attributes itself
  // (kZeroed) or leaves it as it finds the buffer (libnftnl's, through libmnl).
  enum class Padding { kLeftAsFound, kZeroed };
  void add(uint16_t nftMsgType, uint16_t flags, const std::function<void(nlmsghdr*)>& payload,
           std::string concerns, Padding padding = Padding::kLeftAsFound);

  // Room for `bytes` of messages.
  void reserve(std::size_t bytes) { wire_.reserve(bytes); }

  // The whole transaction, ready for one sendmsg: held, not copied (371 MB at
  // 50,000 x 100). Valid until the next add().
  const std::vector<uint8_t>& bytes() const;
  // The same without BATCH_END: the kernel checks every message, answers each,
  // and commits nothing (how `nft -c` works).
  std::vector<uint8_t> checkOnlyBytes() const;
  // The size of bytes(), without building it.
  std::size_t byteCount() const;
  int messageCount() const { return static_cast<int>(notes_.size()); }
  // What the message with this sequence number concerns ("" if not ours).
  std::string concerns(uint32_t seq) const;

 private:
  uint32_t firstSeq_;
  uint16_t family_;
  uint32_t nextSeq_;
  // BATCH_BEGIN, the messages, and BATCH_END once bytes() sealed it (at sealedAt_).
  mutable std::vector<uint8_t> wire_;
  mutable std::optional<std::size_t> sealedAt_;
  void unseal() const;
  std::vector<char> scratch_;  // where each message is built before it joins wire_
  std::size_t dirty_ = 0;      // how much of scratch_ is not zero
  std::map<uint32_t, std::string> notes_;
};

}  // namespace svcnft::nft
