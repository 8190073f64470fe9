// Fuzz target: any bytes as the body of a state record file, sealed with its
// version line and checksum (unsealed, nearly every mutation would only fail the
// checksum). What decodes must encode back to the same file.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "writer/state_record.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string file =
      svcnft::writer::sealState(std::string(reinterpret_cast<const char*>(data), size));
  if (auto record = svcnft::writer::decodeState(file)) {
    if (svcnft::writer::encodeState(*record) != file) std::abort();
  }
  return 0;
}
