#include "announce/handover_table.h"

#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netlink.h>

#include <cerrno>

#include "compile/rule_builder.h"
#include "nft/encode.h"
#include "nft/transaction.h"

namespace svcnft::announce {

namespace {

std::string mapName(IpFamily f) { return f == IpFamily::kV4 ? "handover-v4" : "handover-v6"; }

// Sends `batch`; an error names what the kernel refused.
std::optional<std::string> send(netlink::Transport& sock, const nft::Batch& batch) {
  auto r = sock.transact(batch.bytes(), batch.messageCount());
  if (!r) return r.error().message;
  if (r->errors.empty()) return std::nullopt;
  std::string msg;
  for (const auto& e : r->errors) {
    msg += (msg.empty() ? "" : "; ") + batch.concerns(e.seq) + ": " + netlink::errnoText(e.errnum);
  }
  return msg;
}

}  // namespace

ir::Ruleset handoverRuleset(IpFamily f, const std::map<IpAddress, IpAddress>& previousHolders) {
  ir::Ruleset rs;
  rs.family = f == IpFamily::kV4 ? "ip" : "ip6";
  rs.table = kHandoverTable;
  const auto type = f == IpFamily::kV4 ? ir::FieldType::kIpv4Addr : ir::FieldType::kIpv6Addr;
  ir::Set map;
  map.name = mapName(f);
  map.key = {ir::Field{type}};
  map.data = {ir::Field{type}};
  for (const auto& [address, previous] : previousHolders) {
    if (address.family() == f && previous.family() == f) {
      map.elements.push_back({{address}, {previous}, {}, ""});
    }
  }
  rs.sets.push_back(std::move(map));
  ir::Chain chain;
  chain.name = "prerouting";
  chain.base = ir::BaseChain{"filter", "prerouting", "-160"};
  const auto daddr = RuleBuilder::address(f, RuleBuilder::Dir::kDestination);
  chain.rules.push_back(RuleBuilder()
                            .inSingleFamilyTable()
                            .ctStateNew()
                            .tcpAckWithoutSyn()
                            .inSet({daddr}, mapName(f))
                            .dupToMap(f, {daddr}, mapName(f))
                            .drop()
                            .build());
  rs.chains.push_back(std::move(chain));
  return rs;
}

Result<bool> removeHandoverTables(netlink::Transport& sock) {
  bool any = false;
  for (uint16_t family : {NFPROTO_IPV4, NFPROTO_IPV6}) {
    ir::Ruleset probe;
    probe.family = family == NFPROTO_IPV4 ? "ip" : "ip6";
    probe.table = kHandoverTable;
    nft::Batch check(1, family);
    check.add(
        NFT_MSG_NEWTABLE, NLM_F_CREATE | NLM_F_EXCL,
        [](nlmsghdr* nlh) {
          nft::TablePtr t = nft::encodeTable(kHandoverTable);
          nftnl_table_nlmsg_build_payload(nlh, t.get());
        },
        "table " + probe.family + " " + kHandoverTable);
    // Check only: nothing is committed; EEXIST says the table is there.
    auto r = sock.transact(check.checkOnlyBytes(), check.messageCount());
    if (!r) return r.error();
    const bool exists = !r->errors.empty() && r->errors[0].errnum == EEXIST;
    if (!exists) continue;
    nft::Batch remove(1, family);
    remove.add(
        NFT_MSG_DELTABLE, 0,
        [](nlmsghdr* nlh) {
          nft::TablePtr t = nft::encodeTable(kHandoverTable);
          nftnl_table_nlmsg_build_payload(nlh, t.get());
        },
        "table " + probe.family + " " + kHandoverTable);
    if (auto failed = send(sock, remove)) {
      return Error{"removing table " + probe.family + " " + kHandoverTable + ": " + *failed};
    }
    any = true;
  }
  return any;
}

void HandoverTable::handOn(const std::map<IpAddress, IpAddress>& previousHolders) {
  // The first call always writes: what an earlier run left goes.
  if (everInstalled_ && previousHolders == installed_) return;
  for (IpFamily f : {IpFamily::kV4, IpFamily::kV6}) {
    const ir::Ruleset rs = handoverRuleset(f, previousHolders);
    // Created if missing, then replaced whole in one transaction (it is tiny).
    ir::Ruleset empty;
    empty.family = rs.family;
    empty.table = rs.table;
    auto failed = send(sock_, nft::fullRuleset(empty, /*replace=*/false));
    if (!failed) failed = send(sock_, nft::fullRuleset(rs, /*replace=*/true));
    if (failed) {
      log_("warning: handover table " + rs.family + " " + rs.table + ": " + *failed +
           "; connections begun through a previous holder may be reset");
      return;
    }
  }
  for (const auto& [address, previous] : previousHolders) {
    if (!installed_.count(address) || installed_.at(address) != previous) {
      log_("connections to " + address.str() + " begun through " + previous.str() +
           " are handed on to it");
    }
  }
  installed_ = previousHolders;
  everInstalled_ = true;
}

}  // namespace svcnft::announce
