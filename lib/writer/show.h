// `svcnft show`: the installed table, read back from the kernel, as a table a
// person reads: each Service front, where it sends new connections (the policy,
// or reject/drop), and its endpoints with their share of buckets (their weight).
#pragma once

#include <string>

#include "writer/installed.h"

namespace svcnft::writer {

std::string showInstalled(const Installed& installed);

}  // namespace svcnft::writer
