// The file source: a directory of manifests (*.yaml, *.yml, *.json), watched with
// inotify (files written, renamed into place, deleted). Only the files inotify
// names are read again (the whole directory at start and after an event queue
// overflow), so a change costs the changed file, not the directory. A file that
// fails to parse or validate keeps its last good contents; its errors are
// reported once per change of the file, not on every sync.
#pragma once

#include <map>
#include <set>
#include <string>

#include "source/source.h"

namespace svcnft::source {

class FileSource : public Source {
 public:
  // Opens the watch; problems (no such directory) are reported through `diags`.
  // `node` is what each file is validated against on its own (nodePort range,
  // externalIPAllow), so one file's invalid Service cannot hold back the others.
  FileSource(std::string dir, NodeConfig node, Diagnostics& diags);
  ~FileSource() override;
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  std::string name() const override { return "files " + dir_; }
  int fd() const override { return inotify_; }
  bool consumeEvents() override;
  std::set<std::string> refresh(Inventory& inventory, Diagnostics& problems) override;

 private:
  struct FileState {
    long long mtimeNs = -1;
    long long size = -1;
  };
  // Reads one file again if it changed (or `force`), or drops it if it is gone.
  void reload(const std::string& path, bool force, Inventory& inventory, Diagnostics& problems,
              std::set<std::string>& changed);
  // Puts back into `parsed` the last good version (from the inventory) of each object
  // refused this time, and says which stayed and which are left out.
  void keepLastGood(const std::string& path, const std::vector<manifest::RefusedObject>& refused,
                    const Inventory& inventory, Manifests& parsed, Diagnostics& problems) const;

  std::string dir_;
  NodeConfig node_;
  int inotify_ = -1;
  bool rescan_ = true;                      // read the whole directory at the next refresh
  std::set<std::string> dirty_;             // files inotify named since the last refresh
  std::map<std::string, FileState> files_;  // files whose last good contents are in the inventory
};

}  // namespace svcnft::source
