#include "nft/transaction.h"

#include <linux/netfilter/nf_tables.h>
#include <linux/netlink.h>

#include <set>

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

std::string forWhom(const std::string& services) {
  return services.empty() ? "" : " for " + services;
}

std::string servicesIn(const ir::Set& s, std::size_t first, std::size_t last) {
  std::set<std::string> names;
  for (std::size_t i = first; i < last; ++i) {
    const std::string& c = s.elements[i].comment;
    if (!c.empty()) names.insert(c);
  }
  std::string out;
  int shown = 0;
  for (const auto& n : names) {
    if (shown == 3) {
      out += " (+" + std::to_string(names.size() - 3) + " more)";
      break;
    }
    out += (shown++ ? ", " : "") + n;
  }
  return out;
}

void addElements(Batch& b, const std::string& table, const ir::Set& s) {
  if (s.elements.empty()) return;
  if (s.interval && s.key.size() == 1) {  // plain ranges: one message, merged by the encoder
    b.add(
        NFT_MSG_NEWSETELEM, NLM_F_CREATE,
        [&](nlmsghdr* nlh) {
          SetPtr p = encodeElements(table, s, 0, s.elements.size());
          nftnl_set_elems_nlmsg_build_payload(nlh, p.get());
        },
        "elements of set " + s.name);
    return;
  }
  std::size_t first = 0;
  while (first < s.elements.size()) {
    std::size_t last = first, bytes = 0;
    while (last < s.elements.size() &&
           bytes + elementBytes(s.elements[last]) < kElementBytesPerMessage) {
      bytes += elementBytes(s.elements[last]);
      ++last;
    }
    if (last == first) ++last;
    b.add(
        NFT_MSG_NEWSETELEM, NLM_F_CREATE,
        [&](nlmsghdr* nlh) {
          SetPtr p = encodeElements(table, s, first, last);
          nftnl_set_elems_nlmsg_build_payload(nlh, p.get());
        },
        "elements of set " + s.name + " for " + servicesIn(s, first, last));
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
  Batch b(firstSeq);
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
  for (const auto& s : rs.sets) addElements(b, rs.table, s);
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

std::string describe(const std::vector<diff::ElementRecord>& records) {
  std::set<std::string> names;
  for (const auto& r : records) {
    if (!r.comment.empty()) names.insert(r.comment);
  }
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

Batch incremental(const ir::Ruleset& rs, const diff::Plan& plan, uint32_t firstSeq) {
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
    for (std::size_t first = 0; first < d.remove.size();) {
      std::size_t last = std::min(d.remove.size(), first + kElementBytesPerMessage / 128);
      std::vector<diff::ElementRecord> chunk(d.remove.begin() + first, d.remove.begin() + last);
      b.add(
          NFT_MSG_DELSETELEM, 0,
          [&](nlmsghdr* nlh) {
            SetPtr p = encodeDeletes(table, d.set, chunk);
            nftnl_set_elems_nlmsg_build_payload(nlh, p.get());
          },
          "removing elements of set " + d.set + " for " + describe(chunk));
      first = last;
    }
    for (std::size_t first = 0; first < d.add.size();) {
      std::size_t last = first, bytes = 0;
      while (last < d.add.size() &&
             bytes + elementBytes(s->elements[d.add[last]]) < kElementBytesPerMessage) {
        bytes += elementBytes(s->elements[d.add[last]]);
        ++last;
      }
      if (last == first) ++last;
      std::vector<std::size_t> chunk(d.add.begin() + first, d.add.begin() + last);
      std::set<std::string> names;
      for (std::size_t i : chunk) names.insert(s->elements[i].comment);
      std::string who;
      for (const auto& n : names) who += (who.empty() ? "" : ", ") + n;
      b.add(
          NFT_MSG_NEWSETELEM, NLM_F_CREATE,
          [&](nlmsghdr* nlh) {
            SetPtr p = encodeElementsAt(table, *s, chunk);
            nftnl_set_elems_nlmsg_build_payload(nlh, p.get());
          },
          "elements of set " + d.set + " for " + who);
      if (s->interval && s->key.size() == 1) break;  // encodeElementsAt sent them all
      first = last;
    }
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

Batch deleteTable(const std::string& table, uint32_t firstSeq) {
  Batch b(firstSeq);
  addTable(b, NFT_MSG_DELTABLE, 0, table);
  return b;
}

}  // namespace svcnft::nft
