#include "writer/ruleset_digest.h"

#include <openssl/evp.h>
#include <xxhash.h>

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include "compile/compiler.h"
#include "nft/encode.h"
#include "nft/records.h"

namespace svcnft::writer {

namespace {

// Every field goes in with its length first, so that no two different rulesets
// feed the hash the same bytes.
class Hasher {
 public:
  Hasher() : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
    ok_ = ctx_ && EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) == 1;
  }
  bool ok() const { return ok_; }
  void field(std::string_view bytes) {
    const uint64_t n = bytes.size();
    EVP_DigestUpdate(ctx_.get(), &n, sizeof n);
    EVP_DigestUpdate(ctx_.get(), bytes.data(), bytes.size());
  }
  void number(uint64_t n) { EVP_DigestUpdate(ctx_.get(), &n, sizeof n); }
  Result<std::string> finish() {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx_.get(), out, &len) != 1) return Error{"OpenSSL: SHA-256 failed"};
    return std::string(reinterpret_cast<const char*>(out), len);
  }

 private:
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx_;
  bool ok_ = false;
};

// A set's elements as a multiset: how many, and the sum of their records' hashes.
struct ElementSum {
  uint64_t count = 0;
  unsigned __int128 sum = 0;

  void add(const diff::ElementRecord& r, std::string& scratch) {
    scratch.clear();
    for (const std::string* f : {&r.key, &r.keyEnd, &r.value, &r.comment}) {
      const uint32_t n = static_cast<uint32_t>(f->size());
      scratch.append(reinterpret_cast<const char*>(&n), sizeof n);
      scratch.append(*f);
    }
    scratch.append(reinterpret_cast<const char*>(&r.flags), sizeof r.flags);
    const XXH128_hash_t h = XXH3_128bits(scratch.data(), scratch.size());
    sum += (static_cast<unsigned __int128>(h.high64) << 64) | h.low64;
    ++count;
  }
};

// The digest of `shape`'s declarations and fixed chains, with `sums` (by set name)
// as the static sets' elements and `generated` as the generated chains.
Result<std::string> digestOf(const ir::Ruleset& shape,
                             const std::map<std::string, ElementSum>& sums,
                             const std::set<std::string>& generated) {
  Hasher h;
  if (!h.ok()) return Error{"OpenSSL: SHA-256 is not available"};
  h.field(shape.family);
  h.field(shape.table);
  h.number(shape.sets.size());
  uint32_t id = 1;
  for (const auto& s : shape.sets) {
    nft::SetPtr p = nft::encodeSet(shape.table, s, id++);
    h.field(s.name);
    h.field(nft::signatureOf(p.get()));
    const auto it = sums.find(s.name);
    const ElementSum sum = s.dynamic || it == sums.end() ? ElementSum{} : it->second;
    h.number(sum.count);
    h.number(static_cast<uint64_t>(sum.sum));
    h.number(static_cast<uint64_t>(sum.sum >> 64));
  }
  std::size_t fixed = 0;
  for (const auto& c : shape.chains) fixed += c.generated ? 0 : 1;
  h.number(fixed);
  for (const auto& c : shape.chains) {
    if (c.generated) continue;
    nft::ChainPtr p = nft::encodeChain(shape.table, c);
    h.field(c.name);
    h.field(nft::signatureOf(p.get()));
    h.number(c.rules.size());
    for (const auto& r : c.rules) {
      nft::RulePtr e = nft::encodeRule(shape.table, c.name, r);
      h.field(nft::signatureOf(e.get()));
    }
  }
  h.number(generated.size());
  for (const auto& name : generated) h.field(name);
  return h.finish();
}

// The static sets' elements of `rs`, added to `sums`.
void addElements(const ir::Ruleset& rs, std::map<std::string, ElementSum>& sums) {
  std::string scratch;
  for (const auto& s : rs.sets) {
    if (s.dynamic) continue;
    ElementSum& sum = sums[s.name];
    nft::forEachDesiredRecord(rs.table, s,
                              [&](const diff::ElementRecord& r) { sum.add(r, scratch); });
  }
}

}  // namespace

Result<std::string> rulesetDigest(const ir::Ruleset& rs) {
  std::map<std::string, ElementSum> sums;
  addElements(rs, sums);
  std::set<std::string> generated;
  for (const auto& c : rs.chains) {
    if (c.generated) generated.insert(c.name);
  }
  return digestOf(rs, sums, generated);
}

Result<std::string> liveDigest(const LiveTable& live, const ir::Ruleset& nodeOnly) {
  std::map<std::string, ElementSum> sums;
  addElements(nodeOnly, sums);
  std::string scratch;
  // The set's name comes by reference to the table's own: one map lookup per set
  // change, not per record.
  const std::string* lastSet = nullptr;
  ElementSum* lastSum = nullptr;
  live.forEachRecord([&](const std::string& set, const diff::ElementRecord& r) {
    if (&set != lastSet) {
      lastSet = &set;
      lastSum = &sums[set];
    }
    lastSum->add(r, scratch);
  });
  std::set<std::string> generated = live.chains();
  for (const auto& c : nodeOnly.chains) {
    if (c.generated) generated.insert(c.name);
  }
  return digestOf(nodeOnly, sums, generated);
}

Result<std::string> liveDigest(const LiveTable& live, const NodeConfig& node,
                               std::size_t* elements) {
  Diagnostics ignored;  // the node alone: its skeleton and its own elements
  const ir::Ruleset nodeOnly = compileRuleset(Inputs{{}, {}, node}, ignored);
  if (elements) *elements = live.elementCount() + nodeOnly.elementCount();
  return liveDigest(live, nodeOnly);
}

}  // namespace svcnft::writer
