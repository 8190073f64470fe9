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

  const long target = std::max<long>(kMaxBuckets, n);
  // Every endpoint gets one bucket; the rest are shared by largest remainder.
  const long spare = target - n;
  std::vector<int> counts(weights.size(), 1);
  std::vector<std::pair<long, std::size_t>> remainders;  // (remainder numerator, index)
  long given = 0;
  for (std::size_t i = 0; i < reduced.size(); ++i) {
    const long share = reduced[i] * spare;
    counts[i] += static_cast<int>(share / sum);
    given += share / sum;
    remainders.push_back({share % sum, i});
  }
  std::stable_sort(remainders.begin(), remainders.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (long k = 0; k < spare - given; ++k) counts[remainders[k].second] += 1;

  int g2 = 0;
  for (int c : counts) g2 = std::gcd(g2, c);
  for (int& c : counts) c /= g2;
  return counts;
}

}  // namespace svcnft
