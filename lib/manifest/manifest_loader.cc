// Files and directories → documents → per-kind parsers.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

#include "manifest/kube_proxy_config.h"
#include "manifest/loader.h"
#include "manifest/parsers.h"

namespace svcnft::manifest {

namespace fs = std::filesystem;

namespace {

// "namespace/name" of an object as written, without checking it ("" without a name).
std::string writtenKey(const YamlNode& doc) {
  const YamlNode meta = doc["metadata"];
  if (!meta.isMap()) return "";
  const YamlNode name = meta["name"], ns = meta["namespace"];
  if (!name.isScalar() || name.scalar().empty()) return "";
  const std::string nsText =
      ns.isScalar() && !ns.scalar().empty() ? std::string(ns.scalar()) : std::string("default");
  return nsText + "/" + std::string(name.scalar());
}

void parseDocument(const YamlNode& doc, const std::string& file, int lineOffset, Manifests& out,
                   Diagnostics& diags, std::vector<RefusedObject>* refused) {
  if (!doc.defined() || doc.isNull()) return;  // empty document between "---"
  FieldReader r(diags, file, "document", doc, lineOffset);
  if (!doc.isMap()) {
    r.error(doc, "(top level)", "expected a Kubernetes object (a map)");
    if (refused) refused->push_back({"", "", r.at(doc)});
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
    for (std::size_t i = 0; i < items.size(); ++i)
      parseDocument(items[i], file, lineOffset, out, diags, refused);
    return;
  }
  // An object with any error is left out whole: half of a Service is not a Service.
  const int errorsBefore = diags.errorCount();
  auto leftOut = [&](const char* what, bool identifiable) {
    if (diags.errorCount() == errorsBefore) return false;
    if (refused) refused->push_back({what, identifiable ? writtenKey(doc) : "", r.at(doc)});
    return true;
  };
  if (kind == "Service" && (api == "v1" || api.empty())) {
    auto s = parseService(r, doc);
    if (!leftOut("Service", true) && s) out.services.push_back(std::move(*s));
  } else if (kind == "EndpointSlice" && api.starts_with("discovery.k8s.io/")) {
    auto s = parseEndpointSlice(r, doc);
    if (!leftOut("EndpointSlice", true) && s) out.slices.push_back(std::move(*s));
  } else if (kind == "Endpoints" && (api == "v1" || api.empty())) {
    // Its slices are named after it, not one to one: a bad one counts as unreadable.
    auto slices = parseLegacyEndpoints(r, doc);
    if (!leftOut("Endpoints", false)) {
      for (auto& s : slices) out.slices.push_back(std::move(s));
    }
  } else {
    leftOut("", false);  // the kind or apiVersion field itself was bad
  }
  // Other kinds (Deployments, ConfigMaps, ...) are not ours: ignored on purpose, so
  // a whole `kubectl get -o yaml` dump can be given as is.
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
                    const std::string& fileName, Manifests& out, Diagnostics& diags,
                    std::vector<RefusedObject>* refused) {
  YamlDocument doc;  // reused: its buffers keep their capacity from one document to the next
  for (std::size_t i = first; i < last; ++i) {
    const DocumentText& d = docs[i];
    if (auto err = parseYaml(d.text, doc)) {
      const SourceLocation where{fileName,
                                 err->mark.line < 0 ? 0 : err->mark.line + 1 + d.firstLine,
                                 err->mark.line < 0 ? 0 : err->mark.column + 1};
      diags.error(where, "malformed YAML/JSON: " + err->message);
      if (refused) refused->push_back({"", "", where});
      continue;  // the other documents still load, and still report
    }
    parseDocument(doc.root(), fileName, d.firstLine, out, diags, refused);
  }
}

// Below this many documents one thread is quicker than starting more.
constexpr std::size_t kDocumentsPerThread = 256;

}  // namespace

void parseManifestText(const std::string& text, const std::string& fileName, Manifests& out,
                       Diagnostics& diags, std::vector<RefusedObject>* refused) {
  const std::vector<DocumentText> docs = splitDocuments(text);
  const std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
  const std::size_t workers =
      std::min(cores, std::max<std::size_t>(1, docs.size() / kDocumentsPerThread));
  if (workers <= 1) {
    parseDocuments(docs, 0, docs.size(), fileName, out, diags, refused);
    return;
  }
  // Documents are independent (neither parser keeps global state), so big files
  // are parsed in contiguous slices on every core and joined in document order:
  // the result and its diagnostics are the same as one thread's.
  std::vector<Manifests> parts(workers);
  std::vector<Diagnostics> partDiags(workers);
  std::vector<std::vector<RefusedObject>> partRefused(workers);
  std::vector<std::thread> threads;
  const std::size_t per = (docs.size() + workers - 1) / workers;
  for (std::size_t w = 0; w < workers; ++w) {
    const std::size_t first = w * per, last = std::min(docs.size(), first + per);
    threads.emplace_back(parseDocuments, std::cref(docs), first, last, std::cref(fileName),
                         std::ref(parts[w]), std::ref(partDiags[w]), &partRefused[w]);
  }
  for (auto& t : threads) t.join();
  // Exactly the room needed: grown by doubling, the lists kept up to half again
  // their size (2 MB at 10,000 Services, held by the agent for its lifetime).
  std::size_t services = out.services.size(), slices = out.slices.size();
  for (const auto& part : parts) {
    services += part.services.size();
    slices += part.slices.size();
  }
  out.services.reserve(services);
  out.slices.reserve(slices);
  for (std::size_t w = 0; w < workers; ++w) {
    if (refused) refused->insert(refused->end(), partRefused[w].begin(), partRefused[w].end());
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

bool hasManifestExtension(const std::string& path) {
  const std::string ext = fs::path(path).extension().string();
  return ext == ".yaml" || ext == ".yml" || ext == ".json";
}

std::optional<std::vector<std::string>> listManifestFiles(const std::string& dir,
                                                          Diagnostics& diags) {
  std::vector<std::string> files;
  std::error_code ec;
  fs::directory_iterator it(dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    if (!hasManifestExtension(it->path().string())) continue;
    // Everything with a manifest's name but a directory is read, so that what
    // cannot be read (a symlink loop, a FIFO, no permission) is reported, not skipped.
    std::error_code typeEc;
    if (it->is_directory(typeEc) && !typeEc) continue;
    files.push_back(it->path().string());
  }
  if (ec) {
    diags.error({dir, 0, 0}, "cannot read directory: " + ec.message());
    return std::nullopt;
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::optional<std::string> readRegularFile(const std::string& path, Diagnostics& diags) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below.
  const int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    diags.error({path, 0, 0}, std::string("cannot read file: ") + std::strerror(errno));
    return std::nullopt;
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    diags.error({path, 0, 0}, "not a regular file");
    return std::nullopt;
  }
  std::string text;
  text.resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  for (;;) {
    if (got == text.size()) text.resize(text.size() + 65536);  // it grew meanwhile
    const ssize_t n = read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      close(fd);
      diags.error({path, 0, 0}, std::string("cannot read file: ") + std::strerror(err));
      return std::nullopt;
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  close(fd);
  text.resize(got);
  return text;
}

void parseObject(const YamlNode& object, std::string_view kind, const std::string& origin,
                 Manifests& out, Diagnostics& diags) {
  FieldReader r(diags, origin, std::string(kind), object);
  if (!object.isMap()) {
    r.error(object, "(top level)", "expected a Kubernetes object (a map)");
    return;
  }
  if (kind == "Service") {
    if (auto s = parseService(r, object)) out.services.push_back(std::move(*s));
  } else if (kind == "EndpointSlice") {
    if (auto s = parseEndpointSlice(r, object)) out.slices.push_back(std::move(*s));
  }
}

Manifests loadManifests(const std::vector<std::string>& paths, Diagnostics& diags) {
  Manifests out;
  for (const auto& path : paths) {
    std::error_code ec;
    std::vector<std::string> files;
    if (fs::is_directory(path, ec)) {
      auto listed = listManifestFiles(path, diags);
      if (!listed) continue;
      files = std::move(*listed);
    } else if (fs::exists(path, ec)) {
      files.push_back(path);
    } else {
      diags.error({path, 0, 0}, "no such file or directory");
      continue;
    }
    for (const auto& f : files) {
      if (auto text = readRegularFile(f, diags)) parseManifestText(*text, f, out, diags);
    }
  }
  return out;
}

NodeConfig loadNodeConfig(const std::string& path, Diagnostics& diags) {
  auto text = readRegularFile(path, diags);
  if (!text) return NodeConfig{};
  return parseNodeConfigText(*text, path, diags);
}

Inputs loadInputs(const std::vector<std::string>& paths, const std::string& nodeConfigPath,
                  Diagnostics& diags, const std::string& kubeProxyConfigPath) {
  Inputs in;
  if (!nodeConfigPath.empty()) in.node = loadNodeConfig(nodeConfigPath, diags);
  if (!kubeProxyConfigPath.empty()) {
    in.node = withKubeProxyConfig(in.node, loadKubeProxyConfig(kubeProxyConfigPath, diags),
                                  nodeConfigPath, diags);
  }
  Manifests m = loadManifests(paths, diags);
  validate(m, in.node, diags);
  in.services = std::move(m.services);
  in.slices = std::move(m.slices);
  return in;
}

}  // namespace svcnft::manifest
