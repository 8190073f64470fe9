// The file source: a directory of manifests (*.yaml, *.yml, *.json), watched with
// inotify (files written, renamed into place, deleted). A file that fails to parse
// or validate keeps its last good contents; its errors are reported once per
// change of the file, not on every sync.
#pragma once

#include <map>
#include <string>

#include "agent/source.h"

namespace svcnft::agent {

class FileSource : public Source {
 public:
  // Opens the watch; problems (no such directory) are reported through `diags`.
  // `node` is what each file is validated against on its own (nodePort range,
  // externalIPAllow), so one file's invalid Service cannot hold back the others.
  FileSource(std::string dir, NodeConfig node, Diagnostics& diags);
  ~FileSource() override;
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  int fd() const override { return inotify_; }
  bool consumeEvents() override;
  spec::Manifests current(Diagnostics& problems) override;

 private:
  struct FileState {
    long long mtimeNs = -1;
    long long size = -1;
    bool haveGood = false;
    spec::Manifests good;
  };

  std::string dir_;
  NodeConfig node_;
  int inotify_ = -1;
  std::map<std::string, FileState> files_;
};

}  // namespace svcnft::agent
