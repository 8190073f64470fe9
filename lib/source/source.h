// Where the agent's Services and endpoints come from. The loop only sees this
// interface; a source depends on the model and the manifest reader, never on the
// writer or the kernel. Every source files its objects into one Inventory that the
// agent owns, each under part names of its own (a file's path, an API object's
// path), so a Service defined by two sources is a conflict the inventory sees.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/diagnostics.h"
#include "model/inputs.h"
#include "source/inventory.h"

namespace svcnft::source {

class Source {
 public:
  virtual ~Source() = default;
  // What logs and /healthz call it ("files /etc/svcnft/manifests", "kubernetes").
  virtual std::string name() const = 0;
  // A file descriptor that becomes readable when the inputs may have changed.
  virtual int fd() const = 0;
  // Reads what made fd() readable; true if the inputs may now differ.
  virtual bool consumeEvents() = 0;
  // True once every input has been read completely once. Nothing is synced before
  // all sources are ready: rules from half a picture would delete the other half.
  virtual bool ready() const { return true; }
  // Files what changed since the last call into `inventory` (the first call reads
  // everything) and returns the keys of the Services whose inputs differ now.
  // Problems go to `problems`, each reported once; a part with problems keeps its
  // last contents that loaded cleanly. A read failure is never taken for deletion.
  virtual std::set<std::string> refresh(Inventory& inventory, Diagnostics& problems) = 0;
  // This node as the source sees it, when it knows (nullopt: it has nothing to say).
  virtual std::optional<NodeFacts> node() const { return std::nullopt; }
  // Unix seconds of the last time the source knew its picture to be current
  // (an API source: the last list, event or bookmark); nullopt when that is always so.
  virtual std::optional<double> currentAsOf() const { return std::nullopt; }
};

}  // namespace svcnft::source
