#include "announce/allocator.h"

#include <algorithm>
#include <optional>

namespace svcnft::announce {

namespace {

// The address after `a` (false: none, the family's last one).
bool next(IpAddress& a) {
  auto bytes = a.bytes();
  const int n = a.family() == IpFamily::kV4 ? 4 : 16;
  for (int i = n - 1; i >= 0; --i) {
    if (++bytes[static_cast<std::size_t>(i)] != 0) {
      a = IpAddress::fromBytes(a.family(), bytes);
      return true;
    }
  }
  return false;
}

// The lowest address of `pool` not in `used`; none when all are.
std::optional<IpAddress> lowestFree(const Cidr& pool, const std::set<IpAddress>& used) {
  IpAddress a = pool.base();
  // Bounded by the pool's size: a /64 pool is searched only as far as the used set
  // reaches into it.
  for (;;) {
    if (!pool.contains(a)) return std::nullopt;
    if (!used.count(a)) return a;
    if (!next(a)) return std::nullopt;
  }
}

}  // namespace

Allocation allocate(const std::vector<AddressRequest>& requests, const std::vector<Cidr>& pools,
                    std::set<IpAddress> used) {
  Allocation out;
  std::vector<AddressRequest> ordered = requests;
  std::sort(ordered.begin(), ordered.end(),
            [](const AddressRequest& a, const AddressRequest& b) { return a.key < b.key; });
  for (const auto& req : ordered) {
    std::vector<IpAddress> got;
    bool short_ = false;
    for (IpFamily f : req.families) {
      std::optional<IpAddress> found;
      for (const auto& pool : pools) {
        if (pool.family() != f) continue;
        if ((found = lowestFree(pool, used))) break;
      }
      if (!found) {
        short_ = true;
        continue;
      }
      used.insert(*found);
      got.push_back(*found);
    }
    if (short_) out.exhausted.push_back(req.key);
    if (!got.empty()) out.addresses.emplace(req.key, std::move(got));
  }
  return out;
}

}  // namespace svcnft::announce
