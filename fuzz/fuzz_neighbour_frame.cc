// Fuzz target: any bytes as a frame read from the announce interface's packet
// socket (ARP, IPv6 neighbour discovery, or anything a hostile neighbour sends).
// A frame taken as a question must give an answer that is itself never a question
// (an advertisement, an ARP reply) and that names the asked address.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "announce/neighbour_packets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace svcnft::announce;
  const std::span<const uint8_t> frame(data, size);
  if (auto q = parseQuestion(frame)) {
    const Mac ours{0x02, 0, 0, 0, 0, 1};
    const auto answer = answerFrame(*q, ours);
    if (answer.size() < 42 || parseQuestion(answer)) std::abort();
    (void)announcementFrame(q->target, ours);
  }
  return 0;
}
