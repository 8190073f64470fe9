// The compiler: validated model → ruleset IR. All Service semantics live here
// (SPEC.md "Semantics" 1-10); the kernel-facing shape lives in skeleton.h.
// Pure: no files, no kernel. Problems that only show when objects meet (two
// Services on one address and port, a named targetPort no endpoint serves) become
// diagnostics.
#pragma once

#include "common/diagnostics.h"
#include "compile/ir.h"
#include "model/service.h"

namespace svcnft {

ir::Ruleset compileRuleset(const Inputs& inputs, Diagnostics& diags);

}  // namespace svcnft
