#include "spec/yaml_fields.h"

#include <charconv>

namespace svcnft::spec {

SourceLocation locationOf(const std::string& file, const YAML::Node& node, int lineOffset) {
  SourceLocation where{file, 0, 0};
  if (node.IsDefined()) {
    const YAML::Mark m = node.Mark();
    if (!m.is_null()) {
      where.line = m.line + 1 + lineOffset;
      where.column = m.column + 1;
    }
  }
  return where;
}

SourceLocation FieldReader::at(const YAML::Node& node) const {
  SourceLocation where = locationOf(file_, node, lineOffset_);
  if (where.line == 0) where = locationOf(file_, root_, lineOffset_);
  return where;
}

void FieldReader::error(const YAML::Node& node, const std::string& field,
                        const std::string& message) {
  diags_.error(at(node), object_ + ": " + field + ": " + message);
}

void FieldReader::warning(const YAML::Node& node, const std::string& field,
                          const std::string& message) {
  diags_.warning(at(node), object_ + ": " + field + ": " + message);
}

YAML::Node FieldReader::child(const YAML::Node& parent, const char* key) {
  if (!parent.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  YAML::Node n = parent[key];
  if (!n.IsDefined() || n.IsNull()) return YAML::Node(YAML::NodeType::Undefined);
  return n;
}

bool isPlainInteger(const YAML::Node& node, int64_t* out) {
  if (!node.IsScalar() || node.Tag() == "!") return false;  // "!" marks a quoted scalar
  const std::string& s = node.Scalar();
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return false;
  *out = v;
  return true;
}

std::optional<std::string> FieldReader::asString(const YAML::Node& node, const std::string& path) {
  if (!node.IsScalar()) {
    error(node, path, "expected a string");
    return std::nullopt;
  }
  return node.Scalar();
}

std::optional<int64_t> FieldReader::asInteger(const YAML::Node& node, const std::string& path) {
  int64_t v = 0;
  if (!isPlainInteger(node, &v)) {
    error(node, path,
          "expected an integer, got " +
              (node.IsScalar() ? "\"" + node.Scalar() + "\""
                               : std::string("a ") + (node.IsMap() ? "map" : "list")));
    return std::nullopt;
  }
  return v;
}

std::optional<std::string> FieldReader::string(const YAML::Node& parent, const char* key,
                                               const std::string& path) {
  YAML::Node n = child(parent, key);
  if (!n.IsDefined()) return std::nullopt;
  return asString(n, path);
}

std::optional<int64_t> FieldReader::integer(const YAML::Node& parent, const char* key,
                                            const std::string& path) {
  YAML::Node n = child(parent, key);
  if (!n.IsDefined()) return std::nullopt;
  return asInteger(n, path);
}

std::optional<bool> FieldReader::boolean(const YAML::Node& parent, const char* key,
                                         const std::string& path) {
  YAML::Node n = child(parent, key);
  if (!n.IsDefined()) return std::nullopt;
  if (n.IsScalar() && n.Tag() != "!") {
    if (n.Scalar() == "true") return true;
    if (n.Scalar() == "false") return false;
  }
  error(n, path, "expected true or false");
  return std::nullopt;
}

YAML::Node FieldReader::map(const YAML::Node& parent, const char* key, const std::string& path) {
  YAML::Node n = child(parent, key);
  if (n.IsDefined() && !n.IsMap()) {
    error(n, path, "expected a map");
    return YAML::Node(YAML::NodeType::Undefined);
  }
  return n;
}

YAML::Node FieldReader::sequence(const YAML::Node& parent, const char* key,
                                 const std::string& path) {
  YAML::Node n = child(parent, key);
  if (n.IsDefined() && !n.IsSequence()) {
    error(n, path, "expected a list");
    return YAML::Node(YAML::NodeType::Undefined);
  }
  return n;
}

}  // namespace svcnft::spec
