// The state record: what our last commit left in the kernel, kept in a file so
// that a one-shot `apply` or `diff` need not read the table back (reading a set
// back costs the kernel its size squared: 0.8-2 s at 10,000 x 10).
//
// Trusted only while nothing can have changed since: same network namespace and
// the kernel's ruleset generation still the one right after our commit (it moves
// with every transaction anyone commits: an `nft delete element` behind our back
// makes the record worthless, and the table is read back as before). Dynamic sets
// (session affinity) change without a transaction: their elements are never in the
// record and are always read from the kernel.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "writer/installed.h"

namespace svcnft::writer {

// A full record costs about 50 bytes an element of memory-backed /run (10 MB at
// 10,000 x 10) and as much again of memory to build; past this many elements the
// record keeps only the ruleset's digest (writer/ruleset_digest.h): enough to know
// that unchanged inputs need nothing sent, not what a change would.
inline constexpr std::size_t kRecordElementLimit = 1'000'000;

struct StateRecord {
  std::string table;
  uint64_t netns = 0;  // the network namespace's cookie
  uint32_t generation = 0;
  Installed installed;  // dynamic sets without elements; empty in a digest record
  std::string digest;   // a digest record: rulesetDigest() of what was committed
  bool digestOnly() const { return !digest.empty(); }
  bool operator==(const StateRecord&) const = default;
};

// Bytes and back (versioned, with a checksum: a torn or foreign file decodes to
// nullopt, never to a wrong record).
std::string encodeState(const StateRecord& record);
std::optional<StateRecord> decodeState(std::string_view bytes);
// encodeState() of `record` plus the elements of `sets` (names in order, each once),
// which are not held but visited as they are written: `elementsOf(set, put)` puts
// each record of the set. A full record at 10,000 x 10 is 150,000 element records,
// 28 MB built only to be written. `record.installed.elements` stays empty.
using ElementSource = std::function<void(
    const std::string& set, const std::function<void(const diff::ElementRecord&)>& put)>;
std::string encodeStateStreamed(const StateRecord& record, const std::vector<std::string>& sets,
                                const ElementSource& elementsOf, std::size_t sizeHint);
// Puts `generation` into the encoded record `bytes` and seals it again: a record is
// encoded while the kernel commits the transaction whose generation it carries
// (10 MB at 10,000 x 10), and only stamped after. False if `bytes` is not a record.
bool restampState(std::string& bytes, uint32_t generation);
// The file around a record's body: the version line and the body's checksum
// (encodeState() seals what it writes; the fuzzer seals what it makes up).
std::string sealState(std::string_view body);

// Whether `record` describes table `table` as the kernel holds it now.
bool stateTrusted(const StateRecord& record, const std::string& table, uint64_t netnsNow,
                  uint32_t generationNow);

// This process's network namespace: its cookie (SO_NETNS_COOKIE), unique until
// reboot; 0 when the kernel cannot tell (then no record is trusted).
uint64_t currentNetns();

// Where the record of `table` in namespace `netns` lives: $SVCNFT_STATE_DIR, else
// /run/svcnft (a tmpfs: gone at reboot, with the kernel state it described).
std::string statePath(const std::string& table, uint64_t netns);

// Written to a temporary file and renamed into place (0600); read whole. A record
// that cannot be read is no record.
Result<bool> saveState(const std::string& path, const StateRecord& record);
// The same with the record already encoded: written beside `path`, then renamed
// into place. The two steps apart: a record can be written while the kernel commits
// what it describes, and put in place once the commit is known to have come out as
// the record says.
Result<bool> saveEncodedState(const std::string& path, std::string_view bytes);
Result<bool> writeStateBeside(const std::string& path, std::string_view bytes);
Result<bool> putStateInPlace(const std::string& path);
// Removes what writeStateBeside() wrote (the record turned out wrong or unwanted).
void discardStateBeside(const std::string& path);
std::optional<StateRecord> loadState(const std::string& path);

}  // namespace svcnft::writer
