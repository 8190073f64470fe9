// The document tree, and the yaml-cpp path that fills it when the scanner cannot.
#include "manifest/yaml_tree.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>

namespace svcnft::manifest {

YamlKind YamlNode::kind() const {
  return doc_ ? doc_->entries_[index_].kind : YamlKind::kUndefined;
}

std::string_view YamlNode::scalar() const {
  return isScalar() ? doc_->entries_[index_].text : std::string_view();
}

bool YamlNode::quoted() const { return doc_ && doc_->entries_[index_].quoted; }

YamlMark YamlNode::mark() const { return doc_ ? doc_->entries_[index_].mark : YamlMark{}; }

std::size_t YamlNode::size() const {
  if (!isMap() && !isSequence()) return 0;
  return doc_->entries_[index_].count;
}

YamlNode YamlNode::operator[](std::size_t i) const {
  if (!isSequence() || i >= size()) return {};
  return {doc_, doc_->children_[doc_->entries_[index_].first + i].node};
}

YamlNode YamlNode::operator[](std::string_view key) const {
  if (!isMap()) return {};
  const auto& e = doc_->entries_[index_];
  for (uint32_t i = 0; i < e.count; ++i) {
    const auto& c = doc_->children_[e.first + i];
    if (c.key == key) return {doc_, c.node};
  }
  return {};
}

std::string_view YamlNode::keyAt(std::size_t i) const {
  if (!isMap() || i >= size()) return {};
  return doc_->children_[doc_->entries_[index_].first + i].key;
}

YamlNode YamlNode::valueAt(std::size_t i) const {
  if (!isMap() || i >= size()) return {};
  return {doc_, doc_->children_[doc_->entries_[index_].first + i].node};
}

YamlNode YamlDocument::root() const {
  if (!root_) return {};
  return {this, *root_};
}

uint32_t YamlDocument::addScalar(std::string_view text, bool quoted, YamlMark mark) {
  Entry e;
  e.kind = YamlKind::kScalar;
  e.quoted = quoted;
  e.mark = mark;
  e.text = text;
  entries_.push_back(e);
  return static_cast<uint32_t>(entries_.size() - 1);
}

uint32_t YamlDocument::addNull(YamlMark mark) {
  Entry e;
  e.kind = YamlKind::kNull;
  e.mark = mark;
  entries_.push_back(e);
  return static_cast<uint32_t>(entries_.size() - 1);
}

uint32_t YamlDocument::open(YamlKind kind, YamlMark mark) {
  Entry e;
  e.kind = kind;
  e.mark = mark;
  e.pendingStart = static_cast<uint32_t>(pending_.size());
  entries_.push_back(e);
  return static_cast<uint32_t>(entries_.size() - 1);
}

void YamlDocument::addChild(std::string_view key, uint32_t node) { pending_.push_back({key, node}); }

void YamlDocument::close(uint32_t collection) {
  // Children of nested collections were moved out when those closed, so this
  // collection's own children are exactly the tail of pending_.
  Entry& e = entries_[collection];
  e.first = static_cast<uint32_t>(children_.size());
  e.count = static_cast<uint32_t>(pending_.size() - e.pendingStart);
  children_.insert(children_.end(), pending_.begin() + e.pendingStart, pending_.end());
  pending_.resize(e.pendingStart);
}

std::optional<YamlError> YamlDocument::problems() const {
  auto quoted = [](std::string_view text) {
    std::string out;
    for (char c : text.substr(0, 64)) out += c == '\0' ? std::string("\\0") : std::string(1, c);
    return "\"" + out + (text.size() > 64 ? "...\"" : "\"");
  };
  for (const Entry& e : entries_) {
    if (e.kind == YamlKind::kScalar && e.text.find('\0') != std::string_view::npos) {
      return YamlError{e.mark, "a value contains a NUL character: " + quoted(e.text)};
    }
    if (e.kind != YamlKind::kMap) continue;
    const Child* kids = children_.data() + e.first;
    for (uint32_t i = 0; i < e.count; ++i) {
      if (kids[i].key.find('\0') != std::string_view::npos) {
        return YamlError{entries_[kids[i].node].mark,
                         "a key contains a NUL character: " + quoted(kids[i].key)};
      }
    }
    // Manifests' maps are small: pairwise is cheaper than sorting up to a few dozen.
    std::vector<std::pair<std::string_view, uint32_t>> sorted;
    const bool small = e.count <= 32;
    if (!small) {
      for (uint32_t i = 0; i < e.count; ++i) sorted.emplace_back(kids[i].key, i);
      std::sort(sorted.begin(), sorted.end());
    }
    for (uint32_t i = 0; i + 1 < e.count; ++i) {
      uint32_t first = i, again = i + 1;
      bool same = false;
      if (small) {
        for (again = i + 1; again < e.count && !same; ++again) same = kids[again].key == kids[i].key;
        --again;
      } else {
        same = sorted[i].first == sorted[i + 1].first;
        first = std::min(sorted[i].second, sorted[i + 1].second);
        again = std::max(sorted[i].second, sorted[i + 1].second);
      }
      if (!same) continue;
      const YamlMark at = entries_[kids[again].node].mark;
      const YamlMark was = entries_[kids[first].node].mark;
      std::string message = "duplicate key " + quoted(kids[again].key);
      if (at.line >= 0 && was.line >= 0) {
        const int above = at.line - was.line;
        message += above == 0 ? " (given twice on this line)"
                              : " (first given " + std::to_string(above) +
                                    (above == 1 ? " line" : " lines") + " above)";
      }
      return YamlError{at, message};
    }
  }
  return std::nullopt;
}

std::string_view YamlDocument::own(std::string text) {
  owned_.push_back(std::move(text));
  return owned_.back();
}

void YamlDocument::clear() {
  entries_.clear();
  children_.clear();
  pending_.clear();
  owned_.clear();
  root_.reset();
}

namespace {

YamlMark markOf(const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  if (m.is_null()) return {};
  return {m.line, m.column};
}

// What converting one document may cost. yaml-cpp keeps an alias as a second
// reference to its anchor's node, so a self-referencing alias (`a: &a [*a]`) is a
// cycle and nested aliases ("billion laughs": 342 bytes, billions of nodes) expand
// exponentially once walked: both are refused here, as Kubernetes' own YAML
// reader refuses excessive aliasing.
struct Budget {
  std::size_t nodesLeft;
  int depthLeft;
  bool exceeded = false;
};

uint32_t convert(const YAML::Node& n, YamlDocument& out, Budget& budget) {
  if (budget.exceeded || budget.nodesLeft == 0 || budget.depthLeft == 0) {
    budget.exceeded = true;
    return out.addNull(markOf(n));
  }
  --budget.nodesLeft;
  switch (n.Type()) {
    case YAML::NodeType::Scalar: {
      // yaml-cpp tags a plain scalar "?" and a quoted one "!"; an explicit tag other
      // than the core schema's non-string ones (`!!str 80`) makes a string too.
      const std::string& tag = n.Tag();
      const bool plain = tag == "?" || tag == "tag:yaml.org,2002:int" ||
                         tag == "tag:yaml.org,2002:bool" || tag == "tag:yaml.org,2002:float" ||
                         tag == "tag:yaml.org,2002:null";
      return out.addScalar(out.own(n.Scalar()), !plain, markOf(n));
    }
    case YAML::NodeType::Sequence: {
      const uint32_t seq = out.open(YamlKind::kSequence, markOf(n));
      --budget.depthLeft;
      for (const auto& item : n) {
        if (budget.exceeded) break;
        out.addChild({}, convert(item, out, budget));
      }
      ++budget.depthLeft;
      out.close(seq);
      return seq;
    }
    case YAML::NodeType::Map: {
      const uint32_t map = out.open(YamlKind::kMap, markOf(n));
      --budget.depthLeft;
      for (const auto& kv : n) {
        if (budget.exceeded) break;
        // Keys that are collections have no meaning in a manifest; they read as "".
        const std::string_view key =
            kv.first.IsScalar() ? out.own(kv.first.Scalar()) : std::string_view();
        out.addChild(key, convert(kv.second, out, budget));
      }
      ++budget.depthLeft;
      out.close(map);
      return map;
    }
    default:
      return out.addNull(markOf(n));
  }
}

// A document may hold at most this many nodes per byte of its text (plus a floor):
// without aliases a node takes at least two bytes, so only aliasing gets past it.
constexpr std::size_t kNodesPerByte = 4;
constexpr std::size_t kNodesFloor = 10000;
constexpr int kMaxDepth = 256;

}  // namespace

std::optional<YamlError> parseYamlFull(std::string_view text, YamlDocument& out) {
  out.clear();
  YAML::Node doc;
  try {
    doc = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    YamlError err;
    if (!e.mark.is_null()) err.mark = {e.mark.line, e.mark.column};
    err.message = e.msg;
    return err;
  }
  Budget budget{kNodesFloor + kNodesPerByte * text.size(), kMaxDepth};
  out.setRoot(convert(doc, out, budget));
  if (budget.exceeded) {
    out.clear();
    return YamlError{{},
                     "refused: anchors and aliases expand past " +
                         std::to_string(kNodesFloor + kNodesPerByte * text.size()) +
                         " nodes or nest deeper than " + std::to_string(kMaxDepth) +
                         " (a self-referencing or exponential alias)"};
  }
  return std::nullopt;
}

std::optional<YamlError> parseYaml(std::string_view text, YamlDocument& out) {
  if (const auto nul = text.find('\0'); nul != std::string_view::npos) {
    // YAML allows no NUL byte anywhere; say so where it is, not what a reader makes of it.
    const std::string_view before = text.substr(0, nul);
    const auto lineStart = before.rfind('\n');
    const int line = static_cast<int>(std::count(before.begin(), before.end(), '\n'));
    const int column =
        static_cast<int>(lineStart == std::string_view::npos ? nul : nul - lineStart - 1);
    out.clear();
    return YamlError{{line, column}, "a NUL byte in the text"};
  }
  if (!parseYamlSubset(text, out)) {
    if (auto err = parseYamlFull(text, out)) return err;
  }
  return out.problems();
}

}  // namespace svcnft::manifest
