// Where the agent's Services and endpoints come from. The loop only sees this
// interface, so a Kubernetes API source can sit next to the file source without
// touching the loop.
#pragma once

#include "common/diagnostics.h"
#include "spec/loader.h"

namespace svcnft::agent {

class Source {
 public:
  virtual ~Source() = default;
  // A file descriptor that becomes readable when the inputs may have changed.
  virtual int fd() const = 0;
  // Reads what made fd() readable; true if the inputs may now differ.
  virtual bool consumeEvents() = 0;
  // The inputs now: for each part (a file), its last contents that loaded cleanly.
  // Problems found since the last call go to `problems`, each reported once.
  virtual spec::Manifests current(Diagnostics& problems) = 0;
};

}  // namespace svcnft::agent
