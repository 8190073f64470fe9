// Installed state + desired ruleset → the sync plan. Pure (no socket): the
// desired objects are encoded and read back through the same functions as the
// kernel's, so equal means equal to the byte.
#pragma once

#include "compile/ir.h"
#include "diff/element_diff.h"
#include "writer/installed.h"

namespace svcnft::writer {

diff::Plan planSync(const ir::Ruleset& desired, const Installed& installed);

}  // namespace svcnft::writer
