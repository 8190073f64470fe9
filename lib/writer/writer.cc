#include "writer/writer.h"

#include <libmnl/libmnl.h>
#include <libnftnl/gen.h>
#include <libnftnl/table.h>
#include <linux/netfilter/nf_tables.h>

#include <cerrno>
#include <chrono>
#include <map>
#include <memory>
#include <optional>

#include "nft/encode.h"
#include "nft/records.h"
#include "nft/transaction.h"
#include "writer/installed.h"
#include "writer/ruleset_digest.h"
#include "writer/sync_plan.h"

namespace svcnft::writer {

namespace {

using Clock = std::chrono::steady_clock;
double msSince(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// Returns the ruleset generation after the commit (nullopt when it cannot be read).
Result<std::optional<uint32_t>> send(netlink::Transport& sock, const nft::Batch& batch) {
  // A transaction that reports no error yet commits nothing (a batch without its
  // end, say) must not pass for done: ours moves the ruleset generation.
  auto before = generation(sock);
  auto r = sock.transact(batch.bytes(), batch.messageCount());
  if (!r) return r.error();
  if (r->errors.empty()) {
    auto after = before ? generation(sock) : before;
    if (before && after && *after == *before) {
      return Error{"the kernel committed nothing: the ruleset generation stayed " +
                   std::to_string(*before) + " after a transaction it did not refuse"};
    }
    return after ? std::optional<uint32_t>(*after) : std::nullopt;
  }
  std::string msg = "the kernel rejected the transaction; nothing was changed";
  for (const auto& e : r->errors) {
    const std::string what = batch.concerns(e.seq);
    msg += "\n  " + (what.empty() ? "message " + std::to_string(e.seq) : what) + ": " +
           netlink::errnoText(e.errnum);
  }
  return Error{msg};
}

}  // namespace

Result<bool> tableExists(netlink::Transport& sock, const std::string& table) {
  std::vector<uint8_t> req(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(reinterpret_cast<char*>(req.data()), NFT_MSG_GETTABLE,
                                        nft::kFamily, NLM_F_DUMP, 1);
  req.resize(nlh->nlmsg_len);
  bool found = false;
  auto r = sock.dump(req, [&](const nlmsghdr* m) {
    nft::TablePtr t(nftnl_table_alloc());
    if (nftnl_table_nlmsg_parse(m, t.get()) < 0) return;
    if (nftnl_table_get_u32(t.get(), NFTNL_TABLE_FAMILY) == nft::kFamily &&
        table == nftnl_table_get_str(t.get(), NFTNL_TABLE_NAME)) {
      found = true;
    }
  });
  if (!r) return r.error();
  return found;
}

Result<uint32_t> generation(netlink::Transport& sock) {
  std::vector<uint8_t> req(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(reinterpret_cast<char*>(req.data()), NFT_MSG_GETGEN,
                                        AF_UNSPEC, NLM_F_ACK, 1);
  req.resize(nlh->nlmsg_len);
  std::optional<uint32_t> id;
  auto r = sock.dump(req, [&](const nlmsghdr* m) {
    std::unique_ptr<nftnl_gen, void (*)(const nftnl_gen*)> gen(nftnl_gen_alloc(), nftnl_gen_free);
    if (gen && nftnl_gen_nlmsg_parse(m, gen.get()) >= 0 &&
        nftnl_gen_is_set(gen.get(), NFTNL_GEN_ID)) {
      id = nftnl_gen_get_u32(gen.get(), NFTNL_GEN_ID);
    }
  });
  if (!r) return r.error();
  if (!id) return Error{"the kernel sent no ruleset generation"};
  return *id;
}

namespace {

// The whole table in one transaction; `replace`: ours is there and goes in the same one.
Result<ApplyReport> installWhole(netlink::Transport& sock, const ir::Ruleset& rs, bool replace) {
  const auto encodeStart = Clock::now();
  const nft::Batch batch = nft::fullRuleset(rs, replace);
  const double encodeMs = msSince(encodeStart);
  const auto t0 = Clock::now();
  auto sent = send(sock, batch);
  if (!sent) return sent.error();
  ApplyReport report;
  report.commitMs = msSince(t0);
  report.encodeMs = encodeMs;
  report.kind = replace ? ApplyReport::Kind::kReplaced : ApplyReport::Kind::kInstalled;
  report.generation = *sent;
  report.messages = batch.messageCount();
  report.bytes = batch.byteCount();
  report.elementOperations = rs.elementCount();
  return report;
}

}  // namespace

Result<SyncPlan> planApply(netlink::Transport& sock, const ir::Ruleset& rs, ReadBack readBack,
                           StateRecord* record) {
  SyncPlan out;
  // First: a transaction anyone commits after this moves it past what we compare.
  if (auto gen = generation(sock)) out.generationSeen = *gen;
  auto exists = tableExists(sock, rs.table);
  if (!exists) return exists.error();
  out.tableExists = *exists;
  if (!*exists) return out;  // nothing to diff against: `desired` stays empty
  const auto t0 = Clock::now();
  Installed installed;
  bool trusted = record && readBack != ReadBack::kNever && out.generationSeen &&
                 stateTrusted(*record, rs.table, currentNetns(), *out.generationSeen);
  if (trusted && record->digestOnly()) {
    // The kernel holds what we last committed; if the inputs compile to the same,
    // there is nothing to do. Otherwise the digest cannot say what differs: read
    // back (or refill) as without a record.
    auto digest = rulesetDigest(rs);
    if (digest && *digest == record->digest) {
      out.fromRecord = true;
      out.readMs = msSince(t0);
      return out;  // an empty plan
    }
    trusted = false;
  }
  bool refill = false;
  if (trusted) {
    // The kernel holds what we last committed: only the packet path's own sets
    // (session affinity) can have moved.
    installed = std::move(record->installed);
    for (const auto& s : rs.sets) {
      if (!s.dynamic) continue;
      auto elements = readSetElements(sock, rs.table, s.name);
      if (!elements) return elements.error();
      installed.elements[s.name] = std::move(*elements);
    }
    out.fromRecord = true;
  } else {
    refill = readBack == ReadBack::kNever ||
             (readBack == ReadBack::kAuto && rs.elementCount() > kReadBackLimit);
    auto read =
        readInstalled(sock, rs.table, refill ? ElementScope::kDynamicOnly : ElementScope::kAll);
    if (!read) return read.error();
    installed = std::move(*read);
  }
  out.readMs = msSince(t0);
  const auto t1 = Clock::now();
  out.desired = installedFrom(rs);
  out.plan = planSync(rs, out.desired, installed, refill);
  out.planMs = msSince(t1);
  out.before = std::move(installed);
  return out;
}

StateRecord recordOf(const ir::Ruleset& rs, Installed desired, uint64_t netns,
                     uint32_t generation) {
  for (const auto& s : rs.sets) {
    if (s.dynamic) desired.elements.erase(s.name);  // the packet path's, never recorded
  }
  return StateRecord{rs.table, netns, generation, std::move(desired), ""};
}

Result<StateRecord> digestRecordOf(const ir::Ruleset& rs, uint64_t netns, uint32_t generation) {
  auto digest = rulesetDigest(rs);
  if (!digest) return digest.error();
  return StateRecord{rs.table, netns, generation, {}, std::move(*digest)};
}

Result<std::string> encodedRecordOf(const ir::Ruleset& rs, std::optional<Installed> desired,
                                    uint64_t netns, uint32_t generation, std::size_t recordLimit) {
  if (rs.elementCount() > recordLimit) {
    auto digest = digestRecordOf(rs, netns, generation);
    if (!digest) return digest.error();
    return encodeState(*digest);
  }
  if (desired) return encodeState(recordOf(rs, std::move(*desired), netns, generation));
  // Element records written as they are made, never all held.
  StateRecord shape = recordOf(rs, installedShape(rs), netns, generation);
  std::map<std::string, const ir::Set*> recorded;  // by name, as the record lists sets
  for (const auto& s : rs.sets) {
    if (!s.dynamic) recorded[s.name] = &s;  // the packet path's are never recorded
  }
  std::vector<std::string> names;
  for (const auto& [name, set] : recorded) names.push_back(name);
  return encodeStateStreamed(
      shape, names,
      [&](const std::string& name, const std::function<void(const diff::ElementRecord&)>& put) {
        nft::forEachDesiredRecord(rs.table, *recorded.at(name), put);
      },
      rs.elementCount() * 64 + (1 << 16));
}

Result<nft::KernelFeatures> probeKernel(netlink::Transport& sock) {
  nft::KernelFeatures features;
  const nft::Batch probe = nft::destroySetElemProbe();
  auto r = sock.transact(probe.checkOnlyBytes(), probe.messageCount());
  if (!r) return r.error();
  for (const auto& e : r->errors) {
    if (e.errnum == EINVAL) {
      features.destroySetElem = false;  // the message type is unknown to this kernel
    } else if (e.errnum != ENOENT) {
      return Error{"probing the kernel's nf_tables: " + netlink::errnoText(e.errnum)};
    }
  }
  return features;
}

namespace {

// Deletes expiring entries after the transaction that moved traffic: all at once,
// or, when one of them expired meanwhile (ENOENT aborts the batch), one by one,
// skipping those that are gone.
std::string removeExpiring(netlink::Transport& sock, const std::string& table,
                           const std::vector<diff::SetDelta>& deltas) {
  std::size_t total = 0;
  for (const auto& d : deltas) total += d.remove.size();
  if (total == 0) return "";
  auto all = send(sock, nft::deleteElements(table, deltas));
  if (all) return std::to_string(total) + " expiring entries removed after the transaction";
  std::size_t removed = 0, gone = 0;
  for (const auto& d : deltas) {
    for (const auto& r : d.remove) {
      diff::SetDelta one;
      one.set = d.set;
      one.remove = {r};
      const nft::Batch b = nft::deleteElements(table, {one});
      auto sent = sock.transact(b.bytes(), b.messageCount());
      if (!sent) return "removing expiring entries: " + sent.error().message;
      if (sent->errors.empty()) {
        ++removed;
      } else if (sent->errors.front().errnum == ENOENT) {
        ++gone;
      } else {
        return "removing expiring entries of " + d.set + ": " +
               netlink::errnoText(sent->errors.front().errnum);
      }
    }
  }
  return std::to_string(removed) + " expiring entries removed one by one after the transaction, " +
         std::to_string(gone) + " had expired";
}

}  // namespace

Result<ApplyReport> applyPlan(netlink::Transport& sock, const ir::Ruleset& rs,
                              const diff::Plan& plan, bool tableExists,
                              const nft::KernelFeatures& kernel) {
  if (!tableExists || plan.replaceAll) {
    auto r = installWhole(sock, rs, tableExists);
    if (r) r.value().why = plan.why;
    return r;
  }
  ApplyReport report;
  report.kind = ApplyReport::Kind::kUnchanged;
  if (plan.empty()) return report;
  const auto encodeStart = Clock::now();
  const nft::Batch batch = nft::incremental(rs, plan, kernel);
  report.encodeMs = msSince(encodeStart);
  const auto t0 = Clock::now();
  if (batch.messageCount() > 0) {
    auto sent = send(sock, batch);
    if (!sent) return sent.error();
    report.generation = *sent;
  }
  report.commitMs = msSince(t0);
  if (!kernel.destroySetElem) {
    report.expiringNote = removeExpiring(sock, rs.table, nft::expiringRemovals(rs, plan));
    if (!report.expiringNote.empty()) report.generation.reset();  // it committed again
  }
  report.kind = plan.refill ? ApplyReport::Kind::kRefilled : ApplyReport::Kind::kIncremental;
  report.messages = batch.messageCount();
  report.bytes = batch.byteCount();
  report.elementOperations = diff::operationCount(plan.sets);
  return report;
}

Result<ApplyReport> apply(netlink::Transport& sock, const ir::Ruleset& rs,
                          const nft::KernelFeatures& kernel, ReadBack readBack) {
  auto planned = planApply(sock, rs, readBack);
  if (!planned) return planned.error();
  auto r = applyPlan(sock, rs, planned->plan, planned->tableExists, kernel);
  if (r) {
    r.value().readMs = planned->readMs;
    r.value().planMs = planned->planMs;
  }
  return r;
}

Result<bool> cleanup(netlink::Transport& sock, const std::string& table) {
  auto exists = tableExists(sock, table);
  if (!exists) return exists.error();
  if (!*exists) return false;
  auto sent = send(sock, nft::deleteTable(table));
  if (!sent) return sent.error();
  return true;
}

}  // namespace svcnft::writer
