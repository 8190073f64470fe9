#include "writer/state_record.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace svcnft::writer {

namespace {

// Version 2: the checksum went from byte-wise FNV-1a to 8 bytes a step (12 ms to 2
// ms for a 9 MB record). Version 3: the digest after the generation. An older file
// is no record, and apply reads back once.
constexpr std::string_view kMagic = "svcnft-state-3\n";
constexpr int kSoNetnsCookie = 71;  // SO_NETNS_COOKIE (Linux 5.14), absent from older headers

// Catches a torn or altered file, not an adversary (the file is root's, 0600): each
// 8-byte word is mixed in by xor, multiply and rotate, the tail bytes one by one.
uint64_t checksum(std::string_view bytes) {
  constexpr uint64_t kPrime = 0x9e3779b97f4a7c15ULL;
  uint64_t h = 0xcbf29ce484222325ULL ^ bytes.size();
  std::size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, bytes.data() + i, 8);
    h = (h ^ word) * kPrime;
    h ^= h >> 29;
  }
  for (; i < bytes.size(); ++i) h = (h ^ static_cast<unsigned char>(bytes[i])) * kPrime;
  return h ^ (h >> 32);
}

class Writer {
 public:
  void u32(uint32_t v) { out_.append(reinterpret_cast<const char*>(&v), sizeof v); }
  void u64(uint64_t v) { out_.append(reinterpret_cast<const char*>(&v), sizeof v); }
  void str(std::string_view s) {
    u32(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }
  std::string& out() { return out_; }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool u32(uint32_t& v) { return raw(&v, sizeof v); }
  bool u64(uint64_t& v) { return raw(&v, sizeof v); }
  bool str(std::string& s) {
    uint32_t n = 0;
    if (!u32(n) || n > in_.size() - at_) return false;
    s.assign(in_.substr(at_, n));
    at_ += n;
    return true;
  }
  // A count of items each at least `minBytes` long: bounded by what is left.
  bool count(uint32_t& n, std::size_t minBytes) {
    return u32(n) && static_cast<std::size_t>(n) * minBytes <= in_.size() - at_;
  }
  bool done() const { return at_ == in_.size(); }

 private:
  bool raw(void* p, std::size_t n) {
    if (in_.size() - at_ < n) return false;
    std::memcpy(p, in_.data() + at_, n);
    at_ += n;
    return true;
  }
  std::string_view in_;
  std::size_t at_ = 0;
};

void putMap(Writer& w, const std::map<std::string, std::string>& m) {
  w.u32(static_cast<uint32_t>(m.size()));
  for (const auto& [k, v] : m) {
    w.str(k);
    w.str(v);
  }
}

// Maps are written in key order, each key once: anything else is not our file.
template <typename Value>
bool placeInOrder(std::map<std::string, Value>& m, std::string key, Value value) {
  if (!m.empty() && !(m.rbegin()->first < key)) return false;
  m.emplace_hint(m.end(), std::move(key), std::move(value));
  return true;
}

bool getMap(Reader& r, std::map<std::string, std::string>& m) {
  uint32_t n = 0;
  if (!r.count(n, 8)) return false;
  for (uint32_t i = 0; i < n; ++i) {
    std::string k, v;
    if (!r.str(k) || !r.str(v) || !placeInOrder(m, std::move(k), std::move(v))) return false;
  }
  return true;
}

}  // namespace

namespace {

// Everything before the elements.
std::size_t putHead(Writer& w, const StateRecord& s) {
  w.out().append(kMagic);
  w.u64(0);  // the checksum, once the body is written
  const std::size_t bodyAt = w.out().size();
  w.str(s.table);
  w.u64(s.netns);
  w.u32(s.generation);
  w.str(s.digest);
  putMap(w, s.installed.sets);
  putMap(w, s.installed.chains);
  w.u32(static_cast<uint32_t>(s.installed.rules.size()));
  for (const auto& [chain, rules] : s.installed.rules) {
    w.str(chain);
    w.u32(static_cast<uint32_t>(rules.size()));
    for (const auto& r : rules) w.str(r);
  }
  return bodyAt;
}

void putRecord(Writer& w, const diff::ElementRecord& e) {
  w.str(e.key);
  w.str(e.keyEnd);
  w.str(e.value);
  w.str(e.comment);
  w.u32(e.flags);
}

std::string seal(Writer& w, std::size_t bodyAt) {
  std::string& out = w.out();
  const uint64_t sum = checksum(std::string_view(out).substr(bodyAt));
  std::memcpy(out.data() + kMagic.size(), &sum, sizeof sum);
  return std::move(out);
}

}  // namespace

