// What our table holds in the kernel right now, read back over netlink, as the
// plain values the diff compares (signatures and element records).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/result.h"
#include "diff/element_diff.h"
#include "netlink/transport.h"

namespace svcnft::writer {

struct Installed {
  std::map<std::string, std::string> sets;                // name → declaration
  std::map<std::string, std::string> chains;              // name → hook
  std::map<std::string, std::vector<std::string>> rules;  // chain → its rules, in order
  std::map<std::string, std::vector<diff::ElementRecord>> elements;  // set → elements
  bool operator==(const Installed&) const = default;
};

// Which sets' elements to read. A dump of a set restarts the kernel's walk of it
// at every 32 KiB reply, so reading a set back costs its size squared: 0.8 s for
// the 195,000 elements of 10,000 x 10, minutes for the million of 10,000 x 100.
enum class ElementScope { kAll, kDynamicOnly };
Result<Installed> readInstalled(netlink::Transport& sock, const std::string& table,
                                ElementScope scope = ElementScope::kAll);
// One set's elements (the agent reads the affinity maps this way).
Result<std::vector<diff::ElementRecord>> readSetElements(netlink::Transport& sock,
                                                         const std::string& table,
                                                         const std::string& set);

}  // namespace svcnft::writer
