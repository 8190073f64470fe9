#include "nft/transaction.h"

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netlink.h>

#include <algorithm>
#include <span>
#include <string_view>

#include "nft/encode.h"

namespace svcnft::nft {

namespace {

// An upper bound of one element's encoded size: attribute headers, key (twice for
// ranges), value or verdict with its chain name, and the comment.
std::size_t elementBytes(const ir::Element& e) {
  std::size_t n = 48 + 2 * 4 * (e.key.size() * 4) + e.data.size() * 16 + e.comment.size() + 8;
  if (e.verdict) n += 16 + e.verdict->chain.size();
  return n;
}

// " for a, b, c (+N more)": the Services (element comments) a message concerns.
std::string whoOf(std::vector<std::string_view> names) {
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  if (!names.empty() && names.front().empty()) names.erase(names.begin());
  std::string out;
  for (std::size_t i = 0; i < names.size() && i < 3; ++i) {
    out += (i ? ", " : "") + std::string(names[i]);
  }
  if (names.size() > 3) out += " (+" + std::to_string(names.size() - 3) + " more)";
  return out.empty() ? "" : " for " + out;
}

std::string whoOf(const std::vector<diff::ElementRecord>& records) {
  std::vector<std::string_view> names;
  for (const auto& r : records) names.push_back(r.comment);
  return whoOf(std::move(names));
}

// NEWSETELEM messages for the elements of `s` at `indices`, each under
// kElementBytesPerMessage. Plain ranges go in one message: the encoder merges and
// pairs them all together.
void addElementRuns(Batch& b, const std::string& table, const ir::Set& s,
                    const std::vector<std::size_t>& indices) {
  if (indices.empty()) return;
  if (s.interval && s.key.size() == 1) {
    b.add(
        NFT_MSG_NEWSETELEM, NLM_F_CREATE,
        [&](nlmsghdr* nlh) {
          SetPtr p = encodeElements(table, s, 0, s.elements.size());
          nftnl_set_elems_nlmsg_build_payload(nlh, p.get());
        },
        "elements of set " + s.name);
    return;
  }
  for (std::size_t first = 0; first < indices.size();) {
    std::size_t last = first, bytes = 0;
    while (last < indices.size()) {
      const std::size_t next = elementBytes(s.elements[indices[last]]);
      if (bytes + next >= kElementBytesPerMessage) break;
      bytes += next;
      ++last;
    }
    if (last == first) ++last;
    const std::span<const std::size_t> run(indices.data() + first, last - first);
    // Elements of one Service port come together and share their comment: each
    // run of them counts once before the names are sorted.
    std::vector<std::string_view> names;
    const std::string* previous = nullptr;
    for (std::size_t i : run) {
      const std::string& name = s.elements[i].comment.str();
      if (&name != previous) names.push_back(name);
      previous = &name;
    }
    b.add(
        NFT_MSG_NEWSETELEM, NLM_F_CREATE, [&](nlmsghdr* nlh) { putElements(nlh, table, s, run); },
        "elements of set " + s.name + whoOf(std::move(names)), Batch::Padding::kZeroed);
    first = last;
  }
}

void addTable(Batch& b, uint16_t type, uint16_t flags, const std::string& table) {
  b.add(
      type, flags,
      [&](nlmsghdr* nlh) {
        TablePtr t = encodeTable(table);
        nftnl_table_nlmsg_build_payload(nlh, t.get());
      },
      "table inet " + table);
}

}  // namespace

Batch fullRuleset(const ir::Ruleset& rs, bool replace, uint32_t firstSeq) {
  // Only the message headers carry the family; svcnft's own table is inet.
  const uint16_t family = rs.family == "ip"    ? NFPROTO_IPV4
                          : rs.family == "ip6" ? NFPROTO_IPV6
                                               : kFamily;
  Batch b(firstSeq, family);
  // Room for all of it at once: grown by doubling, the transaction was copied
  // again and again (2.7 s of building 371 MB at 50,000 x 100). The bound is
  // generous; what is never written is never touched.
  std::size_t bound = std::size_t{1} << 20;
  for (const auto& s : rs.sets) {
    for (const auto& e : s.elements) bound += elementBytes(e);
  }
  for (const auto& c : rs.chains) bound += 4096 * (c.rules.size() + 1);
  b.reserve(bound);
  if (replace) addTable(b, NFT_MSG_DELTABLE, 0, rs.table);
  addTable(b, NFT_MSG_NEWTABLE, NLM_F_CREATE, rs.table);
  // Chains first: set elements and rules refer to them by name.
  for (const auto& c : rs.chains) {
    b.add(
        NFT_MSG_NEWCHAIN, NLM_F_CREATE,
        [&](nlmsghdr* nlh) {
          ChainPtr p = encodeChain(rs.table, c);
          nftnl_chain_nlmsg_build_payload(nlh, p.get());
        },
        "chain " + c.name);
  }
  uint32_t setId = 1;
  for (const auto& s : rs.sets) {
    b.add(
        NFT_MSG_NEWSET, NLM_F_CREATE,
        [&](nlmsghdr* nlh) {
          SetPtr p = encodeSet(rs.table, s, setId++);
          nftnl_set_nlmsg_build_payload(nlh, p.get());
        },
        "set " + s.name);
  }
  for (const auto& s : rs.sets) {
    std::vector<std::size_t> all(s.elements.size());
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
    addElementRuns(b, rs.table, s, all);
  }
  for (const auto& c : rs.chains) {
    for (const auto& r : c.rules) {
      b.add(
          NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND,
          [&](nlmsghdr* nlh) {
            RulePtr p = encodeRule(rs.table, c.name, r);
            nftnl_rule_nlmsg_build_payload(nlh, p.get());
          },
          "rule in chain " + c.name + ": " + r.text);
    }
  }
  return b;
}

namespace {

// NFT_MSG_DESTROYSETELEM (kernel 6.3+; newer than bookworm's uapi headers): a delete
// that does not fail when the element is already gone. Affinity entries expire on
// their own, so one may vanish between reading the map and this transaction.
constexpr uint16_t kMsgDestroySetElem = 30;

const ir::Set* findSet(const ir::Ruleset& rs, const std::string& name) {
  for (const auto& s : rs.sets) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

const ir::Chain* findChain(const ir::Ruleset& rs, const std::string& name) {
  for (const auto& c : rs.chains) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

void addChainWithRules(Batch& b, const std::string& table, const ir::Chain& c) {
  b.add(
      NFT_MSG_NEWCHAIN, NLM_F_CREATE,
      [&](nlmsghdr* nlh) {
        ChainPtr p = encodeChain(table, c);
        nftnl_chain_nlmsg_build_payload(nlh, p.get());
      },
      "chain " + c.name);
  for (const auto& r : c.rules) {
    b.add(
        NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND,
        [&](nlmsghdr* nlh) {
          RulePtr p = encodeRule(table, c.name, r);
          nftnl_rule_nlmsg_build_payload(nlh, p.get());
        },
        "rule in chain " + c.name + ": " + r.text);
  }
}

}  // namespace

Batch incremental(const ir::Ruleset& rs, const diff::Plan& plan, const KernelFeatures& kernel,
                  uint32_t firstSeq) {
  Batch b(firstSeq);
  const std::string& table = rs.table;
  for (const auto& name : plan.chains.add) {
    if (const ir::Chain* c = findChain(rs, name)) addChainWithRules(b, table, *c);
  }
  for (const auto& d : plan.sets) {
    const ir::Set* s = findSet(rs, d.set);
    if (!s) continue;
    if (d.flush) {
      b.add(
          NFT_MSG_DELSETELEM, 0,
          [&](nlmsghdr* nlh) {
            SetPtr p = encodeDeletes(table, d.set, {});
            nftnl_set_elems_nlmsg_build_payload(nlh, p.get());
          },
          "flush of set " + d.set);
    }
    const bool removeHere = !s->dynamic || kernel.destroySetElem;
    for (std::size_t first = 0; removeHere && first < d.remove.size();) {
      const std::size_t last = std::min(d.remove.size(), first + kElementBytesPerMessage / 128);
      const std::vector<diff::ElementRecord> run(d.remove.begin() + first, d.remove.begin() + last);
      b.add(
          s->dynamic ? kMsgDestroySetElem : static_cast<uint16_t>(NFT_MSG_DELSETELEM), 0,
          [&](nlmsghdr* nlh) {
            SetPtr p = encodeDeletes(table, d.set, run);
            nftnl_set_elems_nlmsg_build_payload(nlh, p.get());
          },
          "removing elements of set " + d.set + whoOf(run));
      first = last;
    }
    addElementRuns(b, table, *s, d.add);
  }
  for (const auto& name : plan.chains.remove) {
    b.add(
        NFT_MSG_DELRULE, 0,
        [&](nlmsghdr* nlh) {
          RulePtr r(nftnl_rule_alloc());
          nftnl_rule_set_u32(r.get(), NFTNL_RULE_FAMILY, kFamily);
          nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, table.c_str());
          nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, name.c_str());
          nftnl_rule_nlmsg_build_payload(nlh, r.get());
        },
        "rules of chain " + name);
    b.add(
        NFT_MSG_DELCHAIN, 0,
        [&](nlmsghdr* nlh) {
          ChainPtr c(nftnl_chain_alloc());
          nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_FAMILY, kFamily);
          nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, table.c_str());
          nftnl_chain_set_str(c.get(), NFTNL_CHAIN_NAME, name.c_str());
          nftnl_chain_nlmsg_build_payload(nlh, c.get());
        },
        "chain " + name);
  }
  return b;
}

