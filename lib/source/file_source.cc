#include "source/file_source.h"

#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

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
  // Anything but a readable regular file (no permission, a FIFO put in its place)
  // is an error: the file keeps its last good contents, never taken for deleted.
  if (auto text = manifest::readRegularFile(path, fileDiags)) {
    manifest::parseManifestText(*text, path, parsed, fileDiags);
  }
  // This file on its own; conflicts between files are the loop's to find.
  if (!fileDiags.hasErrors()) manifest::validate(parsed, node_, fileDiags);
  for (const auto& d : fileDiags.all()) {
    if (d.severity == Severity::kError) {
      problems.error(d.where, d.message + " (the file's last good contents stay in force)");
    } else {
      problems.warning(d.where, d.message);
    }
  }
  if (!fileDiags.hasErrors()) merge(inventory.replace(path, std::move(parsed)));
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
