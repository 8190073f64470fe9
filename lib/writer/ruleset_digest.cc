#include "writer/ruleset_digest.h"

#include <openssl/evp.h>

#include <cstdint>
#include <memory>

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

}  // namespace

Result<std::string> rulesetDigest(const ir::Ruleset& rs) {
  Hasher h;
  if (!h.ok()) return Error{"OpenSSL: SHA-256 is not available"};
  h.field(rs.family);
  h.field(rs.table);
  h.number(rs.sets.size());
  uint32_t id = 1;
  for (const auto& s : rs.sets) {
    nft::SetPtr p = nft::encodeSet(rs.table, s, id++);
    h.field(s.name);
    h.field(nft::signatureOf(p.get()));
    if (s.dynamic) {
      h.number(0);
      continue;
    }
    h.number(s.elements.size());
    nft::forEachDesiredRecord(rs.table, s, [&](const diff::ElementRecord& r) {
      h.field(r.key);
      h.field(r.keyEnd);
      h.field(r.value);
      h.field(r.comment);
      h.number(r.flags);
    });
  }
  h.number(rs.chains.size());
  for (const auto& c : rs.chains) {
    nft::ChainPtr p = nft::encodeChain(rs.table, c);
    h.field(c.name);
    h.field(nft::signatureOf(p.get()));
    h.number(c.rules.size());
    for (const auto& r : c.rules) {
      nft::RulePtr e = nft::encodeRule(rs.table, c.name, r);
      h.field(nft::signatureOf(e.get()));
    }
  }
  return h.finish();
}

}  // namespace svcnft::writer
