// The Kubernetes API source without a server: JSON decoding into the manifest
// tree, kubeconfig reading, the reflector's list/watch protocol against scripted
// answers (pages, bookmarks, 410, garbage, 429/500), and ApiSource filing objects
// into the inventory (lists replace, deletes delete, invalid objects are skipped
// and keep their last good version).
#include "source/api_source.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>
#include <thread>

#include "manifest/json_tree.h"
#include "source/kubeconfig.h"
#include "source/reflector.h"

using namespace svcnft;
using namespace svcnft::source;

namespace {

// One scripted answer: the request must contain `expect`; the body arrives in
// `chunks` (a watch's lines may be cut anywhere).
struct Answer {
  Answer(std::string expect, long status, std::vector<std::string> chunks,
         std::optional<double> retryAfter = std::nullopt, bool cutMidStream = false)
      : expect(std::move(expect)),
        status(status),
        chunks(std::move(chunks)),
        retryAfter(retryAfter),
        cutMidStream(cutMidStream) {}
  std::string expect;
  long status;
  std::vector<std::string> chunks;
  std::optional<double> retryAfter;
  bool cutMidStream;  // the connection drops after the chunks
};

class ScriptedHttp : public HttpClient {
 public:
  explicit ScriptedHttp(std::deque<Answer> script) : script_(std::move(script)) {}
  std::vector<std::string> requests;

  HttpResponse get(const std::string& q, const std::function<bool(std::string_view)>& onData,
                   RequestLimits, const std::atomic<bool>& stop) override {
    requests.push_back(q);
    HttpResponse r;
    if (script_.empty()) {
      // The script is over: block like an idle watch until stopped.
      while (!stop) std::this_thread::sleep_for(std::chrono::milliseconds(2));
      r.error = "stopped";
      return r;
    }
    Answer a = std::move(script_.front());
    script_.pop_front();
    CHECK_THAT(q, Catch::Contains(a.expect));
    r.status = a.status;
    r.retryAfterSeconds = a.retryAfter;
    for (const auto& c : a.chunks) {
      if (a.status >= 200 && a.status < 300) {
        if (!onData(c)) return r;
      } else {
        r.body += c;
      }
    }
    if (a.cutMidStream) {
      r.status = 0;
      r.error = "transfer closed with outstanding read data remaining";
    }
    return r;
  }

 private:
  std::deque<Answer> script_;
};

struct Counters : ApiCounters {
  int lists = 0, watches = 0, errors = 0, invalid = 0;
  void apiList(const std::string&) override { ++lists; }
  void apiWatchRestart(const std::string&) override { ++watches; }
  void apiError(const std::string&) override { ++errors; }
  void apiInvalidObject(const std::string&) override { ++invalid; }
};

// Records what the reflector hands over, as text; stops it after `stopAfter` calls
// of object() (or when the script runs out and the fake blocks).
struct Recorder : WatchHandler {
  std::vector<std::string> calls;
  void beginList() override { calls.push_back("begin"); }
  void object(WatchEventType t, const manifest::YamlNode& o) override {
    const char* type = t == WatchEventType::kAdded      ? "ADDED"
                       : t == WatchEventType::kModified ? "MODIFIED"
                                                        : "DELETED";
    calls.push_back(std::string(type) + " " + std::string(o["metadata"]["name"].scalar()));
  }
  void endList(bool complete) override { calls.push_back(complete ? "end" : "end-failed"); }
  void contact(bool) override {}
};

std::string svcJson(const std::string& name, const std::string& rv, const std::string& extra = "") {
  return R"({"metadata":{"name":")" + name + R"(","namespace":"default","resourceVersion":")" + rv +
         R"("},"spec":{"clusterIP":"198.18.100.1","ports":[{"port":80,"protocol":"TCP"}])" + extra +
         "}}";
}
std::string event(const std::string& type, const std::string& object) {
  return R"({"type":")" + type + R"(","object":)" + object + "}\n";
}