std::string encodeState(const StateRecord& s) {
  // Sized up front and sealed in place: at 10,000 x 10 the record is 9 MB, and
  // growing it, then copying it behind its header, cost as much as writing it.
  std::size_t size = kMagic.size() + 8 + 64 + s.table.size() + s.digest.size();
  for (const auto* m : {&s.installed.sets, &s.installed.chains}) {
    for (const auto& [k, v] : *m) size += 8 + k.size() + v.size();
  }
  for (const auto& [chain, rules] : s.installed.rules) {
    size += 8 + chain.size();
    for (const auto& r : rules) size += 4 + r.size();
  }
  for (const auto& [set, records] : s.installed.elements) {
    size += set.size() + 8;
    for (const auto& e : records) {
      size += 20 + e.key.size() + e.keyEnd.size() + e.value.size() + e.comment.size();
    }
  }
  Writer w;
  w.out().reserve(size);
  const std::size_t bodyAt = putHead(w, s);
  w.u32(static_cast<uint32_t>(s.installed.elements.size()));
  for (const auto& [set, records] : s.installed.elements) {
    w.str(set);
    w.u32(static_cast<uint32_t>(records.size()));
    for (const auto& e : records) putRecord(w, e);
  }
  return seal(w, bodyAt);
}

std::string encodeStateStreamed(const StateRecord& s, const std::vector<std::string>& sets,
                                const ElementSource& elementsOf, std::size_t sizeHint) {
  Writer w;
  w.out().reserve(sizeHint);
  const std::size_t bodyAt = putHead(w, s);
  w.u32(static_cast<uint32_t>(sets.size()));
  for (const auto& set : sets) {
    w.str(set);
    const std::size_t countAt = w.out().size();
    w.u32(0);  // the count, once the records are written
    uint32_t count = 0;
    elementsOf(set, [&](const diff::ElementRecord& e) {
      putRecord(w, e);
      ++count;
    });
    std::memcpy(w.out().data() + countAt, &count, sizeof count);
  }
  return seal(w, bodyAt);
}

bool restampState(std::string& bytes, uint32_t generation) {
  const std::size_t bodyAt = kMagic.size() + 8;
  uint32_t tableBytes = 0;
  if (bytes.size() < bodyAt + 4 || bytes.compare(0, kMagic.size(), kMagic) != 0) return false;
  std::memcpy(&tableBytes, bytes.data() + bodyAt, 4);
  const std::size_t at = bodyAt + 4 + std::size_t{tableBytes} + 8;  // past table and netns
  if (bytes.size() < at + sizeof generation) return false;
  std::memcpy(bytes.data() + at, &generation, sizeof generation);
  const uint64_t sum = checksum(std::string_view(bytes).substr(bodyAt));
  std::memcpy(bytes.data() + kMagic.size(), &sum, sizeof sum);
  return true;
}

std::string sealState(std::string_view body) {
  std::string out(kMagic);
  Writer sum;
  sum.u64(checksum(body));
  out += sum.out();
  out += body;
  return out;
}

