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
};

Result<Installed> readInstalled(netlink::Transport& sock, const std::string& table);
// One set's elements (the agent reads the affinity maps this way).
Result<std::vector<diff::ElementRecord>> readSetElements(netlink::Transport& sock,
                                                         const std::string& table,
                                                         const std::string& set);

}  // namespace svcnft::writer