// Runs a reflector over `script` until the script is done (the fake then blocks).
std::vector<std::string> reflect(std::deque<Answer> script, Counters& counters,
                                 std::vector<std::string>* requests = nullptr) {
  const std::size_t steps = script.size();
  ScriptedHttp http(std::move(script));
  Recorder rec;
  Reflector r(
      {"services", "/api/v1/services", "labelSelector=x"}, http, rec, counters,
      [](const std::string&) {},
      Backoff{std::chrono::milliseconds(1), std::chrono::milliseconds(4)});
  std::thread t([&] { r.run(); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (http.requests.size() <= steps && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  r.stop();
  t.join();
  if (requests) *requests = http.requests;
  return rec.calls;
}

}  // namespace

TEST_CASE("JSON decodes into the tree the manifest parsers read", "[api]") {
  manifest::YamlDocument doc;
  REQUIRE_FALSE(manifest::parseJson(R"({"a":"80","b":80,"c":true,"d":null,"e":[1.5,"x"]})", doc));
  const auto root = doc.root();
  CHECK(root["a"].quoted());
  CHECK(root["a"].scalar() == "80");
  CHECK_FALSE(root["b"].quoted());
  CHECK(root["b"].scalar() == "80");
  CHECK(root["c"].scalar() == "true");
  CHECK(root["d"].isNull());
  CHECK(root["e"].size() == 2);
  CHECK(root["e"][1].scalar() == "x");
  CHECK(manifest::parseJson(R"({"a": )", doc).has_value());
  CHECK(manifest::parseJson("{\"a\": \"\xff\"}", doc).has_value());  // invalid UTF-8
}

TEST_CASE("kubeconfig: current context, relative paths, data fields, refusals", "[api]") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("svcnft-kc-" + std::to_string(getpid()));
  fs::create_directories(dir);
  auto write = [&](const std::string& text) {
    std::ofstream(dir / "config") << text;
    return loadKubeconfig((dir / "config").string());
  };
  auto c = write(R"(apiVersion: v1
kind: Config
current-context: b
clusters:
- {name: one, cluster: {server: "https://198.18.0.250:6443/", certificate-authority: pki/ca.crt}}
contexts:
- {name: a, context: {cluster: none, user: none}}
- {name: b, context: {cluster: one, user: me}}
users:
- {name: me, user: {client-certificate-data: aGVsbG8=, client-key: /abs/key.pem, tokenFile: tok}}
)");
  REQUIRE(c.ok());
  CHECK(c->server == "https://198.18.0.250:6443");
  CHECK(c->caFile == (dir / "pki/ca.crt").string());
  CHECK(c->certData == "hello");
  CHECK(c->keyFile == "/abs/key.pem");
  CHECK(c->tokenFile == (dir / "tok").string());
  std::ofstream(dir / "tok") << "s3cret\n";
  CHECK(*bearerToken(*c) == "s3cret");
  std::ofstream(dir / "tok") << "rotated\n";  // read again every time
  CHECK(*bearerToken(*c) == "rotated");

  auto insecure = write(R"(current-context: a
contexts: [{name: a, context: {cluster: c}}]
clusters: [{name: c, cluster: {server: "https://x:1", insecure-skip-tls-verify: true}}]
)");
  REQUIRE_FALSE(insecure.ok());
  CHECK_THAT(insecure.error().message, Catch::Contains("insecure-skip-tls-verify"));
  auto plain = write(R"(current-context: a
contexts: [{name: a, context: {cluster: c}}]
clusters: [{name: c, cluster: {server: "http://x:1"}}]
)");
  CHECK_FALSE(plain.ok());
  auto broken = write("current-context: [a\n");
  REQUIRE_FALSE(broken.ok());
  CHECK_THAT(broken.error().message, Catch::Contains("config:"));

  auto noPod = inClusterConfig({}, dir.string());
  CHECK_FALSE(noPod.ok());
  std::ofstream(dir / "token") << "t";
  std::ofstream(dir / "ca.crt") << "pem";
  auto pod = inClusterConfig(
      {{"KUBERNETES_SERVICE_HOST", "2001:db8::1"}, {"KUBERNETES_SERVICE_PORT", "443"}},
      dir.string());
  REQUIRE(pod.ok());
  CHECK(pod->server == "https://[2001:db8::1]:443");
  CHECK(pod->tokenFile == dir.string() + "/token");
  fs::remove_all(dir);
}

TEST_CASE("reflector: paged list, then watch events cut anywhere, bookmarks, clean end", "[api]") {
  Counters counters;
  std::vector<std::string> requests;
  const std::string stream = event("ADDED", svcJson("c", "11")) +
                             event("BOOKMARK", R"({"metadata":{"resourceVersion":"15"}})") +
                             event("MODIFIED", svcJson("a", "16")) +
                             event("DELETED", svcJson("b", "17"));
  auto calls = reflect(
      {
          {"limit=500",
           200,
           {R"({"metadata":{"continue":"tok/1"},"items":[)" + svcJson("a", "3") + "]}"}},
          {"continue=tok%2F1",
           200,
           {R"({"metadata":{"resourceVersion":"10"},"items":[)" + svcJson("b", "4") + "]}"}},
          {"resourceVersion=10",
           200,
           {stream.substr(0, 7), stream.substr(7, 100), stream.substr(107)}},
          {"resourceVersion=17", 200, {}},  // a clean end: watch again from the last version
      },
      counters, &requests);
  CHECK(calls == std::vector<std::string>{"begin", "ADDED a", "ADDED b", "end", "ADDED c",
                                          "MODIFIED a", "DELETED b"});
  CHECK(counters.lists == 1);
  CHECK(counters.errors == 0);
  CHECK_THAT(requests[2], Catch::Contains("watch=true&allowWatchBookmarks=true"));
  CHECK_THAT(requests[2], Catch::Contains("labelSelector=x"));
  CHECK_THAT(requests[2], Catch::Contains("timeoutSeconds="));
}

TEST_CASE("reflector: 410 Expired lists again, garbage lists again after an error", "[api]") {
  Counters counters;
  const std::string list = R"({"metadata":{"resourceVersion":"10"},"items":[]})";
  auto calls = reflect(
      {
          {"limit=500", 200, {list}},
          {"watch=true",
           200,
           {event("ERROR",
                  R"({"kind":"Status","status":"Failure","reason":"Expired","code":410})")}},
          {"limit=500", 200, {list}},
          {"watch=true", 200, {event("ADDED", svcJson("a", "11")) + "{\"type\": \"ADD\n"}},
          {"limit=500", 200, {list}},
          {"watch=true", 410, {R"({"kind":"Status","code":410})"}},
          {"limit=500", 200, {list}},
      },
      counters);
  CHECK(calls == std::vector<std::string>{"begin", "end", "begin", "end", "ADDED a", "begin", "end",
                                          "begin", "end"});
  CHECK(counters.lists == 4);
  CHECK(counters.errors == 1);  // the garbage line
}

TEST_CASE("reflector: a cut stream and a 500 watch again from the same version", "[api]") {
  Counters counters;
  std::vector<std::string> requests;
  auto calls = reflect(
      {
          {"limit=500", 200, {R"({"metadata":{"resourceVersion":"10"},"items":[]})"}},
          {"resourceVersion=10",
           200,
           {event("ADDED", svcJson("a", "12")), "{\"type\":\"MOD"},
           {},
           true},
          {"resourceVersion=12", 500, {R"({"message":"etcdserver: leader changed"})"}},
          {"resourceVersion=12", 200, {event("MODIFIED", svcJson("a", "13"))}},
      },
      counters, &requests);
  CHECK(calls == std::vector<std::string>{"begin", "end", "ADDED a", "MODIFIED a"});
  CHECK(counters.lists == 1);
  CHECK(counters.errors == 2);
}

TEST_CASE("reflector: 429 waits for its Retry-After, a failed list page drops the list", "[api]") {
  Counters counters;
  const auto start = std::chrono::steady_clock::now();
  auto calls = reflect(
      {
          {"limit=500",
           200,
           {R"({"metadata":{"continue":"c"},"items":[)" + svcJson("a", "1") + "]}"}},
          {"continue=c", 429, {"{}"}, 0.3},
          {"limit=500", 200, {R"({"metadata":{"resourceVersion":"5"},"items":[]})"}},
      },
      counters);
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(300));
  CHECK(calls == std::vector<std::string>{"begin", "ADDED a", "end-failed", "begin", "end"});
  CHECK(counters.errors == 1);
}

