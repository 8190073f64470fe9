#include "source/http_client.h"

#include <curl/curl.h>

#include <cstring>
#include <mutex>

namespace svcnft::source {

namespace {

constexpr std::size_t kMaxErrorBody = 64 * 1024;

struct Transfer {
  CURL* curl = nullptr;
  const std::function<bool(std::string_view)>* onData = nullptr;
  const std::atomic<bool>* stop = nullptr;
  HttpResponse* response = nullptr;
  bool stoppedByReader = false;
};

long statusOf(CURL* curl) {
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  return status;
}

size_t onBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t bytes = size * n;
  const long status = statusOf(t->curl);
  if (status >= 200 && status < 300) {
    if (!(*t->onData)(std::string_view(data, bytes))) {
      t->stoppedByReader = true;
      return 0;  // aborts the transfer
    }
  } else if (t->response->body.size() < kMaxErrorBody) {
    t->response->body.append(data, std::min(bytes, kMaxErrorBody - t->response->body.size()));
  }
  return bytes;
}

size_t onHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t bytes = size * n;
  std::string_view line(data, bytes);
  constexpr std::string_view kRetryAfter = "retry-after:";
  if (line.size() > kRetryAfter.size() &&
      strncasecmp(line.data(), kRetryAfter.data(), kRetryAfter.size()) == 0) {
    try {
      // Seconds (the form the API server sends); an HTTP date is ignored.
      t->response->retryAfterSeconds = std::stod(std::string(line.substr(kRetryAfter.size())));
    } catch (const std::exception&) {
    }
  }
  return bytes;
}

int onProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<Transfer*>(user)->stop->load() ? 1 : 0;
}

struct Slist {
  curl_slist* list = nullptr;
  ~Slist() { curl_slist_free_all(list); }
  void add(const std::string& s) { list = curl_slist_append(list, s.c_str()); }
};

void setBlob(CURL* curl, CURLoption option, const std::string& pem) {
  curl_blob blob{const_cast<char*>(pem.data()), pem.size(), CURL_BLOB_COPY};
  curl_easy_setopt(curl, option, &blob);
}

}  // namespace

std::string urlEncoded(std::string_view value) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

CurlClient::CurlClient(ApiConfig config) : config_(std::move(config)) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  curl_ = curl_easy_init();
}

CurlClient::~CurlClient() {
  if (curl_) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

HttpResponse HttpClient::send(const std::string&, const std::string&, const std::string&,
                              RequestLimits) {
  HttpResponse response;
  response.error = "this client only reads";
  return response;
}

HttpResponse CurlClient::get(const std::string& pathAndQuery,
                             const std::function<bool(std::string_view)>& onData,
                             RequestLimits limits, const std::atomic<bool>& stop) {
  return perform("GET", pathAndQuery, "", onData, limits, stop);
}

HttpResponse CurlClient::send(const std::string& method, const std::string& pathAndQuery,
                              const std::string& jsonBody, RequestLimits limits) {
  std::string body;
  const std::atomic<bool> never{false};
  HttpResponse response = perform(
      method, pathAndQuery, jsonBody,
      [&](std::string_view piece) {
        if (body.size() + piece.size() > kMaxErrorBody) return false;
        body.append(piece);
        return true;
      },
      limits, never);
  if (response.status >= 200 && response.status < 300) response.body = std::move(body);
  return response;
}

HttpResponse CurlClient::perform(const std::string& method, const std::string& pathAndQuery,
                                 const std::string& jsonBody,
                                 const std::function<bool(std::string_view)>& onData,
                                 RequestLimits limits, const std::atomic<bool>& stop) {
  HttpResponse response;
  CURL* curl = static_cast<CURL*>(curl_);
  if (!curl) {
    response.error = "cannot initialise libcurl";
    return response;
  }
  curl_easy_reset(curl);
  Transfer t{curl, &onData, &stop, &response};
  const std::string url = config_.server + pathAndQuery;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
  curl_easy_setopt(curl, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!config_.caData.empty()) setBlob(curl, CURLOPT_CAINFO_BLOB, config_.caData);
  if (!config_.caFile.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, config_.caFile.c_str());
  if (!config_.certData.empty()) setBlob(curl, CURLOPT_SSLCERT_BLOB, config_.certData);
  if (!config_.certFile.empty()) curl_easy_setopt(curl, CURLOPT_SSLCERT, config_.certFile.c_str());
  if (!config_.keyData.empty()) setBlob(curl, CURLOPT_SSLKEY_BLOB, config_.keyData);
  if (!config_.keyFile.empty()) curl_easy_setopt(curl, CURLOPT_SSLKEY, config_.keyFile.c_str());

  if (method != "GET") curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  Slist headers;
  headers.add("Accept: application/json");
  if (!jsonBody.empty()) {
    // A PATCH is a JSON merge patch (the status of a Service); the rest whole objects.
    headers.add(method == "PATCH" ? "Content-Type: application/merge-patch+json"
                                  : "Content-Type: application/json");
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, jsonBody.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(jsonBody.size()));
  }
  auto token = bearerToken(config_);  // read again each time: bound tokens rotate
  if (!token) {
    response.error = token.error().message;
    return response;
  }
  if (!token->empty()) headers.add("Authorization: Bearer " + *token);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.list);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "svcnft/0.1");
  curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");  // gzip and whatever else libcurl has
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPIDLE, 15L);
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPINTVL, 5L);
  if (limits.totalSeconds > 0) curl_easy_setopt(curl, CURLOPT_TIMEOUT, limits.totalSeconds);
  if (limits.idleSeconds > 0) {
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, limits.idleSeconds);
  }
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, onBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, onHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, onProgress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &t);
  char errbuf[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);

  const CURLcode rc = curl_easy_perform(curl);
  response.status = statusOf(curl);
  if (rc != CURLE_OK && !t.stoppedByReader) {
    response.error = *errbuf ? errbuf : curl_easy_strerror(rc);
    // A body cut off mid-stream is not a complete answer, whatever its status said.
    if (response.status >= 200 && response.status < 300) response.status = 0;
  }
  return response;
}

}  // namespace svcnft::source
