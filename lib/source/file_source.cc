#include "source/file_source.h"

#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include "manifest/loader.h"

namespace svcnft::source {

namespace fs = std::filesystem;

FileSource::FileSource(std::string dir, NodeConfig node, Diagnostics& diags)
    : dir_(std::move(dir)), node_(std::move(node)) {
  inotify_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_ < 0 ||
      inotify_add_watch(inotify_, dir_.c_str(),
                        IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE) < 0) {
    diags.error({dir_, 0, 0}, std::string("cannot watch directory: ") + std::strerror(errno));
  }
}

FileSource::~FileSource() {
  if (inotify_ >= 0) close(inotify_);
}

bool FileSource::consumeEvents() {
  bool relevant = false;
  alignas(inotify_event) char buf[16384];
  for (;;) {
    const ssize_t n = read(inotify_, buf, sizeof buf);
    if (n <= 0) break;
    for (ssize_t at = 0; at < n;) {
      const auto* ev = reinterpret_cast<const inotify_event*>(buf + at);
      // Editors and kubectl write temporary files and rename them into place; only
      // manifest names count, and a file being written counts when it is closed.
      if (ev->len > 0 && manifest::hasManifestExtension(ev->name) && !(ev->mask & IN_CREATE)) {
        dirty_.insert((fs::path(dir_) / ev->name).string());
        relevant = true;
      }
      if (ev->mask & IN_Q_OVERFLOW) {
        rescan_ = true;  // events were lost: look at everything
        relevant = true;
      }
      at += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
    }
  }
  return relevant;
}

void FileSource::reload(const std::string& path, bool force, Inventory& inventory,
                        Diagnostics& problems, std::set<std::string>& changed) {
  auto merge = [&](const std::set<std::string>& keys) { changed.insert(keys.begin(), keys.end()); };
  struct stat st {};
  if (stat(path.c_str(), &st) != 0 && (errno == ENOENT || errno == ENOTDIR)) {
    files_.erase(path);
    merge(inventory.replace(path, {}));  // deleted, or renamed away
    return;
  }
  FileState& state = files_[path];
  const long long mtime = st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
  if (!force && mtime == state.mtimeNs && st.st_size == state.size) return;  // unchanged
  state.mtimeNs = mtime;
  state.size = st.st_size;
  Manifests parsed;
  Diagnostics fileDiags;
  std::vector<manifest::RefusedObject> refused;
  // Anything but a readable regular file (no permission, a FIFO put in its place)
  // is an error: the file keeps its last good contents, never taken for deleted.
  auto text = manifest::readRegularFile(path, fileDiags);
  if (text) {
    manifest::parseManifestText(*text, path, parsed, fileDiags, &refused);
    // This file on its own; conflicts between files are the loop's to find.
    manifest::validate(parsed, node_, fileDiags, &refused);
  }
  // An object with errors is left out alone and keeps its last good version; the
  // rest of the file applies. What cannot be told apart (unreadable file, malformed
  // YAML, an object without a readable name) keeps the whole file as it was.
  const bool wholeFile =
      !text || std::any_of(refused.begin(), refused.end(),
                           [](const manifest::RefusedObject& r) { return r.key.empty(); });
  for (const auto& d : fileDiags.all()) {
    if (d.severity == Severity::kError) {
      problems.error(
          d.where, d.message + (wholeFile ? " (the file's last good contents stay in force)" : ""));
    } else {
      problems.warning(d.where, d.message);
    }
  }
  if (wholeFile) return;
  keepLastGood(path, refused, inventory, parsed, problems);
  merge(inventory.replace(path, std::move(parsed)));
}

void FileSource::keepLastGood(const std::string& path,
                              const std::vector<manifest::RefusedObject>& refused,
                              const Inventory& inventory, Manifests& parsed,
                              Diagnostics& problems) const {
  const Manifests* before = inventory.part(path);
  for (const auto& r : refused) {
    bool kept = false;
    if (before && r.kind == "Service") {
      const bool taken = std::any_of(parsed.services.begin(), parsed.services.end(),
                                     [&](const Service& s) { return s.key() == r.key; });
      for (const auto& s : before->services) {
        if (!taken && s.key() == r.key) {
          parsed.services.push_back(s);
          kept = true;
        }
      }
    } else if (before && r.kind == "EndpointSlice") {
      for (const auto& s : before->slices) {
        if (s.ns + "/" + s.name == r.key) {
          parsed.slices.push_back(s);
          kept = true;
        }
      }
    }
    problems.warning(r.where, r.kind + " " + r.key +
                                  (kept ? ": its last good version stays in force"
                                        : ": left out until it is fixed") +
                                  "; the rest of the file applies");
  }
}

std::set<std::string> FileSource::refresh(Inventory& inventory, Diagnostics& problems) {
  std::set<std::string> changed;
  if (rescan_) {
    // A directory that cannot be read keeps everything as it was, and is read
    // again at the next refresh.
    auto listed = manifest::listManifestFiles(dir_, problems);
    if (!listed) return changed;
    rescan_ = false;
    dirty_.clear();
    const std::set<std::string> present(listed->begin(), listed->end());
    for (const auto& path : present) reload(path, /*force=*/false, inventory, problems, changed);
    std::vector<std::string> gone;
    for (const auto& [path, state] : files_) {
      if (!present.count(path)) gone.push_back(path);
    }
    for (const auto& path : gone) reload(path, false, inventory, problems, changed);
    return changed;
  }
  // inotify named these: read them again even if size and time look the same.
  const std::set<std::string> dirty = std::move(dirty_);
  dirty_.clear();
  for (const auto& path : dirty) reload(path, /*force=*/true, inventory, problems, changed);
  return changed;
}

}  // namespace svcnft::source
