// Requests to the Kubernetes API server. GETs are streamed: the body is handed over as
// it arrives, so a watch is read event by event. An interface, so the list/watch
// logic is tested against scripted responses; CurlClient is the real one (libcurl:
// TLS 1.2 or newer, the server's certificate always verified, client certificates,
// bearer tokens, gzip).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "source/kubeconfig.h"

namespace svcnft::source {

struct HttpResponse {
  long status = 0;    // 0: no HTTP response (connection failed, timed out, cancelled)
  std::string error;  // what went wrong below HTTP, when it did
  std::string body;   // the body of a non-2xx answer (a Status), first 64 KiB
  std::optional<double> retryAfterSeconds;  // Retry-After, when sent
};

struct RequestLimits {
  long totalSeconds = 0;  // 0: none
  long idleSeconds = 0;   // give up when nothing arrives for this long; 0: never
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // GET `pathAndQuery` on the server. A 2xx body goes to `onData` piece by piece
  // (return false to stop reading); `stop` becoming true aborts within a second.
  virtual HttpResponse get(const std::string& pathAndQuery,
                           const std::function<bool(std::string_view)>& onData,
                           RequestLimits limits, const std::atomic<bool>& stop) = 0;
  // `method` (POST, PUT, DELETE) with a JSON body (empty: none). The answer's body
  // comes back whole (up to 64 KiB) whatever its status. A client that only reads
  // (a test's) answers with an error.
  virtual HttpResponse send(const std::string& method, const std::string& pathAndQuery,
                            const std::string& jsonBody, RequestLimits limits);
};

class CurlClient : public HttpClient {
 public:
  explicit CurlClient(ApiConfig config);
  ~CurlClient() override;
  CurlClient(const CurlClient&) = delete;
  CurlClient& operator=(const CurlClient&) = delete;

  HttpResponse get(const std::string& pathAndQuery,
                   const std::function<bool(std::string_view)>& onData, RequestLimits limits,
                   const std::atomic<bool>& stop) override;
  HttpResponse send(const std::string& method, const std::string& pathAndQuery,
                    const std::string& jsonBody, RequestLimits limits) override;

 private:
  HttpResponse perform(const std::string& method, const std::string& pathAndQuery,
                       const std::string& jsonBody,
                       const std::function<bool(std::string_view)>& onData, RequestLimits limits,
                       const std::atomic<bool>& stop);
  ApiConfig config_;
  void* curl_ = nullptr;  // CURL*, kept between requests for connection reuse
};

// Percent-encodes a query parameter value ("!a/b" → "%21a%2Fb").
std::string urlEncoded(std::string_view value);

}  // namespace svcnft::source
