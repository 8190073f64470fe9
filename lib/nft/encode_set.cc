// Tables, chains, sets and their elements, byte for byte as nft 1.0.6 writes them
// (checked by test/netns/apply_equivalence.sh: `nft list` of what we install is the
// text of the dry-run dump), including the set userdata nft reads types back from.
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <algorithm>
#include <cstring>
#include <span>
#include <stdexcept>

#include "nft/encode.h"

namespace svcnft::nft {

namespace {

using ir::Datum;
using ir::Field;
using ir::FieldSource;
using ir::FieldType;

// nft's datatype ids (src/datatype.h) and how concatenations combine them.
constexpr uint32_t kTypeVerdict = 1, kTypeInteger = 4, kTypeIpv4 = 7, kTypeIpv6 = 8,
                   kTypeInetProto = 12, kTypeInetService = 13;
constexpr unsigned kTypeBits = 6;
// nft's expression and protocol ids used in typeof userdata (src/expression.h, proto.h).
constexpr uint32_t kExprPayload = 7, kExprMeta = 9, kExprConcat = 13, kExprNumgen = 23;
constexpr uint32_t kDescTh = 11, kDescIp = 12, kDescIp6 = 13;
constexpr uint32_t kIpDaddr = 12, kIp6Daddr = 9, kThDport = 2;
constexpr uint32_t kByteorderHost = 0, kByteorderBig = 2;
constexpr uint32_t kVerdictDataLen = 16;

uint32_t typeId(FieldType t) {
  switch (t) {
    case FieldType::kIpv4Addr:
      return kTypeIpv4;
    case FieldType::kIpv6Addr:
      return kTypeIpv6;
    case FieldType::kInetProto:
      return kTypeInetProto;
    case FieldType::kInetService:
      return kTypeInetService;
    case FieldType::kInteger:
      return kTypeInteger;
  }
  return kTypeInteger;
}

uint32_t fieldBytes(FieldType t) {
  switch (t) {
    case FieldType::kIpv4Addr:
      return 4;
    case FieldType::kIpv6Addr:
      return 16;
    case FieldType::kInetProto:
      return 1;
    case FieldType::kInetService:
      return 2;
    case FieldType::kInteger:
      return 4;
  }
  return 4;
}

uint32_t paddedBytes(FieldType t) { return (fieldBytes(t) + 3) / 4 * 4; }

uint32_t concatType(const std::vector<Field>& fields) {
  uint32_t id = 0;
  for (const auto& f : fields) id = (id << kTypeBits) | typeId(f.type);
  return id;
}

uint32_t concatLen(const std::vector<Field>& fields) {
  if (fields.size() == 1) return fieldBytes(fields[0].type);
  uint32_t n = 0;
  for (const auto& f : fields) n += paddedBytes(f.type);
  return n;
}

bool bigEndian(FieldType t) { return t != FieldType::kInteger && t != FieldType::kInetProto; }

struct UdataDeleter {
  void operator()(nftnl_udata_buf* b) const { nftnl_udata_buf_free(b); }
};
using UdataPtr = std::unique_ptr<nftnl_udata_buf, UdataDeleter>;

void putTypeofField(nftnl_udata_buf* buf, uint8_t index, const Field& f) {
  nftnl_udata* field = nftnl_udata_nest_start(buf, index);
  auto payload = [&](uint32_t desc, uint32_t tmpl) {
    nftnl_udata_put_u32(buf, 0, kExprPayload);
    nftnl_udata* data = nftnl_udata_nest_start(buf, 1);
    nftnl_udata_put_u32(buf, 0, desc);
    nftnl_udata_put_u32(buf, 1, tmpl);
    nftnl_udata_nest_end(buf, data);
  };
  switch (f.source) {
    case FieldSource::kIpDaddr:
      payload(kDescIp, kIpDaddr);
      break;
    case FieldSource::kIp6Daddr:
      payload(kDescIp6, kIp6Daddr);
      break;
    case FieldSource::kThDport:
      payload(kDescTh, kThDport);
      break;
    case FieldSource::kMetaL4proto: {
      nftnl_udata_put_u32(buf, 0, kExprMeta);
      nftnl_udata* data = nftnl_udata_nest_start(buf, 1);
      nftnl_udata_put_u32(buf, 0, NFT_META_L4PROTO);
      nftnl_udata_nest_end(buf, data);
      break;
    }
    case FieldSource::kNumgen: {
      nftnl_udata_put_u32(buf, 0, kExprNumgen);
      nftnl_udata* data = nftnl_udata_nest_start(buf, 1);
      nftnl_udata_put_u32(buf, 0, NFT_NG_RANDOM);
      nftnl_udata_put_u32(buf, 1, 2);  // the modulus the declaration was written with
      nftnl_udata_put_u32(buf, 2, 0);
      nftnl_udata_nest_end(buf, data);
      break;
    }
    case FieldSource::kNone:
      break;
  }
  nftnl_udata_nest_end(buf, field);
}

// A concatenation's typeof record: the concat expression, then one nest per field
// (empty when the set was declared with `type`).
void putConcat(nftnl_udata_buf* buf, uint8_t type, const std::vector<Field>& fields) {
  nftnl_udata* outer = nftnl_udata_nest_start(buf, type);
  nftnl_udata_put_u32(buf, NFTNL_UDATA_SET_TYPEOF_EXPR, kExprConcat);
  nftnl_udata* data = nftnl_udata_nest_start(buf, NFTNL_UDATA_SET_TYPEOF_DATA);
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (fields[i].source != FieldSource::kNone) {
      putTypeofField(buf, static_cast<uint8_t>(i), fields[i]);
    }
  }
  nftnl_udata_nest_end(buf, data);
  nftnl_udata_nest_end(buf, outer);
}

UdataPtr setUserdata(const ir::Set& s) {
  UdataPtr buf(nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN));
  const bool concatKey = s.key.size() > 1;
  nftnl_udata_put_u32(buf.get(), NFTNL_UDATA_SET_KEYBYTEORDER,
                      !concatKey && bigEndian(s.key[0].type) ? kByteorderBig : kByteorderHost);
  if (s.isMap()) {
    const bool bigData = s.data.size() == 1 && bigEndian(s.data[0].type);
    nftnl_udata_put_u32(buf.get(), NFTNL_UDATA_SET_DATABYTEORDER,
                        bigData ? kByteorderBig : kByteorderHost);
  }
  if (s.autoMerge) nftnl_udata_put_u32(buf.get(), NFTNL_UDATA_SET_MERGE_ELEMENTS, 1);
  if (concatKey) putConcat(buf.get(), NFTNL_UDATA_SET_KEY_TYPEOF, s.key);
  if (s.data.size() > 1 && s.usesTypeof()) {
    putConcat(buf.get(), NFTNL_UDATA_SET_DATA_TYPEOF, s.data);
  } else if (s.data.size() == 1 && s.usesTypeof()) {
    putTypeofField(buf.get(), NFTNL_UDATA_SET_DATA_TYPEOF, s.data[0]);  // one expression, bare
  }
  if (s.isMap()) nftnl_udata_put_u32(buf.get(), NFTNL_UDATA_SET_DATA_INTERVAL, 0);
  return buf;
}

