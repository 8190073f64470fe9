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

Batch deleteTable(const std::string& table, uint32_t firstSeq) {
  Batch b(firstSeq);
  addTable(b, NFT_MSG_DELTABLE, 0, table);
  return b;
}

}  // namespace svcnft::nft
