// Weights → bucket counts for random load balancing.
//
// A Service port with endpoint weights w1..wn gets N buckets, endpoint i owning
// ci of them; `numgen random mod N` then picks endpoint i with probability ci/N.
// Weights are first divided by their gcd, so equal weights give N = n exactly.
//
// Bound: when the reduced weights sum past kMaxBuckets, they are scaled to
// N = max(kMaxBuckets, 4n) buckets by largest remainder, every endpoint keeping at
// least one bucket. So N <= max(256, 4n) + n whatever the weights (1000:1
// over two endpoints gives 255:1, not 1001 elements; the error of a share is under
// one bucket, 1/N), and the lb chains, one per distinct N in use, stay few.
#pragma once

#include <vector>

namespace svcnft {

inline constexpr int kMaxBuckets = 256;
inline constexpr int kBucketsPerEndpoint = 4;  // resolution kept for large weighted pools

// weights: all > 0. Returns per-endpoint bucket counts (same order), each >= 1.
std::vector<int> bucketCounts(const std::vector<int>& weights);

}  // namespace svcnft
