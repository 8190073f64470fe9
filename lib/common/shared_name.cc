#include "common/shared_name.h"

#include <mutex>
#include <unordered_map>
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
  // Each thread remembers the names it has met, so that it takes the lock only for
  // a new one: the parse threads took it for every endpoint and waited on each other.
  thread_local std::unordered_map<std::string_view, const std::string*> known;
  if (auto it = known.find(name); it != known.end()) {
    name_ = it->second;
    return;
  }
  Pool& p = pool();
  {
    std::lock_guard<std::mutex> lock(p.mu);
    name_ = &*p.names.emplace(name).first;  // element addresses are stable in an unordered_set
  }
  known.emplace(*name_, name_);
}

const std::string& SharedName::str() const { return name_ ? *name_ : kEmpty; }

}  // namespace svcnft
