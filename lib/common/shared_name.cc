#include "common/shared_name.h"

#include <mutex>
#include <unordered_set>

namespace svcnft {
namespace {

// Never shrinks: names are few (nodes and zones come and go slowly), and an
// object may hold any of them for as long as the process lives. Parsing runs on
// several threads, hence the lock.
struct Pool {
  std::mutex mu;
  std::unordered_set<std::string> names;
};

Pool& pool() {
  static Pool* p = new Pool;  // never destroyed: objects may outlive static destruction
  return *p;
}

const std::string kEmpty;

}  // namespace

SharedName::SharedName(std::string_view name) {
  if (name.empty()) return;
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  name_ = &*p.names.emplace(name).first;  // element addresses are stable in an unordered_set
}

const std::string& SharedName::str() const { return name_ ? *name_ : kEmpty; }

}  // namespace svcnft
