// One parsed YAML/JSON document as a compact read-only tree, and the parser that
// builds it. Nodes are handles into the Document (which must outlive them);
// scalars point into the source text unless they needed unescaping, so the text
// must outlive the Document too.
//
// parseYaml() first tries our own scanner for the block-and-flow subset that
// Kubernetes manifests use (kubectl output, hand-written files, JSON). Anything
// outside it (anchors, tags, block scalars, multi-line scalars, tabs, CRLF, ...)
// is parsed by yaml-cpp instead and converted, so the result is the same tree
// either way; only speed differs. Why: yaml-cpp spends ~75% of a 10,000-Service
// compile (~3 s for 12 MB); the scanner reads the same text in a few percent of
// that (numbers in docs/benchmarks.md). Internal to lib/manifest.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace svcnft::manifest {

enum class YamlKind : uint8_t { kUndefined, kNull, kScalar, kSequence, kMap };

// 0-based, relative to the parsed text (yaml-cpp's convention).
struct YamlMark {
  int line = -1;
  int column = -1;
};

class YamlDocument;
struct YamlError;

class YamlNode {
 public:
  YamlNode() = default;

  YamlKind kind() const;
  bool defined() const { return kind() != YamlKind::kUndefined; }
  bool isNull() const { return kind() == YamlKind::kNull; }
  bool isScalar() const { return kind() == YamlKind::kScalar; }
  bool isSequence() const { return kind() == YamlKind::kSequence; }
  bool isMap() const { return kind() == YamlKind::kMap; }

  // A scalar's text (empty for anything else); quoted() tells "80" from 80.
  std::string_view scalar() const;
  bool quoted() const;
  YamlMark mark() const;

  // Items of a sequence, entries of a map; 0 for anything else.
  std::size_t size() const;
  // A sequence's item; undefined when out of range or not a sequence.
  YamlNode operator[](std::size_t i) const;
  YamlNode operator[](int i) const { return (*this)[static_cast<std::size_t>(i)]; }
  // A map's value for `key` (the first, if repeated); undefined when absent.
  YamlNode operator[](std::string_view key) const;
  YamlNode operator[](const char* key) const { return (*this)[std::string_view(key)]; }
  // A map's i-th entry.
  std::string_view keyAt(std::size_t i) const;
  YamlNode valueAt(std::size_t i) const;

 private:
  friend class YamlDocument;
  YamlNode(const YamlDocument* doc, uint32_t index) : doc_(doc), index_(index) {}

  const YamlDocument* doc_ = nullptr;
  uint32_t index_ = 0;
};

class YamlDocument {
 public:
  YamlNode root() const;

  // Builder interface, used by the two parsers. A collection is opened, its
  // children are added (each child already complete), then it is closed.
  uint32_t addScalar(std::string_view text, bool quoted, YamlMark mark);
  uint32_t addNull(YamlMark mark);
  uint32_t open(YamlKind kind, YamlMark mark);
  void addChild(std::string_view key, uint32_t node);
  void close(uint32_t collection);
  // Keeps `text` alive as long as the document (for unescaped scalars and keys).
  std::string_view own(std::string text);
  void setRoot(uint32_t node) { root_ = node; }
  void clear();

  // What neither reader may let through, found once the tree is built: a key
  // given twice in one map (Kubernetes' decoders refuse it or keep the last; the
  // tree would keep the first), and a NUL character in a key or a scalar (C
  // strings end there: "198.18.100.10\0junk" would read as an address).
  std::optional<YamlError> problems() const;

 private:
  friend class YamlNode;
  struct Entry {
    YamlKind kind = YamlKind::kUndefined;
    bool quoted = false;
    YamlMark mark;
    std::string_view text;  // scalars
    uint32_t first = 0;     // collections: children_[first, first + count)
    uint32_t count = 0;
    uint32_t pendingStart = 0;  // while open: where its children start in pending_
  };
  struct Child {
    std::string_view key;  // empty for sequence items
    uint32_t node = 0;
  };

  std::vector<Entry> entries_;
  std::vector<Child> children_;
  std::vector<Child> pending_;  // children of the collections still open
  std::deque<std::string> owned_;
  std::optional<uint32_t> root_;
};

struct YamlError {
  YamlMark mark;  // line -1 when unknown
  std::string message;
};

// Parses one document's text into `out`. Returns the error instead when the text
// is not YAML (yaml-cpp's message and position).
std::optional<YamlError> parseYaml(std::string_view text, YamlDocument& out);

// The fast path alone: false (and `out` cleared) when the text is outside its
// subset. Exposed so tests can compare it with yaml-cpp on the same text.
bool parseYamlSubset(std::string_view text, YamlDocument& out);
// The slow path alone (yaml-cpp, converted).
std::optional<YamlError> parseYamlFull(std::string_view text, YamlDocument& out);

}  // namespace svcnft::manifest
