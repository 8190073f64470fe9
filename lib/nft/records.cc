#include "nft/records.h"

#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <cstdio>
#include <functional>

#include "nft/encode.h"

namespace svcnft::nft {

namespace {

std::string bytesOf(nftnl_set_elem* e, uint16_t attr) {
  if (!nftnl_set_elem_is_set(e, attr)) return "";
  uint32_t len = 0;
  const void* p = nftnl_set_elem_get(e, attr, &len);
  return std::string(static_cast<const char*>(p), len);
}

std::string hex(const void* p, uint32_t len) {
  std::string out;
  char b[4];
  for (uint32_t i = 0; i < len; ++i) {
    std::snprintf(b, sizeof b, "%02x", static_cast<const uint8_t*>(p)[i]);
    out += b;
  }
  return out;
}

int commentOf(const nftnl_udata* attr, void* out) {
  if (nftnl_udata_type(attr) == NFTNL_UDATA_SET_ELEM_COMMENT && nftnl_udata_len(attr) > 0) {
    *static_cast<std::string*>(out) =
        std::string(static_cast<const char*>(nftnl_udata_get(attr)), nftnl_udata_len(attr) - 1);
  }
  return 0;
}

}  // namespace

diff::ElementRecord recordOf(nftnl_set_elem* e) {
  diff::ElementRecord r;
  r.key = bytesOf(e, NFTNL_SET_ELEM_KEY);
  r.keyEnd = bytesOf(e, NFTNL_SET_ELEM_KEY_END);
  if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_VERDICT)) {
    r.value =
        "verdict " +
        std::to_string(static_cast<int32_t>(nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_VERDICT)));
    if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_CHAIN)) {
      r.value += std::string(" ") + nftnl_set_elem_get_str(e, NFTNL_SET_ELEM_CHAIN);
    }
  } else {
    r.value = bytesOf(e, NFTNL_SET_ELEM_DATA);
  }
  if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_USERDATA)) {
    uint32_t len = 0;
    const void* ud = nftnl_set_elem_get(e, NFTNL_SET_ELEM_USERDATA, &len);
    nftnl_udata_parse(ud, len, commentOf, &r.comment);
  }
  if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS)) {
    r.flags = nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS) & NFT_SET_ELEM_INTERVAL_END;
  }
  return r;
}

std::vector<diff::ElementRecord> recordsOf(nftnl_set* s) {
  std::vector<diff::ElementRecord> out;
  nftnl_set_elem_foreach(
      s,
      [](nftnl_set_elem* e, void* data) {
        static_cast<std::vector<diff::ElementRecord>*>(data)->push_back(recordOf(e));
        return 0;
      },
      &out);
  return out;
}

void forEachDesiredRecord(const std::string& table, const ir::Set& set,
                          const std::function<void(const diff::ElementRecord&)>& visit) {
  // Plain ranges are merged and paired on the way out: read back what was built.
  if (set.interval && set.key.size() == 1) {
    for (const auto& r : encodedRecords(table, set)) visit(r);
    return;
  }
  // Everything else maps one element to one record: build the bytes directly (the
  // agent does this for every element on every sync; the libnftnl round trip cost
  // ~0.5 s at 10,000 Services). records_test checks both ways agree. One record,
  // reused: its strings keep their capacity from element to element.
  diff::ElementRecord r;
  auto assign = [](std::string& to, const ElementBytes& b) {
    to.assign(reinterpret_cast<const char*>(b.data()), b.size());
  };
  for (const auto& e : set.elements) {
    assign(r.key, elementBytes(e.key));
    if (set.interval) {
      assign(r.keyEnd, elementBytes(e.key, /*end=*/true));
    } else {
      r.keyEnd.clear();
    }
    if (e.verdict) {
      r.value = "verdict " + std::to_string(verdictCode(*e.verdict));
      if (e.verdict->kind != ir::Verdict::Kind::kDrop) r.value += " " + e.verdict->chain;
    } else if (!e.data.empty()) {
      assign(r.value, elementBytes(e.data));
    } else {
      r.value.clear();
    }
    r.comment = e.comment;
    visit(r);
  }
}

