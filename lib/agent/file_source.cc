#include "agent/file_source.h"

#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace svcnft::agent {

namespace fs = std::filesystem;

namespace {

bool isManifest(const fs::path& p) {
  const std::string ext = p.extension().string();
  return ext == ".yaml" || ext == ".yml" || ext == ".json";
}

}  // namespace

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
      if (ev->len > 0 && isManifest(ev->name) && !(ev->mask & IN_CREATE)) {
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

void FileSource::reload(const std::string& path, bool force, Diagnostics& problems,
                        std::set<std::string>& changed) {
  auto merge = [&](const std::set<std::string>& keys) { changed.insert(keys.begin(), keys.end()); };
  struct stat st {};
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    files_.erase(path);
    merge(inventory_.replace(path, {}));  // deleted, or renamed away
    return;
  }
  FileState& state = files_[path];
  const long long mtime = st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
  if (!force && mtime == state.mtimeNs && st.st_size == state.size) return;  // unchanged
  state.mtimeNs = mtime;
  state.size = st.st_size;
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  spec::Manifests parsed;
  Diagnostics fileDiags;
  spec::parseManifestText(text.str(), path, parsed, fileDiags);
  // This file on its own; conflicts between files are the loop's to find.
  if (!fileDiags.hasErrors()) spec::validate(parsed, node_, fileDiags);
  for (const auto& d : fileDiags.all()) {
    if (d.severity == Severity::kError) {
      problems.error(d.where, d.message + " (the file's last good contents stay in force)");
    } else {
      problems.warning(d.where, d.message);
    }
  }
  if (!fileDiags.hasErrors()) merge(inventory_.replace(path, std::move(parsed)));
}

std::set<std::string> FileSource::refresh(Diagnostics& problems) {
  std::set<std::string> changed;
  if (rescan_) {
    rescan_ = false;
    dirty_.clear();
    std::set<std::string> present;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir_, ec)) {
      if (!entry.is_regular_file() || !isManifest(entry.path())) continue;
      present.insert(entry.path().string());
      reload(entry.path().string(), /*force=*/false, problems, changed);
    }
    std::vector<std::string> gone;
    for (const auto& [path, state] : files_) {
      if (!present.count(path)) gone.push_back(path);
    }
    for (const auto& path : gone) reload(path, false, problems, changed);
    return changed;
  }
  // inotify named these: read them again even if size and time look the same.
  const std::set<std::string> dirty = std::move(dirty_);
  dirty_.clear();
  for (const auto& path : dirty) reload(path, /*force=*/true, problems, changed);
  return changed;
}

}  // namespace svcnft::agent
