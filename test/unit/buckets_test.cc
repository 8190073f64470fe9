#include "compile/buckets.h"

#include <catch2/catch.hpp>
#include <numeric>

using svcnft::bucketCounts;
using svcnft::kMaxBuckets;

TEST_CASE("equal weights give one bucket per endpoint", "[buckets]") {
  CHECK(bucketCounts({1, 1, 1}) == std::vector<int>{1, 1, 1});
  CHECK(bucketCounts({7, 7}) == std::vector<int>{1, 1});
}

TEST_CASE("weights are reduced by their gcd", "[buckets]") {
  CHECK(bucketCounts({1, 1, 2}) == std::vector<int>{1, 1, 2});
  CHECK(bucketCounts({100, 200, 300}) == std::vector<int>{1, 2, 3});
}

TEST_CASE("extreme weights are bounded and every endpoint keeps a bucket", "[buckets]") {
  auto c = bucketCounts({1000, 1});
  CHECK(std::accumulate(c.begin(), c.end(), 0) <= kMaxBuckets);
  CHECK(c[1] == 1);
  CHECK(c[0] == kMaxBuckets - 1);  // 1000:1 becomes 255:1

  auto d = bucketCounts({997, 991, 983});  // coprime: sum 2971, scaled down
  int total = std::accumulate(d.begin(), d.end(), 0);
  CHECK(total == kMaxBuckets);
  CHECK(d[0] >= d[1]);
  CHECK(d[1] >= d[2]);
}

TEST_CASE("large weighted pools keep their proportions within the bound", "[buckets]") {
  std::vector<int> w(1000, 1);
  w[0] = 1000;  // half of all traffic
  auto c = bucketCounts(w);
  REQUIRE(c.size() == 1000);
  for (int x : c) CHECK(x >= 1);
  const int total = std::accumulate(c.begin(), c.end(), 0);
  CHECK(total <= 5 * 1000);
  CHECK(static_cast<double>(c[0]) / total == Approx(1000.0 / 1999).epsilon(0.01));
}

TEST_CASE("large unweighted pools use one bucket per endpoint", "[buckets]") {
  std::vector<int> w(5000, 1);
  auto c = bucketCounts(w);
  CHECK(std::accumulate(c.begin(), c.end(), 0) == 5000);
}