std::vector<diff::ElementRecord> desiredRecords(const std::string& table, const ir::Set& set) {
  std::vector<diff::ElementRecord> out;
  out.reserve(set.elements.size());
  forEachDesiredRecord(table, set, [&](const diff::ElementRecord& r) { out.push_back(r); });
  return out;
}

std::vector<diff::ElementRecord> encodedRecords(const std::string& table, const ir::Set& set) {
  SetPtr s = encodeElements(table, set, 0, set.elements.size());
  return recordsOf(s.get());
}

std::string signatureOf(nftnl_set* s) {
  auto u32 = [&](uint16_t a) {
    return nftnl_set_is_set(s, a) ? std::to_string(nftnl_set_get_u32(s, a)) : std::string("-");
  };
  // The kernel leaves out a zero flags attribute: absent and 0 are the same.
  const uint32_t flags =
      nftnl_set_is_set(s, NFTNL_SET_FLAGS) ? nftnl_set_get_u32(s, NFTNL_SET_FLAGS) : 0;
  std::string out = std::string("set ") + nftnl_set_get_str(s, NFTNL_SET_NAME) + " flags " +
                    std::to_string(flags) + " key " + u32(NFTNL_SET_KEY_TYPE) + "/" +
                    u32(NFTNL_SET_KEY_LEN) + " data " + u32(NFTNL_SET_DATA_TYPE) + "/" +
                    u32(NFTNL_SET_DATA_LEN) + " size " + u32(NFTNL_SET_DESC_SIZE);
  for (uint16_t a : {NFTNL_SET_DESC_CONCAT, NFTNL_SET_USERDATA}) {
    if (!nftnl_set_is_set(s, a)) continue;
    uint32_t len = 0;
    const void* p = nftnl_set_get_data(s, a, &len);
    out += " " + hex(p, len);
  }
  return out;
}

std::string signatureOf(nftnl_chain* c) {
  std::string out = std::string("chain ") + nftnl_chain_get_str(c, NFTNL_CHAIN_NAME);
  if (nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM)) {
    out += " hook " + std::to_string(nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM)) + " prio " +
           std::to_string(nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO)) + " type " +
           nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE);
  }
  return out;
}

std::string signatureOf(nftnl_rule* r) {
  std::vector<char> buf(1 << 16);
  nftnl_rule_snprintf(buf.data(), buf.size(), r, NFTNL_OUTPUT_DEFAULT, 0);
  std::string text = buf.data();
  // Drop the header line (family, table, chain and, from the kernel, the handle).
  const auto nl = text.find('\n');
  std::string body = nl == std::string::npos ? "" : text.substr(nl + 1);
  // What the kernel fills in by itself reads back differently from what nft sends:
  // a lookup's zero flags; a nat's max registers (= min) and its flags (derived from
  // which registers are set). Compare without them.
  for (std::size_t at; (at = body.find(" 0x0 ]")) != std::string::npos;) body.erase(at, 4);
  std::string canonical;
  std::size_t start = 0;
  while (start < body.size()) {
    std::size_t end = body.find('\n', start);
    if (end == std::string::npos) end = body.size();
    std::string line = body.substr(start, end - start);
    if (line.find("[ nat ") != std::string::npos) {
      for (const char* field : {" addr_max reg ", " proto_max reg ", " flags "}) {
        const std::size_t at = line.find(field);
        if (at == std::string::npos) continue;
        const std::size_t valueEnd = line.find(' ', at + std::string(field).size());
        line.erase(at, valueEnd - at);
      }
    }
    canonical += line + "\n";
    start = end + 1;
  }
  body = canonical;
  return std::string(nftnl_rule_get_str(r, NFTNL_RULE_CHAIN)) + ":" + body;
}

}  // namespace svcnft::nft
