// The fast YAML scanner against yaml-cpp: whatever the scanner accepts must give
// yaml-cpp's tree (kinds, scalars, quoting, keys, positions), and what manifests
// are made of must be accepted (or the fast path would silently go unused).
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "manifest/yaml_tree.h"

namespace svcnft::manifest {
namespace {

std::string describe(const YamlNode& n) {
  switch (n.kind()) {
    case YamlKind::kUndefined: return "undefined";
    case YamlKind::kNull: return "null";
    case YamlKind::kScalar:
      return std::string(n.quoted() ? "quoted " : "plain ") + "\"" + std::string(n.scalar()) + "\"";
    case YamlKind::kSequence: return "sequence of " + std::to_string(n.size());
    case YamlKind::kMap: return "map of " + std::to_string(n.size());
  }
  return "?";
}

// Empty when equal; otherwise the path of the first difference and both sides.
std::string difference(const YamlNode& a, const YamlNode& b, const std::string& path) {
  if (a.kind() != b.kind() || a.scalar() != b.scalar() || a.quoted() != b.quoted() ||
      a.size() != b.size()) {
    return path + ": " + describe(a) + " vs " + describe(b);
  }
  // A null's position is where yaml-cpp met the next token; nothing reads it.
  if (!a.isNull() && (a.mark().line != b.mark().line || a.mark().column != b.mark().column)) {
    return path + ": at " + std::to_string(a.mark().line) + ":" + std::to_string(a.mark().column) +
           " vs " + std::to_string(b.mark().line) + ":" + std::to_string(b.mark().column);
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a.isMap()) {
      if (a.keyAt(i) != b.keyAt(i)) {
        return path + ": key \"" + std::string(a.keyAt(i)) + "\" vs \"" +
               std::string(b.keyAt(i)) + "\"";
      }
      auto d = difference(a.valueAt(i), b.valueAt(i), path + "." + std::string(a.keyAt(i)));
      if (!d.empty()) return d;
    } else {
      auto d = difference(a[i], b[i], path + "[" + std::to_string(i) + "]");
      if (!d.empty()) return d;
    }
  }
  return "";
}

// Parses with both; returns whether the scanner accepted. When it did, the trees
// must be equal.
bool scannerAgrees(const std::string& text) {
  YamlDocument fast, full;
  const bool accepted = parseYamlSubset(text, fast);
  auto err = parseYamlFull(text, full);
  if (accepted) {
    INFO(text);
    REQUIRE_FALSE(err.has_value());  // the scanner must never accept what yaml-cpp rejects
    CHECK(difference(fast.root(), full.root(), "$") == "");
  }
  return accepted;
}

const char* const kKubectlService = R"(apiVersion: v1
kind: Service
metadata:
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{"apiVersion":"v1","kind":"Service","metadata":{"annotations":{},"name":"web","namespace":"default"}}'
    svcnft.io/weights: '{"198.18.1.10": 2, "198.18.1.11": 0}'
  creationTimestamp: "2026-01-02T03:04:05Z"
  labels:
    app.kubernetes.io/name: web   # a comment after a value
  name: web
  namespace: default
  resourceVersion: "12345"
  uid: 6f1c1d0e-7a53-4a9e-9d39-0c8f1c6a1b2c
spec:
  clusterIP: 198.18.128.10
  clusterIPs:
  - 198.18.128.10
  externalTrafficPolicy: Cluster
  internalTrafficPolicy: Cluster
  ipFamilies:
  - IPv4
  ipFamilyPolicy: SingleStack
  ports:
  - name: http
    nodePort: 30080
    port: 80
    protocol: TCP
    targetPort: http
  - name: "dns"
    port: 53
    protocol: UDP
    targetPort: 5353
  selector:
    app: web
  sessionAffinity: None
  type: NodePort
status:
  loadBalancer: {}
)";

const char* const kJsonSlice = R"({
  "apiVersion": "discovery.k8s.io/v1",
  "kind": "EndpointSlice",
  "metadata": {"name": "web-abc", "namespace": "default",
               "labels": {"kubernetes.io/service-name": "web"}},
  "addressType": "IPv4",
  "endpoints": [
    {"addresses": ["198.18.1.10"], "conditions": {"ready": true, "serving": true},
     "nodeName": "n1", "zone": null},
    {"addresses": ["198.18.1.11"], "conditions": {"ready": false}}
  ],
  "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
  "note": "escapes: \"quoted\" \\ \/ \u00e9 \u20ac \n"
}
)";

TEST_CASE("the scanner reads manifests exactly as yaml-cpp does", "[yaml]") {
  CHECK(scannerAgrees(kKubectlService));
  CHECK(scannerAgrees(kJsonSlice));
  CHECK(scannerAgrees(std::string("---\n") + kKubectlService + "...\n"));
  CHECK(scannerAgrees("# only a comment\n"));
  CHECK(scannerAgrees(""));
}

