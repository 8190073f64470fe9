// Prints, attribute by attribute, the sets of one table as the kernel holds them:
// the reference our encoder is compared with (test/netns/encode_equivalence.sh).
// Usage: nft_dump TABLE
#include <libmnl/libmnl.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <cstdio>
#include <string>
#include <vector>

#include "netlink/transport.h"

namespace {

std::string hex(const void* data, uint32_t len) {
  std::string out;
  char b[4];
  for (uint32_t i = 0; i < len; ++i) {
    std::snprintf(b, sizeof b, "%02x", static_cast<const uint8_t*>(data)[i]);
    out += b;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  auto sock = svcnft::netlink::Socket::open();
  if (!sock) return 3;
  std::vector<uint8_t> req(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = nftnl_nlmsg_build_hdr(reinterpret_cast<char*>(req.data()), NFT_MSG_GETSET,
                                        NFPROTO_INET, NLM_F_DUMP | NLM_F_ACK, 1);
  nftnl_set* filter = nftnl_set_alloc();
  nftnl_set_set_str(filter, NFTNL_SET_TABLE, argv[1]);
  nftnl_set_nlmsg_build_payload(nlh, filter);
  nftnl_set_free(filter);
  req.resize(nlh->nlmsg_len);
  auto r = sock.value().dump(req, [](const nlmsghdr* m) {
    nftnl_set* s = nftnl_set_alloc();
    if (nftnl_set_nlmsg_parse(m, s) < 0) return;
    std::printf("set %s flags 0x%x key %u/%u", nftnl_set_get_str(s, NFTNL_SET_NAME),
                nftnl_set_get_u32(s, NFTNL_SET_FLAGS), nftnl_set_get_u32(s, NFTNL_SET_KEY_TYPE),
                nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN));
    if (nftnl_set_is_set(s, NFTNL_SET_DATA_TYPE)) {
      std::printf(" data %08x/%u", nftnl_set_get_u32(s, NFTNL_SET_DATA_TYPE),
                  nftnl_set_get_u32(s, NFTNL_SET_DATA_LEN));
    }
    for (auto [attr, name] : {std::pair{NFTNL_SET_POLICY, "policy"},
                              {NFTNL_SET_DESC_SIZE, "size"},
                              {NFTNL_SET_GC_INTERVAL, "gc"}}) {
      if (nftnl_set_is_set(s, attr)) std::printf(" %s %u", name, nftnl_set_get_u32(s, attr));
    }
    if (nftnl_set_is_set(s, NFTNL_SET_TIMEOUT)) {
      std::printf(" timeout %llu", (unsigned long long)nftnl_set_get_u64(s, NFTNL_SET_TIMEOUT));
    }
    if (nftnl_set_is_set(s, NFTNL_SET_DESC_CONCAT)) {
      uint32_t len = 0;
      const void* d = nftnl_set_get_data(s, NFTNL_SET_DESC_CONCAT, &len);
      std::printf(" concat %s", hex(d, len).c_str());
    }
    if (nftnl_set_is_set(s, NFTNL_SET_USERDATA)) {
      uint32_t len = 0;
      const void* d = nftnl_set_get_data(s, NFTNL_SET_USERDATA, &len);
      std::printf(" udata %s", hex(d, len).c_str());
    }
    std::printf("\n");
    nftnl_set_free(s);
  });
  return r ? 0 : 3;
}
