// `svcnft apply`, but through a transport that spoils the last message carrying
// backend elements (it names a set that does not exist), so the real kernel rejects
// the transaction. test/netns/rejected_transaction.sh checks that nothing changed
// and that the error names the Services whose elements that message carried.
// Usage: rejecting_apply MANIFESTS NODE_CONFIG   (exit 3 on the expected rejection)
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <cstring>
#include <iostream>

#include "compile/compiler.h"
#include "manifest/loader.h"
#include "writer/writer.h"

namespace {

class SpoilingTransport : public svcnft::netlink::Transport {
 public:
  explicit SpoilingTransport(svcnft::netlink::Transport& real) : real_(real) {}

  svcnft::Result<svcnft::netlink::TransactionResult> transact(const std::vector<uint8_t>& batch,
                                                              int acks) override {
    std::vector<uint8_t> copy = batch;
    nlmsghdr* last = nullptr;
    int len = static_cast<int>(copy.size());
    for (nlmsghdr* nlh = reinterpret_cast<nlmsghdr*>(copy.data()); mnl_nlmsg_ok(nlh, len);
         nlh = mnl_nlmsg_next(nlh, &len)) {
      if ((nlh->nlmsg_type & 0xff) != NFT_MSG_NEWSETELEM ||
          (nlh->nlmsg_type >> 8) != NFNL_SUBSYS_NFTABLES) {
        continue;
      }
      bool backends = false;
      mnl_attr_parse(
          nlh, sizeof(nfgenmsg),
          [](const nlattr* a, void* data) {
            if (mnl_attr_get_type(a) == NFTA_SET_ELEM_LIST_SET &&
                std::strstr(mnl_attr_get_str(a), "backends")) {
              *static_cast<bool*>(data) = true;
            }
            return MNL_CB_OK;
          },
          &backends);
      if (backends) last = nlh;
    }
    if (last) {
      mnl_attr_parse(
          last, sizeof(nfgenmsg),
          [](const nlattr* a, void*) {
            if (mnl_attr_get_type(a) == NFTA_SET_ELEM_LIST_SET) {
              static_cast<char*>(mnl_attr_get_payload(a))[0] = 'X';  // no such set
            }
            return MNL_CB_OK;
          },
          nullptr);
    }
    return real_.transact(copy, acks);
  }

  svcnft::Result<int> dump(const std::vector<uint8_t>& request,
                           const std::function<void(const nlmsghdr*)>& onMessage) override {
    return real_.dump(request, onMessage);
  }
  uint32_t portId() const override { return real_.portId(); }

 private:
  svcnft::netlink::Transport& real_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  svcnft::Diagnostics d;
  svcnft::Inputs in = svcnft::manifest::loadInputs({argv[1]}, argv[2], d);
  if (d.hasErrors()) return 1;
  const svcnft::ir::Ruleset rs = svcnft::compileRuleset(in, d);
  auto sock = svcnft::netlink::Socket::open();
  if (!sock) return 3;
  auto kernel = svcnft::writer::probeKernel(sock.value());
  if (!kernel) return 3;
  SpoilingTransport spoiling(sock.value());
  auto r = svcnft::writer::apply(spoiling, rs, *kernel);
  if (r) {
    std::cerr << "rejecting_apply: the kernel accepted the spoiled transaction\n";
    return 0;
  }
  std::cerr << "svcnft: " << r.error().message << "\n";
  return 3;
}
