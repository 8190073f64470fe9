// Kernel objects as comparable plain values, for the diff: set elements as
// diff::ElementRecord, and sets, chains and rules as signature text. The same
// functions read what we encoded and what the kernel dumped, so both sides of a
// comparison go through one path. Pure.
#pragma once

#include <libnftnl/chain.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>

#include <functional>
#include <string>
#include <vector>

#include "compile/ir.h"
#include "diff/element_diff.h"

namespace svcnft::nft {

diff::ElementRecord recordOf(nftnl_set_elem* e);
std::vector<diff::ElementRecord> recordsOf(nftnl_set* s);
// The records the kernel will hold for `set`'s elements (ranges paired as sent).
std::vector<diff::ElementRecord> desiredRecords(const std::string& table, const ir::Set& set);
// The same records one at a time, without holding them all (`visit` must copy what
// it keeps: the record is reused).
void forEachDesiredRecord(const std::string& table, const ir::Set& set,
                          const std::function<void(const diff::ElementRecord&)>& visit);
// The same, always by encoding with libnftnl and reading back (the reference).
std::vector<diff::ElementRecord> encodedRecords(const std::string& table, const ir::Set& set);

std::string signatureOf(nftnl_set* s);    // declaration: flags, types, lengths, userdata
std::string signatureOf(nftnl_chain* c);  // name and hook
std::string signatureOf(nftnl_rule* r);   // its expressions, as nft --debug prints them

}  // namespace svcnft::nft