TEST_CASE("the scanner agrees with yaml-cpp on block and flow shapes", "[yaml]") {
  const std::vector<std::string> accepted = {
      "a: 1\nb: two\n",
      "a:\n  b:\n    c: d\n  e: f\ng: h\n",
      "a:\n- 1\n- 2\nb: 3\n",
      "a:\n  - x: 1\n    y: 2\n  - z\n",
      "- - a\n  - b\n- c\n",
      "- \n- a\n-\n",
      "a:\nb: ~\nc: null\nd: Null\ne: NULL\nf: 'null'\ng: \"~\"\n",
      "a: [1, 2, {b: c, d: [e]}]\n",
      "a: {}\nb: []\nc: { }\n",
      "a: 'it''s'\nb: \"x\\ty\"\n",
      "\"quoted key\": 1\n'single': 2\n",
      "a: b:c\nd: http://x/y\ne: a#b\nf: x # c\n",
      "a: -1\nb: -x\nc: 1.5\nd: true\n",
      "a:   # comment\n  b: 1\n",
      "a:\n  # comment\n  b: 1\n\n  c: 2\n",
      "  a: 1\n  b: 2\n",
      "{\"a\":1,\"b\":[true,false,null]}\n",
      "[\n  1,\n  2\n]\n",
      "{a: 1,\n b: 2}\n",
      "a: {b: }\n",
      "key with spaces: v\n",
      "a: \"\"\nb: ''\n",
  };
  for (const auto& text : accepted) {
    INFO(text);
    CHECK(scannerAgrees(text));
  }
}

TEST_CASE("the scanner leaves the rest of YAML to yaml-cpp", "[yaml]") {
  // Each is valid YAML outside the scanner's subset: it must decline, and
  // parseYaml must still give yaml-cpp's tree.
  const std::vector<std::string> declined = {
      "a: &x 1\nb: *x\n",
      "a: !!str 80\n",
      "a: |\n  line one\n  line two\n",
      "a: >\n  folded\n",
      "a: plain\n  continued\n",
      "a: \"multi\n  line\"\n",
      "a:\tb\n",
      "a: 1\r\nb: 2\r\n",
      "%YAML 1.2\n---\na: 1\n",
      "--- {a: 1}\n",
      "? complex\n: key\n",
      "a: [1, 2,]\n",
      "a: \"\\x41\"\n",
      "a: [b, c\n  d]\n",
      // Non-ASCII and control characters are yaml-cpp's to judge (UTF-8 validity,
      // YAML's printable set), as are null-like keys, explicit "?" keys and
      // implicit keys past 1024 characters.
      "a: caf\xc3\xa9\n",
      "a: \x15x\n",
      "~: x\n",
      "a: [?]\n",
      std::string(1100, 'k') + ": v\n",
  };
  for (const auto& text : declined) {
    INFO(text);
    YamlDocument fast, viaParse, full;
    CHECK_FALSE(parseYamlSubset(text, fast));
    auto e1 = parseYaml(text, viaParse);
    auto e2 = parseYamlFull(text, full);
    CHECK(e1.has_value() == e2.has_value());
    if (!e1 && !e2) CHECK(difference(viaParse.root(), full.root(), "$") == "");
  }
}

TEST_CASE("malformed text is never accepted by the scanner", "[yaml]") {
  const std::vector<std::string> malformed = {
      "a: b: c\n", "a: 1\n  b: 2\n", "a: 1\n- b\n", "a: [1, 2\n", "a: {b: 1\n",
      "a: \"open\n", "- a\nb: 1\n", "a: 'x' y\n",
  };
  for (const auto& text : malformed) {
    INFO(text);
    YamlDocument fast;
    CHECK_FALSE(parseYamlSubset(text, fast));
  }
}

// Every document the repository ships (examples, rules, goldens' inputs) takes
// the fast path and reads as yaml-cpp reads it.
TEST_CASE("every shipped manifest takes the fast path", "[yaml]") {
  namespace fs = std::filesystem;
  int documents = 0;
  for (const char* dir : {"examples", "rules"}) {
    for (const auto& entry : fs::recursive_directory_iterator(fs::path(SVCNFT_SOURCE_DIR) / dir)) {
      const auto ext = entry.path().extension();
      if (ext != ".yaml" && ext != ".json") continue;
      std::ifstream in(entry.path());
      std::stringstream ss;
      ss << in.rdbuf();
      // Documents split at column-0 "---", as the loader does.
      std::string text = ss.str(), doc;
      std::istringstream lines(text);
      std::string line;
      auto flush = [&] {
        if (doc.find_first_not_of(" \n") == std::string::npos) return;
        INFO(entry.path().string());
        CHECK(scannerAgrees(doc));
        ++documents;
      };
      while (std::getline(lines, line)) {
        if (line == "---" || line.starts_with("--- ")) {
          flush();
          doc.clear();
        }
        doc += line + "\n";
      }
      flush();
    }
  }
  CHECK(documents > 30);
}

}  // namespace
}  // namespace svcnft::manifest
