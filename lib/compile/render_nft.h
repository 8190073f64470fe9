// IR → an `nft -f` script: the dry-run dump reviewers read and `nft -c -f` checks.
// Deterministic (the IR is already sorted), and re-applicable: the script adds,
// deletes and re-creates the table in one transaction, so running it twice leaves
// one copy and the old ruleset stays until the new one commits.
#pragma once

#include <ostream>
#include <string>

#include "compile/ir.h"

namespace svcnft {

void renderNft(const ir::Ruleset& rs, std::ostream& out);
std::string renderNft(const ir::Ruleset& rs);

// One element as nft writes it inside `elements = { ... }`.
std::string renderElement(const ir::Element& e);

}  // namespace svcnft