// --- element bytes ---

void append(ElementBytes& out, const void* p, std::size_t n, std::size_t padTo) {
  out.append(p, n, padTo);
}

// `end`: for a CIDR, its last address instead of its first.
void appendDatum(ElementBytes& out, const Datum& d, bool pad, bool end) {
  struct V {
    ElementBytes& out;
    bool pad, end;
    void addr(const IpAddress& a) {
      const std::size_t n = a.family() == IpFamily::kV4 ? 4 : 16;
      append(out, a.bytes().data(), n, n);
    }
    void operator()(const IpAddress& a) { addr(a); }
    void operator()(const Cidr& c) {
      auto bytes = c.base().bytes();
      if (end) {
        for (int bit = c.prefixLength(); bit < c.base().bitLength(); ++bit) {
          bytes[bit / 8] |= static_cast<uint8_t>(0x80u >> (bit % 8));
        }
      }
      addr(IpAddress::fromBytes(c.family(), bytes));
    }
    void operator()(Protocol p) {
      const uint8_t v = p == Protocol::kTcp ? 6 : p == Protocol::kUdp ? 17 : 132;
      append(out, &v, 1, pad ? 4 : 1);
    }
    void operator()(ir::Port p) {
      const uint8_t v[2] = {static_cast<uint8_t>(p.value >> 8), static_cast<uint8_t>(p.value)};
      append(out, v, 2, pad ? 4 : 2);
    }
    void operator()(ir::Integer i) { append(out, &i.value, 4, 4); }  // host byte order
  };
  std::visit(V{out, pad, end}, d);
}