std::optional<StateRecord> decodeState(std::string_view bytes) {
  if (bytes.size() < kMagic.size() + 8 || bytes.substr(0, kMagic.size()) != kMagic) {
    return std::nullopt;
  }
  uint64_t sum = 0;
  std::memcpy(&sum, bytes.data() + kMagic.size(), 8);
  const std::string_view body = bytes.substr(kMagic.size() + 8);
  if (checksum(body) != sum) return std::nullopt;
  Reader r(body);
  StateRecord s;
  if (!r.str(s.table) || !r.u64(s.netns) || !r.u32(s.generation) || !r.str(s.digest)) {
    return std::nullopt;
  }
  if (!getMap(r, s.installed.sets) || !getMap(r, s.installed.chains)) return std::nullopt;
  uint32_t chains = 0;
  if (!r.count(chains, 8)) return std::nullopt;
  for (uint32_t i = 0; i < chains; ++i) {
    std::string chain;
    uint32_t n = 0;
    if (!r.str(chain) || !r.count(n, 4)) return std::nullopt;
    std::vector<std::string> rules(n);
    for (auto& rule : rules) {
      if (!r.str(rule)) return std::nullopt;
    }
    if (!placeInOrder(s.installed.rules, std::move(chain), std::move(rules))) return std::nullopt;
  }
  uint32_t sets = 0;
  if (!r.count(sets, 8)) return std::nullopt;
  for (uint32_t i = 0; i < sets; ++i) {
    std::string set;
    uint32_t n = 0;
    if (!r.str(set) || !r.count(n, 20)) return std::nullopt;
    std::vector<diff::ElementRecord> records(n);
    for (auto& e : records) {
      if (!r.str(e.key) || !r.str(e.keyEnd) || !r.str(e.value) || !r.str(e.comment) ||
          !r.u32(e.flags)) {
        return std::nullopt;
      }
    }
    if (!placeInOrder(s.installed.elements, std::move(set), std::move(records))) {
      return std::nullopt;
    }
  }
  if (!r.done()) return std::nullopt;
  if (s.digestOnly() && !(s.installed == Installed{})) return std::nullopt;  // one or the other
  return s;
}

bool stateTrusted(const StateRecord& record, const std::string& table, uint64_t netnsNow,
                  uint32_t generationNow) {
  return netnsNow != 0 && record.netns == netnsNow && record.table == table &&
         record.generation == generationNow;
}

uint64_t currentNetns() {
  // The namespace's cookie: unique until reboot, where the inode of
  // /proc/self/ns/net is reused by the next namespace (a fresh namespace also starts
  // its generations anew, so a reused inode could pass for ours).
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  uint64_t cookie = 0;
  socklen_t len = sizeof cookie;
  if (getsockopt(fd, SOL_SOCKET, kSoNetnsCookie, &cookie, &len) != 0) cookie = 0;
  close(fd);
  return cookie;
}

std::string statePath(const std::string& table, uint64_t netns) {
  const char* dir = std::getenv("SVCNFT_STATE_DIR");
  return std::string(dir && *dir ? dir : "/run/svcnft") + "/" + std::to_string(netns) + "-" +
         table + ".state";
}

Result<bool> saveState(const std::string& path, const StateRecord& record) {
  return saveEncodedState(path, encodeState(record));
}

Result<bool> saveEncodedState(const std::string& path, std::string_view bytes) {
  auto written = writeStateBeside(path, bytes);
  if (!written) return written;
  return putStateInPlace(path);
}

Result<bool> writeStateBeside(const std::string& path, std::string_view bytes) {
  const std::string dir = path.substr(0, path.rfind('/'));
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Error{"cannot create " + dir + ": " + std::strerror(errno)};
  }
  const std::string tmp = path + ".tmp";
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Error{"cannot write " + tmp + ": " + std::strerror(errno)};
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = write(fd, bytes.data() + done, bytes.size() - done);
    if (n <= 0) {
      const int err = errno;
      close(fd);
      unlink(tmp.c_str());
      return Error{"cannot write " + tmp + ": " + std::strerror(err)};
    }
    done += static_cast<std::size_t>(n);
  }
  close(fd);
  return true;
}

Result<bool> putStateInPlace(const std::string& path) {
  const std::string tmp = path + ".tmp";
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    unlink(tmp.c_str());
    return Error{"cannot rename " + tmp + ": " + std::strerror(err)};
  }
  return true;
}

void discardStateBeside(const std::string& path) { unlink((path + ".tmp").c_str()); }

std::optional<StateRecord> loadState(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return std::nullopt;
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
    close(fd);
    return std::nullopt;  // only a regular file of our own user
  }
  std::string bytes(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = read(fd, bytes.data() + done, bytes.size() - done);
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  close(fd);
  if (done != bytes.size()) return std::nullopt;
  return decodeState(bytes);
}

}  // namespace svcnft::writer
