// Files and directories → documents → per-kind parsers.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "spec/loader.h"
#include "spec/parsers.h"

namespace svcnft::spec {

namespace fs = std::filesystem;

namespace {

void parseDocument(const YamlNode& doc, const std::string& file, int lineOffset, Manifests& out,
                   Diagnostics& diags) {
  if (!doc.defined() || doc.isNull()) return;  // empty document between "---"
  FieldReader r(diags, file, "document", doc, lineOffset);
  if (!doc.isMap()) {
    r.error(doc, "(top level)", "expected a Kubernetes object (a map)");
    return;
  }
  const std::string kind = r.string(doc, "kind", "kind").value_or("");
  const std::string api = r.string(doc, "apiVersion", "apiVersion").value_or("");
  r.setObject(kind.empty() ? "document" : kind);
  if (kind.empty()) {
    r.warning(doc, "kind", "missing; not a Kubernetes object, ignored");
    return;
  }

  if (kind == "List" || (kind.size() > 4 && kind.ends_with("List"))) {
    YamlNode items = r.sequence(doc, "items", "items");
    if (!items.defined()) return;
    for (std::size_t i = 0; i < items.size(); ++i) parseDocument(items[i], file, lineOffset, out, diags);
    return;
  }
  if (kind == "Service" && (api == "v1" || api.empty())) {
    if (auto s = parseService(r, doc)) out.services.push_back(std::move(*s));
  } else if (kind == "EndpointSlice" && api.starts_with("discovery.k8s.io/")) {
    if (auto s = parseEndpointSlice(r, doc)) out.slices.push_back(std::move(*s));
  } else if (kind == "Endpoints" && (api == "v1" || api.empty())) {
    for (auto& s : parseLegacyEndpoints(r, doc)) out.slices.push_back(std::move(s));
  }
  // Other kinds (Deployments, ConfigMaps, ...) are not ours: ignored on purpose, so
  // a whole `kubectl get -o yaml` dump can be given as is.
}

bool readFile(const std::string& path, std::string& text, Diagnostics& diags) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    diags.error({path, 0, 0}, "cannot read file");
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  text = ss.str();
  return true;
}

bool isManifestFile(const fs::path& p) {
  const std::string ext = p.extension().string();
  return ext == ".yaml" || ext == ".yml" || ext == ".json";
}

// Splits a stream into its documents at "---" / "..." lines. A marker at column 0
// can only be a document boundary (YAML forbids it inside scalars), so this is
// exact; it lets each document be parsed and dropped in turn, which keeps memory
// at one document instead of the whole file (a parsed tree costs several times the text).
struct DocumentText {
  std::string_view text;
  int firstLine = 0;  // 0-based line of the document's first line in the file
};

bool isMarker(std::string_view line, std::string_view marker) {
  if (!line.starts_with(marker)) return false;
  return line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r';
}

std::vector<DocumentText> splitDocuments(std::string_view text) {
  std::vector<DocumentText> docs;
  std::size_t start = 0, pos = 0;
  int line = 0, startLine = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view l = text.substr(pos, end - pos);
    if (isMarker(l, "---") && pos > start) {
      docs.push_back({text.substr(start, pos - start), startLine});
      start = pos;
      startLine = line;
    } else if (isMarker(l, "...")) {
      docs.push_back({text.substr(start, end - start), startLine});
      start = std::min(end + 1, text.size());
      startLine = line + 1;
    }
    pos = end + 1;
    ++line;
  }
  if (start < text.size()) docs.push_back({text.substr(start), startLine});
  return docs;
}

}  // namespace

namespace {

// Parses documents [first, last) into `out` and `diags`, in order.
void parseDocuments(const std::vector<DocumentText>& docs, std::size_t first, std::size_t last,
                    const std::string& fileName, Manifests& out, Diagnostics& diags) {
  YamlDocument doc;  // reused: its buffers keep their capacity from one document to the next
  for (std::size_t i = first; i < last; ++i) {
    const DocumentText& d = docs[i];
    if (auto err = parseYaml(d.text, doc)) {
      diags.error({fileName, err->mark.line < 0 ? 0 : err->mark.line + 1 + d.firstLine,
                   err->mark.line < 0 ? 0 : err->mark.column + 1},
                  "malformed YAML/JSON: " + err->message);
      continue;  // the other documents still load, and still report
    }
    parseDocument(doc.root(), fileName, d.firstLine, out, diags);
  }
}

// Below this many documents one thread is quicker than starting more.
constexpr std::size_t kDocumentsPerThread = 256;

}  // namespace

void parseManifestText(const std::string& text, const std::string& fileName, Manifests& out,
                       Diagnostics& diags) {
  const std::vector<DocumentText> docs = splitDocuments(text);
  const std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
  const std::size_t workers =
      std::min(cores, std::max<std::size_t>(1, docs.size() / kDocumentsPerThread));
  if (workers <= 1) {
    parseDocuments(docs, 0, docs.size(), fileName, out, diags);
    return;
  }
  // Documents are independent (neither parser keeps global state), so big files
  // are parsed in contiguous slices on every core and joined in document order:
  // the result and its diagnostics are the same as one thread's.
  std::vector<Manifests> parts(workers);
  std::vector<Diagnostics> partDiags(workers);
  std::vector<std::thread> threads;
  const std::size_t per = (docs.size() + workers - 1) / workers;
  for (std::size_t w = 0; w < workers; ++w) {
    const std::size_t first = w * per, last = std::min(docs.size(), first + per);
    threads.emplace_back(parseDocuments, std::cref(docs), first, last, std::cref(fileName),
                         std::ref(parts[w]), std::ref(partDiags[w]));
  }
  for (auto& t : threads) t.join();
  for (std::size_t w = 0; w < workers; ++w) {
    for (auto& svc : parts[w].services) out.services.push_back(std::move(svc));
    for (auto& slice : parts[w].slices) out.slices.push_back(std::move(slice));
    for (const auto& d : partDiags[w].all()) {
      if (d.severity == Severity::kError) {
        diags.error(d.where, d.message);
      } else {
        diags.warning(d.where, d.message);
      }
    }
  }
}

Manifests loadManifests(const std::vector<std::string>& paths, Diagnostics& diags) {
  Manifests out;
  for (const auto& path : paths) {
    std::error_code ec;
    std::vector<std::string> files;
    if (fs::is_directory(path, ec)) {
      for (const auto& entry : fs::directory_iterator(path, ec)) {
        if (entry.is_regular_file() && isManifestFile(entry.path())) {
          files.push_back(entry.path().string());
        }
      }
      std::sort(files.begin(), files.end());
    } else if (fs::exists(path, ec)) {
      files.push_back(path);
    } else {
      diags.error({path, 0, 0}, "no such file or directory");
      continue;
    }
    for (const auto& f : files) {
      std::string text;
      if (readFile(f, text, diags)) parseManifestText(text, f, out, diags);
    }
  }
  return out;
}

NodeConfig loadNodeConfig(const std::string& path, Diagnostics& diags) {
  std::string text;
  if (!readFile(path, text, diags)) return NodeConfig{};
  return parseNodeConfigText(text, path, diags);
}

Inputs loadInputs(const std::vector<std::string>& paths, const std::string& nodeConfigPath,
                  Diagnostics& diags) {
  Inputs in;
  if (!nodeConfigPath.empty()) in.node = loadNodeConfig(nodeConfigPath, diags);
  Manifests m = loadManifests(paths, diags);
  validate(m, in.node, diags);
  in.services = std::move(m.services);
  in.slices = std::move(m.slices);
  return in;
}

}  // namespace svcnft::spec