ElementBytes concatBytes(std::span<const Datum> fields, bool end = false) {
  ElementBytes out;
  for (const auto& f : fields) appendDatum(out, f, fields.size() > 1, end);
  return out;
}

void setComment(nftnl_set_elem* e, const std::string& comment) {
  if (comment.empty()) return;
  UdataPtr buf(nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN));
  nftnl_udata_put_strz(buf.get(), NFTNL_UDATA_SET_ELEM_COMMENT, comment.c_str());
  nftnl_set_elem_set(e, NFTNL_SET_ELEM_USERDATA, nftnl_udata_buf_data(buf.get()),
                     nftnl_udata_buf_len(buf.get()));
}

nftnl_set_elem* newElem() {
  nftnl_set_elem* e = nftnl_set_elem_alloc();
  if (!e) throw std::bad_alloc();
  return e;
}

// An address range as one interval of a plain (rbtree) interval set: nft sends the
// start, and the first address past the end flagged INTERVAL_END.
struct Range {
  std::array<uint8_t, 16> first{}, last{};
};

bool increment(std::array<uint8_t, 16>& a, std::size_t n) {
  for (std::size_t i = n; i-- > 0;) {
    if (++a[i] != 0) return true;
  }
  return false;  // wrapped: the range ran to the last address
}

std::vector<Range> mergedRanges(const std::vector<ir::Element>& elements, std::size_t n) {
  std::vector<Range> ranges;
  for (const auto& e : elements) {
    if (e.key.empty()) continue;
    const std::span<const Datum> c(e.key.data(), 1);  // a plain CIDR
    const ElementBytes lo = concatBytes(c), hi = concatBytes(c, true);
    Range r;
    std::copy(lo.begin(), lo.end(), r.first.begin());
    std::copy(hi.begin(), hi.end(), r.last.begin());
    ranges.push_back(r);
  }
  std::sort(ranges.begin(), ranges.end(), [&](const Range& a, const Range& b) {
    return std::memcmp(a.first.data(), b.first.data(), n) < 0;
  });
  std::vector<Range> merged;
  for (const auto& r : ranges) {
    if (!merged.empty()) {
      auto next = merged.back().last;
      const bool wrapped = !increment(next, n);
      if (wrapped || std::memcmp(r.first.data(), next.data(), n) <= 0) {  // overlaps or touches
        if (std::memcmp(r.last.data(), merged.back().last.data(), n) > 0)
          merged.back().last = r.last;
        continue;
      }
    }
    merged.push_back(r);
  }
  return merged;
}

void addIntervalElements(nftnl_set* out, const ir::Set& s, std::size_t n) {
  const std::vector<Range> merged = mergedRanges(s.elements, n);
  const std::array<uint8_t, 16> zero{};
  auto add = [&](const uint8_t* key, bool isEnd) {
    nftnl_set_elem* e = newElem();
    nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, static_cast<uint32_t>(n));
    if (isEnd) nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
    nftnl_set_elem_add(out, e);  // the set owns it now
  };
  // nft opens with an end marker at the zero address unless a range starts there.
  if (!merged.empty() && std::memcmp(merged[0].first.data(), zero.data(), n) != 0) {
    add(zero.data(), true);
  }
  for (const auto& r : merged) {
    add(r.first.data(), false);
    auto past = r.last;
    if (increment(past, n)) add(past.data(), true);
  }
}

}  // namespace

