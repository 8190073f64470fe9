// Typed reads of YAML/JSON fields with Kubernetes' strictness: a wrong type is an
// error naming FILE:LINE:COL, the object and the field path; an absent field is
// simply absent. Unknown fields are never looked at, so they are ignored.
// Internal to lib/manifest (no YAML type leaks out of this layer).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/diagnostics.h"
#include "manifest/yaml_tree.h"

namespace svcnft::manifest {

// lineOffset: the line the node's document starts at in its file (documents are
// parsed one at a time, see manifest_loader.cc).
SourceLocation locationOf(const std::string& file, const YamlNode& node, int lineOffset = 0);

// A field's path in its object, "endpoints[3].conditions.ready", joined only when a
// problem is reported. Paths built for every field read, whether wrong or not, were
// a quarter of parsing 100,000 endpoints. A path names its parent, which outlives
// it: paths live on the stack for the duration of a read, never stored.
class FieldPath {
 public:
  FieldPath(const char* text) : literal_(text) {}                             // NOLINT
  FieldPath(const std::string& text) : text_(&text) {}                        // NOLINT
  FieldPath(std::string&& text) : owned_(std::move(text)), text_(&owned_) {}  // NOLINT
  FieldPath(const FieldPath& parent, const char* field) : parent_(&parent), literal_(field) {}
  FieldPath(const FieldPath& parent, std::size_t index)
      : parent_(&parent), index_(index), indexed_(true) {}
  FieldPath(const FieldPath&) = delete;
  FieldPath& operator=(const FieldPath&) = delete;

  std::string str() const;

 private:
  const FieldPath* parent_ = nullptr;
  const char* literal_ = nullptr;
  std::string owned_;
  const std::string* text_ = nullptr;
  std::size_t index_ = 0;
  bool indexed_ = false;
};

// One object being read: where errors go and how they name the object.
class FieldReader {
 public:
  FieldReader(Diagnostics& diags, std::string file, std::string object, YamlNode root,
              int lineOffset = 0)
      : diags_(diags),
        file_(std::move(file)),
        object_(std::move(object)),
        root_(root),
        lineOffset_(lineOffset) {}

  const std::string& file() const { return file_; }
  const std::string& object() const { return object_; }
  void setObject(std::string object) { object_ = std::move(object); }

  // Reports `OBJECT: FIELD: MESSAGE` at `node` (or at the object when node has no mark).
  void error(const YamlNode& node, const FieldPath& field, const std::string& message);
  void warning(const YamlNode& node, const FieldPath& field, const std::string& message);
  SourceLocation at(const YamlNode& node) const;

  // Each returns nullopt when the field is absent or null, and also (after
  // reporting) when it has the wrong type.
  std::optional<std::string> string(const YamlNode& parent, const char* key, const FieldPath& path);
  std::optional<int64_t> integer(const YamlNode& parent, const char* key, const FieldPath& path);
  std::optional<bool> boolean(const YamlNode& parent, const char* key, const FieldPath& path);
  // An undefined node when absent; also undefined (after reporting) on a wrong type.
  YamlNode map(const YamlNode& parent, const char* key, const FieldPath& path);
  YamlNode sequence(const YamlNode& parent, const char* key, const FieldPath& path);

  // Scalar conversions for sequence items and the like.
  std::optional<std::string> asString(const YamlNode& node, const FieldPath& path);
  std::optional<int64_t> asInteger(const YamlNode& node, const FieldPath& path);

 private:
  YamlNode child(const YamlNode& parent, const char* key);

  Diagnostics& diags_;
  std::string file_;
  std::string object_;
  YamlNode root_;
  int lineOffset_ = 0;
};

// True for a scalar written as a plain (unquoted) integer literal.
bool isPlainInteger(const YamlNode& node, int64_t* out);

}  // namespace svcnft::manifest
