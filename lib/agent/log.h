// The agent's log: one line at a time on stderr, prefixed "svcnft agent: ", from
// any thread (the loop, list/watch threads) without interleaving.
#pragma once

#include <string>

namespace svcnft::agent {

void log(const std::string& line);

}  // namespace svcnft::agent
