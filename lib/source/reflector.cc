#include "source/reflector.h"

#include "manifest/json_tree.h"

namespace svcnft::source {

namespace {

using manifest::YamlDocument;
using manifest::YamlNode;

std::string scalar(const YamlNode& n) { return n.isScalar() ? std::string(n.scalar()) : ""; }

// "the server said: MESSAGE (reason, code)" from a Status body, or its first bytes.
std::string statusText(const std::string& body) {
  YamlDocument doc;
  if (!body.empty() && !manifest::parseJson(body, doc)) {
    const YamlNode s = doc.root();
    const std::string message = scalar(s["message"]), reason = scalar(s["reason"]);
    if (!message.empty()) return message + (reason.empty() ? "" : " (" + reason + ")");
  }
  return body.substr(0, 200);
}

}  // namespace

Reflector::Reflector(ResourceQuery query, HttpClient& http, WatchHandler& handler,
                     ApiCounters& counters, Log log, Backoff backoff, uint32_t seed)
    : query_(std::move(query)),
      http_(http),
      handler_(handler),
      counters_(counters),
      log_(std::move(log)),
      random_(seed),
      backoff_(backoff),
      nextBackoff_(backoff.first) {}

void Reflector::stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  wake_.notify_all();
}

bool Reflector::backoff(std::optional<double> atLeastSeconds) {
  // Jitter: up to half the delay again, so nodes that lost the server together do
  // not come back in step.
  std::uniform_real_distribution<double> jitter(1.0, 1.5);
  auto delay = std::min<std::chrono::milliseconds>(
      backoff_.max, std::chrono::milliseconds(static_cast<long long>(
                        static_cast<double>(nextBackoff_.count()) * jitter(random_))));
  if (atLeastSeconds && *atLeastSeconds > 0) {
    delay = std::max(delay, std::chrono::milliseconds(
                                static_cast<long long>(std::min(*atLeastSeconds, 300.0) * 1000)));
  }
  nextBackoff_ = std::min(backoff_.max, nextBackoff_ * 2);
  std::unique_lock<std::mutex> l(mu_);
  wake_.wait_for(l, delay, [this] { return stop_.load(); });
  return !stop_;
}

Reflector::Outcome Reflector::failed(const HttpResponse& r, const std::string& what) {
  counters_.apiError(query_.resource);
  std::string why = r.status == 0 ? r.error : "HTTP " + std::to_string(r.status);
  if (r.status != 0 && !r.body.empty()) why += ": " + statusText(r.body);
  log_(query_.resource + ": " + what + " failed: " + why + "; trying again");
  const bool honoursRetryAfter = r.status == 429 || r.status >= 500;
  if (!backoff(honoursRetryAfter ? r.retryAfterSeconds : std::nullopt)) return Outcome::kStopped;
  return Outcome::kRetry;
}

Reflector::Outcome Reflector::list() {
  handler_.beginList();
  std::string continueToken, version;
  YamlDocument doc;
  for (;;) {
    std::string q = query_.path + "?limit=" + std::to_string(kPageSize);
    if (!query_.selectors.empty()) q += "&" + query_.selectors;
    if (!continueToken.empty()) q += "&continue=" + urlEncoded(continueToken);
    std::string body;
    const HttpResponse r = http_.get(
        q,
        [&body](std::string_view data) {
          body.append(data);
          return true;
        },
        {120, 30}, stop_);
    if (stop_) {
      handler_.endList(false);
      return Outcome::kStopped;
    }
    if (r.status == 410 && !continueToken.empty()) {
      // The continue token expired between pages: the list starts over.
      handler_.endList(false);
      log_(query_.resource + ": list continuation expired; listing again");
      return Outcome::kRelist;
    }
    if (r.status != 200) {
      handler_.endList(false);
      return failed(r, "list");
    }
    if (auto err = manifest::parseJson(body, doc); err || !doc.root().isMap()) {
      handler_.endList(false);
      HttpResponse bad = r;
      bad.status = 0;
      bad.error = "the answer is not a JSON list" + (err ? ": " + err->message : "");
      return failed(bad, "list");
    }
    const YamlNode root = doc.root();
    const YamlNode items = root["items"];
    for (std::size_t i = 0; i < items.size(); ++i) {
      handler_.object(WatchEventType::kAdded, items[i]);
    }
    version = scalar(root["metadata"]["resourceVersion"]);
    continueToken = scalar(root["metadata"]["continue"]);
    handler_.contact(false);
    if (continueToken.empty()) break;
  }
  resourceVersion_ = version;
  handler_.endList(true);
  counters_.apiList(query_.resource);
  resetBackoff();
  return Outcome::kOk;
}

