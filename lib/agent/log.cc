#include "agent/log.h"

#include <iostream>
#include <mutex>

namespace svcnft::agent {

void log(const std::string& line) {
  static std::mutex mu;
  std::lock_guard<std::mutex> l(mu);
  std::cerr << "svcnft agent: " << line << std::endl;
}

}  // namespace svcnft::agent
