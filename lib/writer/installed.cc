#include "writer/installed.h"

#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>

#include "nft/encode.h"
#include "nft/records.h"

namespace svcnft::writer {

namespace {

template <typename Build>
std::vector<uint8_t> request(uint16_t type, Build&& build) {
  std::vector<uint8_t> req(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh =
      nftnl_nlmsg_build_hdr(reinterpret_cast<char*>(req.data()), type, nft::kFamily, NLM_F_DUMP, 1);
  build(nlh);
  req.resize(nlh->nlmsg_len);
  return req;
}

}  // namespace

Result<Installed> readInstalled(netlink::Transport& sock, const std::string& table,
                                ElementScope scope) {
  Installed out;
  std::vector<std::string> setNames;
  auto sets = sock.dump(request(NFT_MSG_GETSET,
                                [&](nlmsghdr* nlh) {
                                  nft::SetPtr f(nftnl_set_alloc());
                                  nftnl_set_set_str(f.get(), NFTNL_SET_TABLE, table.c_str());
                                  nftnl_set_nlmsg_build_payload(nlh, f.get());
                                }),
                        [&](const nlmsghdr* m) {
                          nft::SetPtr s(nftnl_set_alloc());
                          if (nftnl_set_nlmsg_parse(m, s.get()) < 0) return;
                          if (table != nftnl_set_get_str(s.get(), NFTNL_SET_TABLE)) return;
                          const std::string name = nftnl_set_get_str(s.get(), NFTNL_SET_NAME);
                          out.sets[name] = nft::signatureOf(s.get());
                          const bool dynamic =
                              nftnl_set_is_set(s.get(), NFTNL_SET_FLAGS) &&
                              (nftnl_set_get_u32(s.get(), NFTNL_SET_FLAGS) & NFT_SET_EVAL);
                          if (scope == ElementScope::kAll || dynamic) setNames.push_back(name);
                        });
  if (!sets) return sets.error();

  auto chains = sock.dump(request(NFT_MSG_GETCHAIN,
                                  [&](nlmsghdr* nlh) {
                                    nft::ChainPtr f(nftnl_chain_alloc());
                                    nftnl_chain_set_str(f.get(), NFTNL_CHAIN_TABLE, table.c_str());
                                    nftnl_chain_nlmsg_build_payload(nlh, f.get());
                                  }),
                          [&](const nlmsghdr* m) {
                            nft::ChainPtr c(nftnl_chain_alloc());
                            if (nftnl_chain_nlmsg_parse(m, c.get()) < 0) return;
                            if (table != nftnl_chain_get_str(c.get(), NFTNL_CHAIN_TABLE)) return;
                            out.chains[nftnl_chain_get_str(c.get(), NFTNL_CHAIN_NAME)] =
                                nft::signatureOf(c.get());
                          });
  if (!chains) return chains.error();

  auto rules = sock.dump(request(NFT_MSG_GETRULE,
                                 [&](nlmsghdr* nlh) {
                                   nft::RulePtr f(nftnl_rule_alloc());
                                   nftnl_rule_set_str(f.get(), NFTNL_RULE_TABLE, table.c_str());
                                   nftnl_rule_nlmsg_build_payload(nlh, f.get());
                                 }),
                         [&](const nlmsghdr* m) {
                           nft::RulePtr r(nftnl_rule_alloc());
                           if (nftnl_rule_nlmsg_parse(m, r.get()) < 0) return;
                           if (table != nftnl_rule_get_str(r.get(), NFTNL_RULE_TABLE)) return;
                           out.rules[nftnl_rule_get_str(r.get(), NFTNL_RULE_CHAIN)].push_back(
                               nft::signatureOf(r.get()));
                         });
  if (!rules) return rules.error();

  for (const auto& name : setNames) {
    auto elems = readSetElements(sock, table, name);
    if (!elems) return elems.error();
    out.elements[name] = std::move(*elems);
  }
  return out;
}

Result<std::vector<diff::ElementRecord>> readSetElements(netlink::Transport& sock,
                                                         const std::string& table,
                                                         const std::string& set) {
  std::vector<diff::ElementRecord> records;
  auto elems = sock.dump(request(NFT_MSG_GETSETELEM,
                                 [&](nlmsghdr* nlh) {
                                   nft::SetPtr f(nftnl_set_alloc());
                                   nftnl_set_set_str(f.get(), NFTNL_SET_TABLE, table.c_str());
                                   nftnl_set_set_str(f.get(), NFTNL_SET_NAME, set.c_str());
                                   nftnl_set_elems_nlmsg_build_payload(nlh, f.get());
                                 }),
                         [&](const nlmsghdr* m) {
                           nft::SetPtr s(nftnl_set_alloc());
                           if (nftnl_set_elems_nlmsg_parse(m, s.get()) < 0) return;
                           for (auto& r : nft::recordsOf(s.get())) records.push_back(std::move(r));
                         });
  if (!elems) return elems.error();
  return records;
}

}  // namespace svcnft::writer