std::vector<diff::SetDelta> expiringRemovals(const ir::Ruleset& rs, const diff::Plan& plan) {
  std::vector<diff::SetDelta> out;
  for (const auto& d : plan.sets) {
    const ir::Set* s = findSet(rs, d.set);
    if (!s || !s->dynamic || d.remove.empty()) continue;
    diff::SetDelta only;
    only.set = d.set;
    only.remove = d.remove;
    out.push_back(std::move(only));
  }
  return out;
}

Batch deleteElements(const std::string& table, const std::vector<diff::SetDelta>& deltas,
                     uint32_t firstSeq) {
  Batch b(firstSeq);
  for (const auto& d : deltas) {
    for (std::size_t first = 0; first < d.remove.size();) {
      const std::size_t last = std::min(d.remove.size(), first + kElementBytesPerMessage / 128);
      const std::vector<diff::ElementRecord> run(d.remove.begin() + first, d.remove.begin() + last);
      b.add(
          NFT_MSG_DELSETELEM, 0,
          [&](nlmsghdr* nlh) {
            SetPtr p = encodeDeletes(table, d.set, run);
            nftnl_set_elems_nlmsg_build_payload(nlh, p.get());
          },
          "removing elements of set " + d.set + whoOf(run));
      first = last;
    }
  }
  return b;
}

Batch destroySetElemProbe() {
  Batch b;
  b.add(
      kMsgDestroySetElem, 0,
      [](nlmsghdr* nlh) {
        SetPtr p = encodeDeletes("svcnft-feature-probe", "probe", {});
        nftnl_set_elems_nlmsg_build_payload(nlh, p.get());
      },
      "probe: NFT_MSG_DESTROYSETELEM");
  return b;
}

Batch deleteTable(const std::string& table, uint32_t firstSeq) {
  Batch b(firstSeq);
  addTable(b, NFT_MSG_DELTABLE, 0, table);
  return b;
}

}  // namespace svcnft::nft
