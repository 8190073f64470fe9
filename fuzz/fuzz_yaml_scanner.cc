// Fuzz target: the fast YAML scanner against yaml-cpp. Whatever the scanner
// accepts must be exactly what yaml-cpp reads (kinds, scalars, quoting, keys);
// the scanner may decline anything, and then yaml-cpp decides alone.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "manifest/yaml_tree.h"

namespace {

using svcnft::manifest::YamlKind;
using svcnft::manifest::YamlNode;

bool same(const YamlNode& a, const YamlNode& b) {
  if (a.kind() != b.kind() || a.size() != b.size()) return false;
  switch (a.kind()) {
    case YamlKind::kScalar:
      return a.scalar() == b.scalar() && a.quoted() == b.quoted();
    case YamlKind::kSequence:
      for (std::size_t i = 0; i < a.size(); ++i) {
        if (!same(a[i], b[i])) return false;
      }
      return true;
    case YamlKind::kMap:
      for (std::size_t i = 0; i < a.size(); ++i) {
        if (a.keyAt(i) != b.keyAt(i) || !same(a.valueAt(i), b.valueAt(i))) return false;
      }
      return true;
    default:
      return true;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // parseYaml refuses a NUL byte before either reader sees the text.
  if (text.find('\0') != std::string_view::npos) return 0;
  svcnft::manifest::YamlDocument fast, full;
  if (!svcnft::manifest::parseYamlSubset(text, fast)) return 0;
  if (fast.problems()) return 0;  // a duplicate key or a NUL: parseYaml refuses either way
  if (svcnft::manifest::parseYamlFull(text, full) || !same(fast.root(), full.root())) {
    std::abort();  // the scanner read something yaml-cpp refuses or reads otherwise
  }
  return 0;
}