TEST_CASE("ApiSource: ready after both lists, lists replace, invalid objects skipped", "[api]") {
  Counters counters;
  const std::string slice =
      R"({"metadata":{"name":"a-1","namespace":"default","resourceVersion":"7",)"
      R"("labels":{"kubernetes.io/service-name":"a"}},"addressType":"IPv4",)"
      R"("endpoints":[{"addresses":["198.18.1.11"]}],"ports":[{"name":"","port":80}]})";
  const std::string badSlice =
      R"({"metadata":{"name":"b-1","namespace":"default","labels":{"kubernetes.io/service-name":"b"}},)"
      R"("addressType":"IPv4","endpoints":[{"addresses":["198.18.1.300"]}]})";
  const std::string node =
      R"({"metadata":{"name":"node1","labels":{"topology.kubernetes.io/zone":"z1"}},)"
      R"("spec":{"podCIDRs":["198.18.1.0/24"]},"status":{"addresses":[)"
      R"({"type":"ExternalIP","address":"198.18.9.1"},{"type":"InternalIP","address":"198.18.0.1"},)"
      R"({"type":"InternalIP","address":"2001:db8::1"}]}})";
  auto list = [](const std::string& items) {
    return R"({"metadata":{"resourceVersion":"9"},"items":[)" + items + "]}";
  };
  // Services: a list with a, b and an invalid c, then a watch that deletes b.
  std::deque<Answer> services{
      {"/api/v1/services?limit=500",
       200,
       {list(svcJson("a", "1") + "," + svcJson("b", "2") + "," +
             svcJson("c", "3", R"(,"type":"NodePort","sessionAffinity":"Sticky")"))}},
  };
  std::deque<Answer> slices{{"endpointslices?limit=500", 200, {list(slice + "," + badSlice)}}};
  std::deque<Answer> nodes{{"fieldSelector=metadata.name%3Dnode1", 200, {list(node)}}};
  std::vector<std::deque<Answer>> scripts{services, slices, nodes};
  std::size_t next = 0;
  ApiSource src(
      "https://198.18.0.250:6443", [&] { return std::make_unique<ScriptedHttp>(scripts[next++]); },
      "node1", NodeConfig{}, counters, [](const std::string&) {});
  CHECK_FALSE(src.ready());
  src.start();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!src.ready() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  REQUIRE(src.ready());
  CHECK(src.consumeEvents());
  Inventory inventory;
  Diagnostics problems;
  auto changed = src.refresh(inventory, problems);
  src.stop();
  CHECK(changed == std::set<std::string>{"default/a", "default/b"});
  CHECK(inventory.serviceKeys() == std::vector<std::string>{"default/a", "default/b"});
  CHECK(inventory.lookup("default/a").slices.size() == 1);
  CHECK(inventory.lookup("default/b").slices.empty());  // its slice was invalid
  CHECK(counters.invalid == 2);
  std::string messages;
  for (const auto& d : problems.all()) messages += d.format() + "\n";
  CHECK_THAT(messages, Catch::Contains("/api/v1/namespaces/default/services/c: error: "));
  CHECK_THAT(messages, Catch::Contains("spec.sessionAffinity"));
  CHECK_THAT(messages, Catch::Contains("/endpointslices/b-1: error: EndpointSlice default/b-1: "
                                       "endpoints[0].addresses[0]"));
  REQUIRE(src.node());
  CHECK(src.node()->zone == "z1");
  REQUIRE(src.node()->addresses.size() == 2);
  CHECK(src.node()->addresses[0].str() == "198.18.0.1");  // InternalIP before ExternalIP
  CHECK(src.node()->addresses[1].str() == "2001:db8::1");
  REQUIRE(src.node()->podCIDRs.size() == 1);
}

TEST_CASE("a Node being deleted or tainted for deletion is leaving", "[api]") {
  auto facts = [](const std::string& json) {
    manifest::YamlDocument doc;
    REQUIRE_FALSE(manifest::parseJson(json, doc).has_value());
    Diagnostics d;
    const NodeFacts f = manifest::parseNodeObject(doc.root(), "/api/v1/nodes/n1", d);
    CHECK_FALSE(d.hasErrors());
    return f;
  };
  CHECK_FALSE(facts(R"({"metadata":{"name":"n1"},"spec":{"taints":[{"key":"other"}]}})").leaving);
  CHECK(facts(R"({"metadata":{"name":"n1","deletionTimestamp":"2026-12-05T01:00:00Z"}})").leaving);
  CHECK(
      facts(
          R"({"metadata":{"name":"n1"},"spec":{"taints":[{"key":"ToBeDeletedByClusterAutoscaler",)"
          R"("value":"1733360000","effect":"NoSchedule"}]}})")
          .leaving);
}
