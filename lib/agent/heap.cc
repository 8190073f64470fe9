#include "agent/heap.h"

#include <malloc.h>

#include <cstdlib>

namespace svcnft::agent {
namespace {

// glibc sorts at most this many chunks of its unsorted free list per allocation
// (MAX_ITERS in its malloc.c).
constexpr std::size_t kSortedPerAllocation = 10000;
// A request in the large bins but under the mmap threshold: it sorts the unsorted
// list instead of taking memory from the tail of the heap or from mmap.
constexpr std::size_t kLargeRequest = 60000;

}  // namespace

// A full sync frees a few small objects per Service in the middle of what stays
// (the lists of changed Services, say). malloc_trim merges the free chunks and
// returns whole free pages, but leaves the merged chunks, some 150,000 at 50,000
// Services, on glibc's unsorted free list; the next allocation of any size sorts
// that list into bins, walking pages just given back. Left alone, that made the
// first partial sync after a full one cost 12 ms at 50,000 Services against
// 0.4 ms for the next (issue 13, target 5). Large requests sort it here instead.
void settleHeapAfterFullSync() {
  malloc_trim(0);
  const std::size_t freeChunks = mallinfo2().ordblks;
  for (std::size_t i = 0; i <= freeChunks / kSortedPerAllocation; ++i) {
    // volatile: the compiler may drop a malloc whose memory is only freed. Sizes
    // differ so that no request is served exactly by the one freed before it.
    void* volatile p = std::malloc(kLargeRequest - 16 * (i % 64));
    std::free(p);
  }
}

}  // namespace svcnft::agent
