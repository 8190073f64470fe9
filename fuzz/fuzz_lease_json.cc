// Fuzz target: any bytes as a Lease from the API server. What parses must write
// back as JSON that parses to the same record.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "announce/lease_store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace svcnft::announce;
  auto lease = parseLease(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!lease) return 0;
  auto back = parseLease(leaseJson("kube-system", "svcnft-lb-x", *lease));
  if (!back || !back->sameAs(*lease) || back->resourceVersion != lease->resourceVersion) {
    std::abort();
  }
  return 0;
}