Reflector::Outcome Reflector::watch() {
  // client-go spreads watch timeouts over [5, 10) minutes so watches do not all
  // end together.
  std::uniform_int_distribution<int> spread(300, 599);
  std::string q = query_.path + "?watch=true&allowWatchBookmarks=true&resourceVersion=" +
                  urlEncoded(resourceVersion_) +
                  "&timeoutSeconds=" + std::to_string(spread(random_));
  if (!query_.selectors.empty()) q += "&" + query_.selectors;

  std::string pending;  // bytes of a line not complete yet
  std::optional<Outcome> verdict;
  std::string verdictWhy;
  bool delivered = false;
  YamlDocument doc;
  auto onLine = [&](std::string_view line) -> bool {
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) return true;
    if (auto err = manifest::parseJson(line, doc); err || !doc.root().isMap()) {
      verdict = Outcome::kRetry;
      verdictWhy = "a watch event is not JSON" + (err ? ": " + err->message : "");
      return false;
    }
    const YamlNode root = doc.root();
    const std::string type = scalar(root["type"]);
    const YamlNode object = root["object"];
    if (type == "ERROR") {
      const std::string code = scalar(object["code"]);
      if (code == "410") {
        log_(query_.resource + ": watch expired (" + scalar(object["message"]) +
             "); listing again");
        verdict = Outcome::kRelist;
        return false;
      }
      verdict = Outcome::kRetry;
      verdictWhy = "the watch sent an error: " + scalar(object["message"]) + " (code " + code + ")";
      return false;
    }
    const std::string version = scalar(object["metadata"]["resourceVersion"]);
    if (type == "ADDED" || type == "MODIFIED" || type == "DELETED") {
      handler_.object(type == "ADDED"      ? WatchEventType::kAdded
                      : type == "MODIFIED" ? WatchEventType::kModified
                                           : WatchEventType::kDeleted,
                      object);
    } else if (type != "BOOKMARK") {
      verdict = Outcome::kRetry;
      verdictWhy = "a watch event of unknown type \"" + type + "\"";
      return false;
    }
    if (!version.empty()) resourceVersion_ = version;
    delivered = true;
    handler_.contact(true);
    return true;
  };

  const auto started = std::chrono::steady_clock::now();
  handler_.contact(true);
  const HttpResponse r = http_.get(
      q,
      [&](std::string_view data) {
        pending.append(data);
        std::size_t start = 0;
        for (std::size_t nl; (nl = pending.find('\n', start)) != std::string::npos;
             start = nl + 1) {
          if (!onLine(std::string_view(pending).substr(start, nl - start))) return false;
        }
        pending.erase(0, start);
        return true;
      },
      {700, 120}, stop_);
  handler_.contact(false);
  if (stop_) return Outcome::kStopped;
  if (delivered) resetBackoff();
  if (verdict == Outcome::kRelist) return Outcome::kRelist;
  if (verdict) {
    // Garbage on the stream: nothing it says can be trusted, so list again.
    HttpResponse bad;
    bad.error = verdictWhy;
    if (failed(bad, "watch") == Outcome::kStopped) return Outcome::kStopped;
    return Outcome::kRelist;
  }
  if (r.status == 410) {
    log_(query_.resource + ": watch answered 410 Gone; listing again");
    return Outcome::kRelist;
  }
  if (r.status == 200 && r.error.empty()) {
    // A clean end (the timeout we asked for): watch again from where we are. One
    // that ends at once with nothing is no progress; wait before the next.
    if (!delivered && std::chrono::steady_clock::now() - started < std::chrono::seconds(1)) {
      if (!backoff(std::nullopt)) return Outcome::kStopped;
    }
    return Outcome::kOk;
  }
  // The connection failed (the server went away, a stream cut mid-line): watch
  // again from the last version we have; a 5xx or 429 likewise, after its wait.
  if (failed(r, "watch") == Outcome::kStopped) return Outcome::kStopped;
  return r.status == 0 || r.status == 429 || r.status >= 500 ? Outcome::kOk : Outcome::kRelist;
}

void Reflector::run() {
  bool listed = false;
  bool watchedBefore = false;
  while (!stop_) {
    if (!listed) {
      const Outcome o = list();
      if (o == Outcome::kStopped) return;
      listed = o == Outcome::kOk;
      continue;
    }
    if (watchedBefore) counters_.apiWatchRestart(query_.resource);
    watchedBefore = true;
    const Outcome o = watch();
    if (o == Outcome::kStopped) return;
    if (o == Outcome::kRelist) listed = false;
  }
}

}  // namespace svcnft::source