int verdictCode(const ir::Verdict& v) {
  switch (v.kind) {
    case ir::Verdict::Kind::kGoto: return NFT_GOTO;
    case ir::Verdict::Kind::kJump: return NFT_JUMP;
    case ir::Verdict::Kind::kDrop: return NF_DROP;
  }
  return NF_DROP;
}

ElementBytes elementBytes(std::span<const ir::Datum> fields, bool end) {
  return concatBytes(fields, end);
}

TablePtr encodeTable(const std::string& table) {
  TablePtr t(nftnl_table_alloc());
  nftnl_table_set_u32(t.get(), NFTNL_TABLE_FAMILY, kFamily);
  nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, table.c_str());
  return t;
}

ChainPtr encodeChain(const std::string& table, const ir::Chain& chain) {
  ChainPtr c(nftnl_chain_alloc());
  nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_FAMILY, kFamily);
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, table.c_str());
  nftnl_chain_set_str(c.get(), NFTNL_CHAIN_NAME, chain.name.c_str());
  if (chain.base) {
    static const std::pair<const char*, uint32_t> kHooks[] = {
        {"prerouting", NF_INET_PRE_ROUTING},
        {"input", NF_INET_LOCAL_IN},
        {"forward", NF_INET_FORWARD},
        {"output", NF_INET_LOCAL_OUT},
        {"postrouting", NF_INET_POST_ROUTING}};
    uint32_t hook = NF_INET_PRE_ROUTING;
    for (const auto& [n, h] : kHooks) {
      if (chain.base->hook == n) hook = h;
    }
    nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_HOOKNUM, hook);
    nftnl_chain_set_s32(c.get(), NFTNL_CHAIN_PRIO, std::stoi(chain.base->priority));
    nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TYPE, chain.base->type.c_str());
    nftnl_chain_set_u32(c.get(), NFTNL_CHAIN_POLICY, NF_ACCEPT);
  }
  return c;
}

