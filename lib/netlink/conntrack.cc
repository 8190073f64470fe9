#include "netlink/conntrack.h"

#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "netlink/transport.h"

namespace svcnft::netlink {

namespace {

struct HandleCloser {
  void operator()(nfct_handle* h) const { nfct_close(h); }
};
struct CtDeleter {
  void operator()(nf_conntrack* c) const { nfct_destroy(c); }
};
using Handle = std::unique_ptr<nfct_handle, HandleCloser>;
using Ct = std::unique_ptr<nf_conntrack, CtDeleter>;

IpAddress addressOf(const nf_conntrack* ct, bool v6, int attr4, int attr6) {
  std::array<uint8_t, 16> bytes{};
  if (v6) {
    std::memcpy(bytes.data(), nfct_get_attr(ct, static_cast<nf_conntrack_attr>(attr6)), 16);
  } else {
    const uint32_t a = nfct_get_attr_u32(ct, static_cast<nf_conntrack_attr>(attr4));
    std::memcpy(bytes.data(), &a, 4);
  }
  return IpAddress::fromBytes(v6 ? IpFamily::kV6 : IpFamily::kV4, bytes);
}

struct DumpState {
  const std::function<bool(const UdpFlow&)>* stale;
  std::vector<Ct> doomed;
};

int onEntry(enum nf_conntrack_msg_type, struct nf_conntrack* ct, void* data) {
  auto* st = static_cast<DumpState*>(data);
  if (nfct_get_attr_u8(ct, ATTR_ORIG_L4PROTO) != IPPROTO_UDP) return NFCT_CB_CONTINUE;
  const bool v6 = nfct_get_attr_u8(ct, ATTR_ORIG_L3PROTO) == AF_INET6;
  UdpFlow f;
  f.originalDestination = addressOf(ct, v6, ATTR_ORIG_IPV4_DST, ATTR_ORIG_IPV6_DST);
  f.originalPort = ntohs(nfct_get_attr_u16(ct, ATTR_ORIG_PORT_DST));
  f.replySource = addressOf(ct, v6, ATTR_REPL_IPV4_SRC, ATTR_REPL_IPV6_SRC);
  f.dnat = (nfct_get_attr_u32(ct, ATTR_STATUS) & IPS_DST_NAT) != 0;
  if ((*st->stale)(f)) st->doomed.emplace_back(nfct_clone(ct));
  return NFCT_CB_CONTINUE;
}

}  // namespace

Result<int> deleteUdpFlows(const std::function<bool(const UdpFlow&)>& stale) {
  Handle dump(nfct_open(CONNTRACK, 0));
  if (!dump) return Error{"conntrack netlink: " + errnoText(errno)};
  DumpState st{&stale, {}};
  nfct_callback_register(dump.get(), NFCT_T_ALL, onEntry, &st);
  for (uint32_t family : {AF_INET, AF_INET6}) {
    if (nfct_query(dump.get(), NFCT_Q_DUMP, &family) < 0) {
      return Error{"conntrack dump: " + errnoText(errno)};
    }
  }
  // Deletes go on another handle: a handle inside its dump callback cannot query.
  Handle del(nfct_open(CONNTRACK, 0));
  if (!del) return Error{"conntrack netlink: " + errnoText(errno)};
  int deleted = 0;
  for (const auto& ct : st.doomed) {
    if (nfct_query(del.get(), NFCT_Q_DESTROY, ct.get()) == 0) ++deleted;  // gone already: fine
  }
  return deleted;
}

}  // namespace svcnft::netlink
