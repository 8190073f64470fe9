// LoadBalancer addresses from the configured pools (node config
// `loadBalancerPools`) for the Services that claim this announcer's
// loadBalancerClass and have no ingress address yet: one address per IP family of
// the Service, the lowest free one of that family's pools, Services in key order.
// Pure: the announcer writes the result to each Service's status (the elected
// allocator only: two nodes choosing at once could give one address twice).
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "model/address.h"

namespace svcnft::announce {

struct AddressRequest {
  std::string key;                 // "namespace/name"
  std::vector<IpFamily> families;  // one address each
  auto operator<=>(const AddressRequest&) const = default;
};

struct Allocation {
  std::map<std::string, std::vector<IpAddress>> addresses;  // by Service key
  std::vector<std::string> exhausted;  // Services left without an address of a family
};

// `used`: every address some Service already has (whatever its class).
Allocation allocate(const std::vector<AddressRequest>& requests, const std::vector<Cidr>& pools,
                    std::set<IpAddress> used);

}  // namespace svcnft::announce