SetPtr encodeSet(const std::string& table, const ir::Set& s, uint32_t id) {
  SetPtr out(nftnl_set_alloc());
  nftnl_set* p = out.get();
  nftnl_set_set_u32(p, NFTNL_SET_FAMILY, kFamily);
  nftnl_set_set_str(p, NFTNL_SET_TABLE, table.c_str());
  nftnl_set_set_str(p, NFTNL_SET_NAME, s.name.c_str());
  nftnl_set_set_u32(p, NFTNL_SET_ID, id);
  uint32_t flags = 0;
  if (s.interval) flags |= NFT_SET_INTERVAL;
  if (s.interval && s.key.size() > 1) flags |= NFT_SET_CONCAT;
  if (s.isMap()) flags |= NFT_SET_MAP;
  if (s.dynamic) flags |= NFT_SET_TIMEOUT | NFT_SET_EVAL;
  nftnl_set_set_u32(p, NFTNL_SET_FLAGS, flags);
  nftnl_set_set_u32(p, NFTNL_SET_KEY_TYPE, concatType(s.key));
  nftnl_set_set_u32(p, NFTNL_SET_KEY_LEN, concatLen(s.key));
  if (s.verdictMap) {
    nftnl_set_set_u32(p, NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
    nftnl_set_set_u32(p, NFTNL_SET_DATA_LEN, kVerdictDataLen);
  } else if (!s.data.empty()) {
    nftnl_set_set_u32(p, NFTNL_SET_DATA_TYPE, concatType(s.data));
    nftnl_set_set_u32(p, NFTNL_SET_DATA_LEN, concatLen(s.data));
  }
  if (s.size) nftnl_set_set_u32(p, NFTNL_SET_DESC_SIZE, s.size);
  if (s.interval && s.key.size() > 1) {
    // Field lengths of a concatenation of ranges, as pipapo needs them.
    std::vector<uint8_t> lens;
    for (const auto& f : s.key) lens.push_back(static_cast<uint8_t>(fieldBytes(f.type)));
    nftnl_set_set_data(p, NFTNL_SET_DESC_CONCAT, lens.data(), static_cast<uint32_t>(lens.size()));
  }
  UdataPtr ud = setUserdata(s);
  nftnl_set_set_data(p, NFTNL_SET_USERDATA, nftnl_udata_buf_data(ud.get()),
                     nftnl_udata_buf_len(ud.get()));
  return out;
}

namespace {

SetPtr elementHolder(const std::string& table, const std::string& name) {
  SetPtr out(nftnl_set_alloc());
  nftnl_set_set_u32(out.get(), NFTNL_SET_FAMILY, kFamily);
  nftnl_set_set_str(out.get(), NFTNL_SET_TABLE, table.c_str());
  nftnl_set_set_str(out.get(), NFTNL_SET_NAME, name.c_str());
  return out;
}

void addElement(nftnl_set* p, const ir::Set& s, const ir::Element& el) {
  nftnl_set_elem* e = newElem();
  const ElementBytes key = concatBytes(el.key);
  nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key.data(), static_cast<uint32_t>(key.size()));
  if (s.interval) {
    const ElementBytes keyEnd = concatBytes(el.key, /*end=*/true);
    nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY_END, keyEnd.data(),
                       static_cast<uint32_t>(keyEnd.size()));
  }
  if (el.verdict) {
    const bool toChain = el.verdict->kind != ir::Verdict::Kind::kDrop;
    nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT, static_cast<uint32_t>(verdictCode(*el.verdict)));
    if (toChain) nftnl_set_elem_set_str(e, NFTNL_SET_ELEM_CHAIN, el.verdict->chain.c_str());
  } else if (!el.data.empty()) {
    const ElementBytes data = concatBytes(el.data);
    nftnl_set_elem_set(e, NFTNL_SET_ELEM_DATA, data.data(), static_cast<uint32_t>(data.size()));
  }
  setComment(e, el.comment);
  nftnl_set_elem_add(p, e);  // the set owns it now
}

}  // namespace

SetPtr encodeElements(const std::string& table, const ir::Set& s, std::size_t first,
                      std::size_t last) {
  SetPtr out = elementHolder(table, s.name);
  if (s.interval && s.key.size() == 1) {
    // Plain ranges go together: nft merges and pairs them first.
    addIntervalElements(out.get(), s, fieldBytes(s.key[0].type));
    return out;
  }
  for (std::size_t i = first; i < last && i < s.elements.size(); ++i) {
    addElement(out.get(), s, s.elements[i]);
  }
  return out;
}

SetPtr encodeElementsAt(const std::string& table, const ir::Set& s,
                        const std::vector<std::size_t>& indices) {
  if (s.interval && s.key.size() == 1) return encodeElements(table, s, 0, s.elements.size());
  SetPtr out = elementHolder(table, s.name);
  for (std::size_t i : indices) addElement(out.get(), s, s.elements.at(i));
  return out;
}

SetPtr encodeDeletes(const std::string& table, const std::string& set,
                     const std::vector<diff::ElementRecord>& records) {
  SetPtr out = elementHolder(table, set);
  for (const auto& r : records) {
    nftnl_set_elem* e = newElem();
    nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, r.key.data(), static_cast<uint32_t>(r.key.size()));
    if (!r.keyEnd.empty()) {
      nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY_END, r.keyEnd.data(),
                         static_cast<uint32_t>(r.keyEnd.size()));
    }
    if (r.flags) nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, r.flags);
    nftnl_set_elem_add(out.get(), e);
  }
  return out;
}

}  // namespace svcnft::nft
