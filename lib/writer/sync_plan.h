// Installed state + desired ruleset → the sync plan. Pure (no socket): the
// desired objects are encoded and read back through the same functions as the
// kernel's, so equal means equal to the byte.
#pragma once

#include "compile/ir.h"
#include "diff/element_diff.h"
#include "writer/installed.h"

namespace svcnft::writer {

diff::Plan planSync(const ir::Ruleset& desired, const Installed& installed);
// The same, given installedFrom(desired) already. `refill`: `installed` holds the
// elements of the dynamic sets only; every static set is flushed and filled again.
diff::Plan planSync(const ir::Ruleset& rs, const Installed& desired, const Installed& installed,
                    bool refill = false);

// What the kernel would hold after installing `rs`, without asking it: the state a
// long-running agent keeps between syncs, and what tests diff against.
Installed installedFrom(const ir::Ruleset& rs);
// The same without the elements: declarations, chains and rules.
Installed installedShape(const ir::Ruleset& rs);

}  // namespace svcnft::writer
