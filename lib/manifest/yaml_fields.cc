#include "manifest/yaml_fields.h"

#include <charconv>

namespace svcnft::manifest {

SourceLocation locationOf(const std::string& file, const YamlNode& node, int lineOffset) {
  SourceLocation where{file, 0, 0};
  if (node.defined()) {
    const YamlMark m = node.mark();
    if (m.line >= 0) {
      where.line = m.line + 1 + lineOffset;
      where.column = m.column + 1;
    }
  }
  return where;
}

std::string FieldPath::str() const {
  std::string out = parent_ ? parent_->str() : std::string();
  if (indexed_) return out + "[" + std::to_string(index_) + "]";
  if (parent_) out += ".";
  return out + (literal_ ? literal_ : text_ ? *text_ : "");
}

SourceLocation FieldReader::at(const YamlNode& node) const {
  SourceLocation where = locationOf(file_, node, lineOffset_);
  if (where.line == 0) where = locationOf(file_, root_, lineOffset_);
  return where;
}

void FieldReader::error(const YamlNode& node, const FieldPath& field, const std::string& message) {
  diags_.error(at(node), object_ + ": " + field.str() + ": " + message);
}

void FieldReader::warning(const YamlNode& node, const FieldPath& field,
                          const std::string& message) {
  diags_.warning(at(node), object_ + ": " + field.str() + ": " + message);
}

YamlNode FieldReader::child(const YamlNode& parent, const char* key) {
  if (!parent.isMap()) return YamlNode();
  YamlNode n = parent[key];
  if (!n.defined() || n.isNull()) return YamlNode();
  return n;
}

bool isPlainInteger(const YamlNode& node, int64_t* out) {
  if (!node.isScalar() || node.quoted()) return false;  // "!" marks a quoted scalar
  const std::string_view s = node.scalar();
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return false;
  *out = v;
  return true;
}

std::optional<std::string> FieldReader::asString(const YamlNode& node, const FieldPath& path) {
  if (!node.isScalar()) {
    error(node, path, "expected a string");
    return std::nullopt;
  }
  return std::string(node.scalar());
}

std::optional<int64_t> FieldReader::asInteger(const YamlNode& node, const FieldPath& path) {
  int64_t v = 0;
  if (!isPlainInteger(node, &v)) {
    error(node, path,
          "expected an integer, got " +
              (node.isScalar() ? "\"" + std::string(node.scalar()) + "\""
                               : std::string("a ") + (node.isMap() ? "map" : "list")));
    return std::nullopt;
  }
  return v;
}

std::optional<std::string> FieldReader::string(const YamlNode& parent, const char* key,
                                               const FieldPath& path) {
  YamlNode n = child(parent, key);
  if (!n.defined()) return std::nullopt;
  return asString(n, path);
}

std::optional<int64_t> FieldReader::integer(const YamlNode& parent, const char* key,
                                            const FieldPath& path) {
  YamlNode n = child(parent, key);
  if (!n.defined()) return std::nullopt;
  return asInteger(n, path);
}

std::optional<bool> FieldReader::boolean(const YamlNode& parent, const char* key,
                                         const FieldPath& path) {
  YamlNode n = child(parent, key);
  if (!n.defined()) return std::nullopt;
  if (n.isScalar() && !n.quoted()) {
    // YAML's core schema, as Kubernetes' decoder reads it.
    const std::string_view v = n.scalar();
    if (v == "true" || v == "True" || v == "TRUE") return true;
    if (v == "false" || v == "False" || v == "FALSE") return false;
  }
  error(n, path, "expected true or false");
  return std::nullopt;
}

YamlNode FieldReader::map(const YamlNode& parent, const char* key, const FieldPath& path) {
  YamlNode n = child(parent, key);
  if (n.defined() && !n.isMap()) {
    error(n, path, "expected a map");
    return YamlNode();
  }
  return n;
}

YamlNode FieldReader::sequence(const YamlNode& parent, const char* key, const FieldPath& path) {
  YamlNode n = child(parent, key);
  if (n.defined() && !n.isSequence()) {
    error(n, path, "expected a list");
    return YamlNode();
  }
  return n;
}

}  // namespace svcnft::manifest
