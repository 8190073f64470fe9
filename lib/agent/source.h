// Where the agent's Services and endpoints come from. The loop only sees this
// interface, so a Kubernetes API source can sit next to the file source without
// touching the loop.
#pragma once

#include <set>
#include <string>

#include "agent/inventory.h"
#include "common/diagnostics.h"

namespace svcnft::agent {

class Source {
 public:
  virtual ~Source() = default;
  // A file descriptor that becomes readable when the inputs may have changed.
  virtual int fd() const = 0;
  // Reads what made fd() readable; true if the inputs may now differ.
  virtual bool consumeEvents() = 0;
  // Takes in what changed since the last call (the first call reads everything)
  // and returns the keys of the Services whose inputs differ now. Problems found
  // go to `problems`, each reported once; a part with problems keeps its last
  // contents that loaded cleanly.
  virtual std::set<std::string> refresh(Diagnostics& problems) = 0;
  // The inputs as of the last refresh().
  virtual const Inventory& inventory() const = 0;
};

}  // namespace svcnft::agent
