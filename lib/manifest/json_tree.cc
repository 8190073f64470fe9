#include "manifest/json_tree.h"

#include <simdjson.h>

#include <cstdio>
#include <string>

namespace svcnft::manifest {

namespace {

constexpr YamlMark kNoMark{};

uint32_t add(const simdjson::dom::element& e, YamlDocument& out) {
  using simdjson::dom::element_type;
  switch (e.type()) {
    case element_type::OBJECT: {
      simdjson::dom::object object;
      if (e.get(object)) break;
      const uint32_t map = out.open(YamlKind::kMap, kNoMark);
      for (auto field : object) {
        const std::string_view key = out.own(std::string(field.key));
        out.addChild(key, add(field.value, out));
      }
      out.close(map);
      return map;
    }
    case element_type::ARRAY: {
      simdjson::dom::array array;
      if (e.get(array)) break;
      const uint32_t seq = out.open(YamlKind::kSequence, kNoMark);
      for (auto item : array) out.addChild({}, add(item, out));
      out.close(seq);
      return seq;
    }
    case element_type::STRING:
      // Quoted: "80" stays a string, as a quoted YAML scalar does.
      return out.addScalar(out.own(std::string(e.get_string().value_unsafe())), true, kNoMark);
    case element_type::INT64:
      return out.addScalar(out.own(std::to_string(e.get_int64().value_unsafe())), false, kNoMark);
    case element_type::UINT64:
      return out.addScalar(out.own(std::to_string(e.get_uint64().value_unsafe())), false, kNoMark);
    case element_type::DOUBLE: {
      char buf[40];
      std::snprintf(buf, sizeof buf, "%.17g", e.get_double().value_unsafe());
      return out.addScalar(out.own(buf), false, kNoMark);
    }
    case element_type::BOOL:
      return out.addScalar(e.get_bool().value_unsafe() ? "true" : "false", false, kNoMark);
    case element_type::NULL_VALUE:
      break;
  }
  return out.addNull(kNoMark);
}

}  // namespace

std::optional<YamlError> parseJson(std::string_view text, YamlDocument& out) {
  // One parser per thread: it keeps its buffers from one document to the next.
  thread_local simdjson::dom::parser parser;
  out.clear();
  simdjson::dom::element root;
  if (auto err = parser.parse(text.data(), text.size(), /*realloc_if_needed=*/true).get(root)) {
    return YamlError{{}, std::string("invalid JSON: ") + simdjson::error_message(err)};
  }
  out.setRoot(add(root, out));
  return out.problems();
}

}  // namespace svcnft::manifest
