#include "announce/lease_store.h"

#include <simdjson.h>

#include <cmath>
#include <cstdio>
#include <ctime>

namespace svcnft::announce {

namespace {

constexpr const char* kLeases = "/apis/coordination.k8s.io/v1/namespaces/";
constexpr const char* kReleasedFrom = "svcnft.io/released-from";

std::string jsonString(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

// What went wrong with a request, for the log: its status and the Status message.
Error failure(const std::string& what, const source::HttpResponse& r) {
  std::string message = what + ": ";
  if (r.status == 0) return Error{message + (r.error.empty() ? "no answer" : r.error)};
  message += "HTTP " + std::to_string(r.status);
  simdjson::dom::parser parser;
  simdjson::dom::element status;
  std::string_view text;
  if (!parser.parse(r.body).get(status) && !status["message"].get(text)) {
    message += ": " + std::string(text);
  }
  return Error{message};
}

}  // namespace

std::string leaseName(const IpAddress& address) {
  std::string name = "svcnft-lb-" + address.str();
  for (char& c : name) {
    if (c == '.' || c == ':') c = '-';
  }
  // "::1"-style addresses would leave a leading or doubled dash: names allow both
  // inside, and the prefix keeps the start alphanumeric; an address ending in ':'
  // ("2001:db8::") would end in '-', which a name may not.
  if (name.back() == '-') name += '0';
  return name;
}

std::string microTime(double unixSeconds) {
  const double whole = std::floor(unixSeconds);
  const time_t t = static_cast<time_t>(whole);
  long micros = std::lround((unixSeconds - whole) * 1e6);
  if (micros > 999999) micros = 999999;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, micros);
  return buf;
}

std::string leaseJson(const std::string& ns, const std::string& name, const LeaseRecord& r) {
  std::string meta = "\"name\":" + jsonString(name) + ",\"namespace\":" + jsonString(ns) +
                     ",\"labels\":{\"app.kubernetes.io/managed-by\":\"svcnft\"}";
  // Always written, empty or not: an update replaces the object, annotations too.
  meta += ",\"annotations\":{\"" + std::string(kReleasedFrom) + "\":" + jsonString(r.releasedFrom) +
          "}";
  if (!r.resourceVersion.empty()) meta += ",\"resourceVersion\":" + jsonString(r.resourceVersion);
  std::string spec = "\"holderIdentity\":" + jsonString(r.holder) +
                     ",\"leaseDurationSeconds\":" + std::to_string(r.durationSeconds) +
                     ",\"leaseTransitions\":" + std::to_string(r.transitions);
  if (!r.acquireTime.empty()) spec += ",\"acquireTime\":" + jsonString(r.acquireTime);
  if (!r.renewTime.empty()) spec += ",\"renewTime\":" + jsonString(r.renewTime);
  return "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\",\"metadata\":{" + meta +
         "},\"spec\":{" + spec + "}}";
}

Result<LeaseRecord> parseLease(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element lease;
  if (parser.parse(json.data(), json.size()).get(lease)) return Error{"the Lease is not JSON"};
  LeaseRecord r;
  std::string_view text;
  if (lease["metadata"]["resourceVersion"].get(text) || text.empty()) {
    return Error{"the Lease has no metadata.resourceVersion"};  // the API server always sets one
  }
  r.resourceVersion = text;
  simdjson::dom::element released;
  if (!lease["metadata"]["annotations"][kReleasedFrom].get(released) && !released.is_null()) {
    if (released.get(text))
      return Error{std::string("the Lease's annotation ") + kReleasedFrom + " is not a string"};
    r.releasedFrom = text;
  }
  simdjson::dom::element spec;
  if (lease["spec"].get(spec)) return r;  // an empty spec: nobody holds it
  auto string = [&](const char* field, std::string& out) -> bool {
    simdjson::dom::element v;
    if (spec[field].get(v)) return true;  // absent
    if (v.is_null()) return true;
    if (v.get(text)) return false;
    out = text;
    return true;
  };
  auto integer = [&](const char* field, int& out) -> bool {
    simdjson::dom::element v;
    if (spec[field].get(v) || v.is_null()) return true;
    int64_t n = 0;
    if (v.get(n) || n < 0 || n > 1'000'000'000) return false;
    out = static_cast<int>(n);
    return true;
  };
  for (auto [field, out] :
       {std::pair{"holderIdentity", &r.holder}, std::pair{"acquireTime", &r.acquireTime},
        std::pair{"renewTime", &r.renewTime}}) {
    if (!string(field, *out))
      return Error{std::string("the Lease's spec.") + field + " is not a string"};
  }
  for (auto [field, out] : {std::pair{"leaseDurationSeconds", &r.durationSeconds},
                            std::pair{"leaseTransitions", &r.transitions}}) {
    if (!integer(field, *out)) {
      return Error{std::string("the Lease's spec.") + field + " is not a count"};
    }
  }
  return r;
}

Result<std::optional<LeaseRecord>> ApiLeaseStore::get(const std::string& name) {
  std::string body;
  const std::atomic<bool> never{false};
  const source::HttpResponse r = http_.get(
      kLeases + ns_ + "/leases/" + name,
      [&](std::string_view piece) {
        body.append(piece);
        return body.size() < 64 * 1024;
      },
      {timeoutSeconds_, 0}, never);
  if (r.status == 404) return std::optional<LeaseRecord>();
  if (r.status < 200 || r.status >= 300) return failure("reading Lease " + ns_ + "/" + name, r);
  auto lease = parseLease(body);
  if (!lease) return Error{"Lease " + ns_ + "/" + name + ": " + lease.error().message};
  return std::optional<LeaseRecord>(std::move(lease).value());
}

Result<LeaseRecord> ApiLeaseStore::create(const std::string& name, const LeaseRecord& record) {
  return write("POST", kLeases + ns_ + "/leases", name, record);
}

Result<LeaseRecord> ApiLeaseStore::update(const std::string& name, const LeaseRecord& record) {
  return write("PUT", kLeases + ns_ + "/leases/" + name, name, record);
}

Result<LeaseRecord> ApiLeaseStore::write(const std::string& method, const std::string& path,
                                         const std::string& name, const LeaseRecord& record) {
  const source::HttpResponse r =
      http_.send(method, path, leaseJson(ns_, name, record), {timeoutSeconds_, 0});
  const std::string what =
      (method == "POST" ? "creating Lease " : "updating Lease ") + ns_ + "/" + name;
  if (r.status < 200 || r.status >= 300) return failure(what, r);
  auto stored = parseLease(r.body);
  if (!stored) return Error{what + ": " + stored.error().message};
  return stored;
}

}  // namespace svcnft::announce
