// Fuzz target: any bytes as a node config.
#include <cstddef>
#include <cstdint>
#include <string>

#include "manifest/loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  svcnft::Diagnostics diags;
  (void)svcnft::manifest::parseNodeConfigText(text, "node.yaml", diags);
  return 0;
}
