// The writer: puts a compiled ruleset into the kernel and takes it out again,
// each as one atomic transaction; a rejected transaction changes nothing, and the
// error names what the failing message concerned (a chain, a set, the Services
// whose elements it carried) with the errno.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "compile/ir.h"
#include "netlink/transport.h"

namespace svcnft::writer {

struct ApplyReport {
  bool replaced = false;  // a previous svcnft table was swapped out
  int messages = 0;
  std::size_t bytes = 0;
};

// Whether table inet TABLE exists.
Result<bool> tableExists(netlink::Socket& sock, const std::string& table);

// Installs `rs`, replacing our table atomically if it is there; no other table is touched.
Result<ApplyReport> applyFull(netlink::Socket& sock, const ir::Ruleset& rs);

// Deletes our table if it exists. Returns whether there was one.
Result<bool> cleanup(netlink::Socket& sock, const std::string& table);

}  // namespace svcnft::writer
