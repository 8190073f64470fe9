// List, then watch, one Kubernetes resource, as client-go's reflector does:
//
// - list in pages (limit=500, continue), remembering the list's resourceVersion;
// - watch from it (allowWatchBookmarks, timeoutSeconds spread over 5-10 minutes),
//   one JSON event a line; a BOOKMARK only moves the resourceVersion; a clean end
//   of the stream watches again from the last resourceVersion;
// - 410 Gone (an HTTP 410, or an ERROR event whose Status has code 410, "too old
//   resource version"): list again;
// - a failure waits before the next try: 0.8 s doubling to 30 s, with jitter; a
//   429 or 5xx waits at least its Retry-After. A connection that fails watches
//   again from the same resourceVersion; an answer that makes no sense lists again.
//
// Objects are handed over to a handler on the reflector's own thread, decoded (a
// tree, see manifest/json_tree.h) but not interpreted: the handler owns meaning.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <random>
#include <string>

#include "manifest/yaml_tree.h"
#include "source/http_client.h"

namespace svcnft::source {

enum class WatchEventType { kAdded, kModified, kDeleted };

class WatchHandler {
 public:
  virtual ~WatchHandler() = default;
  // A list begins: the objects that follow (kAdded) are all there is...
  virtual void beginList() = 0;
  virtual void object(WatchEventType type, const manifest::YamlNode& object) = 0;
  // ... once it ends (complete: what the list did not name is gone); or it failed
  // half way (complete == false) and what came since beginList() is to be dropped.
  virtual void endList(bool complete) = 0;
  // The server answered as expected (a list page, an event, a bookmark): the
  // picture is current as of now. `watching`: a watch stream is open.
  virtual void contact(bool watching) = 0;
};

// What the reflector counts (metrics), per resource.
class ApiCounters {
 public:
  virtual ~ApiCounters() = default;
  virtual void apiList(const std::string& resource) = 0;
  virtual void apiWatchRestart(const std::string& resource) = 0;
  virtual void apiError(const std::string& resource) = 0;
  virtual void apiInvalidObject(const std::string& resource) = 0;
};

struct ResourceQuery {
  std::string resource;   // "services": for logs and metrics
  std::string path;       // "/api/v1/services"
  std::string selectors;  // "labelSelector=...&fieldSelector=..." (encoded), or ""
};

// How long failures wait: `first` doubling to `max` (as client-go: 0.8 s to 30 s).
struct Backoff {
  std::chrono::milliseconds first{800};
  std::chrono::milliseconds max{30000};
};

class Reflector {
 public:
  using Log = std::function<void(const std::string&)>;
  Reflector(ResourceQuery query, HttpClient& http, WatchHandler& handler, ApiCounters& counters,
            Log log, Backoff backoff = {}, uint32_t seed = std::random_device{}());

  // Lists and watches until stop() (call from another thread); returns then.
  void run();
  void stop();

  static constexpr int kPageSize = 500;

 private:
  enum class Outcome { kOk, kRetry, kRelist, kStopped };
  // One complete list; sets resourceVersion_. kRetry/kRelist after a failure.
  Outcome list();
  // One watch from resourceVersion_ until the stream ends.
  Outcome watch();
  // Waits before the next try (false: stopped meanwhile). `atLeast`: Retry-After.
  bool backoff(std::optional<double> atLeastSeconds);
  void resetBackoff() { nextBackoff_ = backoff_.first; }
  Outcome failed(const HttpResponse& r, const std::string& what);

  ResourceQuery query_;
  HttpClient& http_;
  WatchHandler& handler_;
  ApiCounters& counters_;
  Log log_;
  std::mt19937 random_;
  std::string resourceVersion_;
  Backoff backoff_;
  std::chrono::milliseconds nextBackoff_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable wake_;
};

}  // namespace svcnft::source
