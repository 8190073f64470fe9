#include "compile/buckets.h"

#include <algorithm>
#include <numeric>

namespace svcnft {

std::vector<int> bucketCounts(const std::vector<int>& weights) {
  if (weights.empty()) return {};
  int g = 0;
  for (int w : weights) g = std::gcd(g, w);
  std::vector<long> reduced;
  long sum = 0;
  for (int w : weights) {
    reduced.push_back(w / g);
    sum += w / g;
  }
  const long n = static_cast<long>(weights.size());
  if (sum <= kMaxBuckets) return {reduced.begin(), reduced.end()};

  const long target = std::max<long>(kMaxBuckets, kBucketsPerEndpoint * n);
  // Largest remainder: floor of each exact share (at least 1), then the buckets
  // left over go to the largest fractional parts. The min-1 clamp can add a few
  // buckets past target, never more than n.
  std::vector<int> counts(weights.size());
  std::vector<std::pair<long, std::size_t>> remainders;  // (remainder numerator, index)
  long given = 0;
  for (std::size_t i = 0; i < reduced.size(); ++i) {
    const long share = reduced[i] * target;
    counts[i] = static_cast<int>(std::max<long>(1, share / sum));
    given += counts[i];
    remainders.push_back({share / sum == 0 ? 0 : share % sum, i});
  }
  std::stable_sort(remainders.begin(), remainders.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (long k = 0; k < target - given && k < n; ++k) counts[remainders[k].second] += 1;

  int g2 = 0;
  for (int c : counts) g2 = std::gcd(g2, c);
  for (int& c : counts) c /= g2;
  return counts;
}

}  // namespace svcnft
