// The fast path of parseYaml(): a scanner for the YAML that manifests are made of.
//
// Accepted: block maps and sequences (including "- key: v" items and sequences at
// their key's indentation), flow maps and sequences (so JSON), plain scalars on
// one line, single- and double-quoted scalars on one line (JSON's escapes),
// comments, one leading "---" and a trailing "...". Everything else makes it give
// up rather than guess: tabs, CR, anchors and aliases, tags, block scalars (| >),
// directives, multi-line scalars, complex keys, plain scalars holding flow
// characters, trailing commas. Giving up is always safe: yaml-cpp then parses the
// text, so this file only has to be right about what it accepts; the
// differential test (test/unit/yaml_tree_test.cc) holds it to yaml-cpp's tree.
#include <cstring>

#include "manifest/yaml_tree.h"

namespace svcnft::manifest {

namespace {

constexpr int kMaxDepth = 64;
// YAML limits an implicit key to 1024 characters; yaml-cpp refuses longer ones.
constexpr std::size_t kMaxImplicitKey = 1024;

bool isNullPlain(std::string_view s) {
  return s == "~" || s == "null" || s == "Null" || s == "NULL";
}

class Scanner {
 public:
  Scanner(std::string_view text, YamlDocument& doc) : t_(text), doc_(doc) {}

  bool run() {
    // Printable ASCII and newlines only. Tabs, CR, control characters and every
    // non-ASCII byte (a byte order mark, UTF-8 whose validity and printability
    // YAML leaves to the reader) go to yaml-cpp; manifests are nearly always ASCII.
    for (const char ch : t_) {
      const auto c = static_cast<unsigned char>(ch);
      if ((c < 0x20 && c != '\n') || c >= 0x7f) return false;
    }
    pos_ = 0;
    hasContent_ = atLineContent();
    if (hasContent_ && column() == 0 && isMarker("---")) {
      pos_ += 3;
      if (!finishLine()) return false;  // "--- value" and "--- !tag" are not ours
    }
    if (failed_) return false;
    if (!hasContent_) {
      doc_.setRoot(doc_.addNull({0, 0}));
      return true;
    }
    if (at(pos_) == '%') return false;  // a directive
    uint32_t root = 0;
    if (!parseBlock(root) || hasContent_ || failed_) return false;
    doc_.setRoot(root);
    return true;
  }

 private:
  struct Key {
    std::string_view text;
    std::size_t after = 0;  // offset just past the ':'
  };

  char at(std::size_t p) const { return p < t_.size() ? t_[p] : '\n'; }
  int column() const { return static_cast<int>(pos_ - lineStart_); }
  YamlMark mark() const { return {line_, column()}; }
  bool endsToken(std::size_t p) const { return at(p) == ' ' || at(p) == '\n'; }
  bool isMarker(const char* m) const {
    return t_.compare(pos_, 3, m) == 0 && endsToken(pos_ + 3);
  }
  // '#' starts a comment only after a space (or at a line's start).
  bool isComment(std::size_t p) const {
    return at(p) == '#' && p < t_.size() && (p == lineStart_ || t_[p - 1] == ' ');
  }
  bool isSeqEntry() const { return at(pos_) == '-' && endsToken(pos_ + 1); }
  // t_[start, end) without trailing spaces.
  std::string_view trimmed(std::size_t start, std::size_t end) const {
    while (end > start && t_[end - 1] == ' ') --end;
    return t_.substr(start, end - start);
  }
  uint32_t addPlain(std::string_view text, YamlMark at) {
    return isNullPlain(text) ? doc_.addNull(at) : doc_.addScalar(text, false, at);
  }

  // From the start of a line: skips blank and comment lines and the indentation;
  // false at the end of the document ("..." ends it too).
  bool atLineContent() {
    while (true) {
      std::size_t p = pos_;
      while (p < t_.size() && t_[p] == ' ') ++p;
      if (p >= t_.size()) {
        pos_ = t_.size();
        return false;
      }
      if (t_[p] != '\n' && t_[p] != '#') {
        pos_ = p;
        if (column() == 0 && isMarker("...")) {
          // The document ends; anything after it but blank lines and comments is
          // another document's, or an error: yaml-cpp's to say.
          std::size_t q = pos_ + 3;
          for (bool comment = false; q < t_.size(); ++q) {
            const char c = t_[q];
            if (c == '\n') {
              comment = false;
            } else if (c == '#' && (t_[q - 1] == ' ' || t_[q - 1] == '\n')) {
              comment = true;
            } else if (c != ' ' && !comment) {
              failed_ = true;
              break;
            }
          }
          pos_ = t_.size();
          return false;
        }
        // A second "---" cannot be in one document (the loader splits there).
        if (column() == 0 && line_ > 0 && isMarker("---")) failed_ = true;
        return !failed_;
      }
      const std::size_t nl = t_.find('\n', p);
      if (nl == std::string_view::npos) {
        pos_ = t_.size();
        return false;
      }
      newLineAt(nl + 1);
    }
  }

  void newLineAt(std::size_t p) {
    pos_ = p;
    lineStart_ = p;
    ++line_;
  }

  // After a complete token: the rest of the line must be blank or a comment.
  // Moves to the next line's content and records whether there is any.
  bool finishLine() {
    std::size_t p = pos_;
    while (at(p) == ' ') ++p;
    if (p < t_.size() && t_[p] != '\n' && !isComment(p)) return false;
    const std::size_t nl = t_.find('\n', p);
    if (nl == std::string_view::npos) {
      pos_ = t_.size();
      hasContent_ = false;
      return true;
    }
    newLineAt(nl + 1);
    hasContent_ = atLineContent();
    return !failed_;
  }

  // A block node at pos_ whose indentation is column(): a sequence, a map or a
  // single scalar / flow collection.
  bool parseBlock(uint32_t& out) {
    if (++depth_ > kMaxDepth) return false;
    bool ok = false;
    if (isSeqEntry()) {
      ok = parseBlockSequence(column(), out);
    } else if (scanKey()) {
      ok = parseBlockMap(column(), out);
    } else {
      ok = parseLineValue(out);
    }
    --depth_;
    return ok;
  }

  // Sets the innermost block collection's indentation for as long as it is parsed.
  struct BlockIndent {
    BlockIndent(int& slot, int indent) : slot_(slot), outer_(slot) { slot_ = indent; }
    ~BlockIndent() { slot_ = outer_; }
    int& slot_;
    const int outer_;
  };

  bool parseBlockMap(int indent, uint32_t& out) {
    const BlockIndent scope(blockIndent_, indent);
    out = doc_.open(YamlKind::kMap, mark());
    while (true) {
      std::optional<Key> key = scanKey();
      if (!key) return false;
      pos_ = key->after;
      while (at(pos_) == ' ') ++pos_;
      uint32_t value = 0;
      if (pos_ >= t_.size() || t_[pos_] == '\n' || isComment(pos_)) {
        // The value, if any, is on the lines below.
        const YamlMark here = mark();
        if (!finishLine()) return false;
        const int next = hasContent_ ? column() : -1;
        if (!hasContent_ || next < indent || (next == indent && !isSeqEntry())) {
          value = doc_.addNull(here);
        } else if (next == indent) {
          if (!parseBlockSequence(indent, value)) return false;
        } else if (!parseBlock(value)) {
          return false;
        }
      } else if (!parseLineValue(value)) {
        return false;
      }
      doc_.addChild(key->text, value);
      if (!hasContent_ || column() < indent) break;
      if (column() > indent) return false;  // a continuation line, or bad indentation
    }
    doc_.close(out);
    return true;
  }

  bool parseBlockSequence(int indent, uint32_t& out) {
    const BlockIndent scope(blockIndent_, indent);
    out = doc_.open(YamlKind::kSequence, mark());
    while (true) {
      ++pos_;  // the '-'
      while (at(pos_) == ' ') ++pos_;
      uint32_t item = 0;
      if (pos_ >= t_.size() || t_[pos_] == '\n' || isComment(pos_)) {
        const YamlMark here = mark();
        if (!finishLine()) return false;
        if (!hasContent_ || column() <= indent) {
          item = doc_.addNull(here);
        } else if (!parseBlock(item)) {
          return false;
        }
      } else if (!parseBlock(item)) {  // content on the dash's line, indented by it
        return false;
      }
      doc_.addChild({}, item);
      if (!hasContent_ || column() < indent) break;
      if (column() > indent) return false;
      if (!isSeqEntry()) break;  // a sibling key of the map this sequence is a value of
    }
    doc_.close(out);
    return true;
  }

  // "key:" at pos_ (plain or quoted, followed by a space or the line's end).
  std::optional<Key> scanKey() {
    const char c = at(pos_);
    if (c == '"' || c == '\'') {
      const std::size_t save = pos_;
      std::string_view text;
      const bool ok = scanQuoted(text);
      std::size_t p = pos_;
      pos_ = save;
      if (!ok || at(p) != ':' || !endsToken(p + 1)) return std::nullopt;
      if (p - save > kMaxImplicitKey) return std::nullopt;
      return Key{text, p + 1};
    }
    if (startsIndicator(pos_)) return std::nullopt;
    for (std::size_t p = pos_; p < t_.size() && t_[p] != '\n'; ++p) {
      if (t_[p] == ':' && endsToken(p + 1)) {
        const std::string_view text = trimmed(pos_, p);
        if (text.find_first_of("[]{}") != std::string_view::npos) return std::nullopt;
        // yaml-cpp reads a null-like key ("~", "null") as null, and refuses an
        // implicit key past 1024 characters: both are its to decide.
        if (isNullPlain(text) || p - pos_ > kMaxImplicitKey) return std::nullopt;
        return Key{text, p + 1};
      }
      if (isComment(p)) return std::nullopt;
    }
    return std::nullopt;
  }

  // Characters that may not start a plain scalar here (or that we leave to yaml-cpp).
  bool startsIndicator(std::size_t p) const {
    const char c = at(p);
    if (std::strchr("&*!|>%@`]},#[{\"'", c) != nullptr) return true;
    // '?' (an explicit key in YAML, also before a flow indicator: "[?]") is left to
    // yaml-cpp wherever it starts a scalar.
    if (c == '?') return true;
    return (c == '-' || c == ':') && endsToken(p + 1);
  }

  // A value that ends on its line: quoted, flow, or plain; then the line's end.
  bool parseLineValue(uint32_t& out) {
    const YamlMark here = mark();
    const char c = at(pos_);
    if (c == '"' || c == '\'') {
      std::string_view text;
      if (!scanQuoted(text)) return false;
      out = doc_.addScalar(text, true, here);
    } else if (c == '[' || c == '{') {
      if (!parseFlow(out)) return false;
    } else {
      if (startsIndicator(pos_)) return false;
      std::size_t p = pos_;
      while (p < t_.size() && t_[p] != '\n' && !isComment(p)) {
        if (t_[p] == ':' && endsToken(p + 1)) return false;  // "a: b: c"
        ++p;
      }
      const std::string_view text = trimmed(pos_, p);
      if (text.find_first_of("[]{}") != std::string_view::npos) return false;
      pos_ += text.size();
      out = addPlain(text, here);
    }
    return finishLine();
  }

  // A quoted scalar at pos_, closed on the same line; pos_ moves past it.
  bool scanQuoted(std::string_view& out) {
    const char q = t_[pos_];
    const std::size_t start = pos_ + 1;
    std::size_t p = start;
    bool escaped = false;
    while (true) {
      if (p >= t_.size() || t_[p] == '\n') return false;  // multi-line: yaml-cpp's job
      if (t_[p] == q) {
        if (q == '\'' && at(p + 1) == '\'') {
          escaped = true;
          p += 2;
          continue;
        }
        break;
      }
      if (q == '"' && t_[p] == '\\') {
        escaped = true;
        p += 2;
        continue;
      }
      ++p;
    }
    const std::string_view raw = t_.substr(start, p - start);
    pos_ = p + 1;
    if (!escaped) {
      out = raw;
      return true;
    }
    std::string text;
    if (!(q == '\'' ? unquoteSingle(raw, text) : unquoteDouble(raw, text))) return false;
    out = doc_.own(std::move(text));
    return true;
  }

  static bool unquoteSingle(std::string_view raw, std::string& out) {
    for (std::size_t i = 0; i < raw.size(); ++i) {
      out += raw[i];
      if (raw[i] == '\'') ++i;  // '' is one quote
    }
    return true;
  }

  static void appendUtf8(uint32_t cp, std::string& out) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  // JSON's escapes; any other (YAML's \x, \U, \0, ...) goes to yaml-cpp.
  static bool unquoteDouble(std::string_view raw, std::string& out) {
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] != '\\') {
        out += raw[i];
        continue;
      }
      if (++i >= raw.size()) return false;
      switch (raw[i]) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          if (i + 4 >= raw.size()) return false;
          uint32_t cp = 0;
          for (int k = 1; k <= 4; ++k) {
            const char h = raw[i + k];
            cp <<= 4;
            if (h >= '0' && h <= '9') {
              cp |= h - '0';
            } else if (h >= 'a' && h <= 'f') {
              cp |= h - 'a' + 10;
            } else if (h >= 'A' && h <= 'F') {
              cp |= h - 'A' + 10;
            } else {
              return false;
            }
          }
          if (cp >= 0xD800 && cp <= 0xDFFF) return false;  // surrogate pairs
          appendUtf8(cp, out);
          i += 4;
          break;
        }
        default:
          return false;
      }
    }
    return true;
  }

  // Spaces, newlines and comments inside a flow collection.
  void skipFlowSpace() {
    while (pos_ < t_.size()) {
      const char c = t_[pos_];
      if (c == ' ') {
        ++pos_;
      } else if (c == '\n') {
        newLineAt(pos_ + 1);
        // A flow collection's next line must be indented past the block it is in,
        // and cannot be a document marker.
        std::size_t p = pos_;
        while (p < t_.size() && t_[p] == ' ') ++p;
        if ((p < t_.size() && t_[p] != '\n' && static_cast<int>(p - pos_) <= blockIndent_) ||
            isMarker("...") || isMarker("---")) {
          failed_ = true;
          pos_ = t_.size();
          return;
        }
      } else if (isComment(pos_)) {
        const std::size_t nl = t_.find('\n', pos_);
        pos_ = nl == std::string_view::npos ? t_.size() : nl;
      } else {
        return;
      }
    }
  }

  bool parseFlow(uint32_t& out) {
    if (++depth_ > kMaxDepth) return false;
    const bool isMap = t_[pos_] == '{';
    const char close = isMap ? '}' : ']';
    out = doc_.open(isMap ? YamlKind::kMap : YamlKind::kSequence, mark());
    ++pos_;
    skipFlowSpace();
    if (at(pos_) == close) {
      ++pos_;
    } else {
      while (true) {
        std::string_view key;
        if (isMap) {
          if (!scanFlowKey(key)) return false;
          skipFlowSpace();
        }
        uint32_t value = 0;
        if (isMap && (at(pos_) == ',' || at(pos_) == '}')) {
          value = doc_.addNull(mark());
        } else if (!parseFlowValue(value)) {
          return false;
        }
        doc_.addChild(key, value);
        skipFlowSpace();
        if (at(pos_) == close) {
          ++pos_;
          break;
        }
        if (at(pos_) != ',') return false;
        ++pos_;
        skipFlowSpace();
        if (at(pos_) == close) return false;  // a trailing comma
      }
    }
    doc_.close(out);
    --depth_;
    return true;
  }

  // "key:" inside a flow map; a quoted key may touch its colon, as in JSON.
  bool scanFlowKey(std::string_view& key) {
    const char c = at(pos_);
    const std::size_t start = pos_;
    if (c == '"' || c == '\'') {
      if (!scanQuoted(key)) return false;
      // An implicit key and its ':' share a line (JSON's `"a" : 1` does).
      while (at(pos_) == ' ') ++pos_;
      if (at(pos_) != ':' || pos_ - start > kMaxImplicitKey) return false;
      ++pos_;
      return true;
    }
    if (startsIndicator(pos_)) return false;
    key = scanFlowPlain();
    if (at(pos_) != ':' || !endsToken(pos_ + 1)) return false;
    if (isNullPlain(key) || pos_ - start > kMaxImplicitKey) return false;
    ++pos_;
    return !key.empty();
  }

  bool parseFlowValue(uint32_t& out) {
    const YamlMark here = mark();
    const char c = at(pos_);
    if (c == '"' || c == '\'') {
      std::string_view text;
      if (!scanQuoted(text)) return false;
      out = doc_.addScalar(text, true, here);
      return true;
    }
    if (c == '[' || c == '{') return parseFlow(out);
    if (startsIndicator(pos_)) return false;
    const std::string_view text = scanFlowPlain();
    if (at(pos_) == ':' && pos_ < t_.size()) return false;  // "a:b" or a key: not ours
    out = addPlain(text, here);
    return true;
  }

  // A plain scalar inside a flow collection: up to a flow character, a comment or
  // the line's end (where pos_ stays); returned without trailing spaces.
  std::string_view scanFlowPlain() {
    const std::size_t start = pos_;
    while (pos_ < t_.size() && std::strchr(":,[]{}\n", t_[pos_]) == nullptr && !isComment(pos_)) {
      // yaml-cpp reads a '?' inside a flow scalar otherwise than YAML does: its call.
      if (t_[pos_] == '?') failed_ = true;
      ++pos_;
    }
    return trimmed(start, pos_);
  }

  std::string_view t_;
  YamlDocument& doc_;
  std::size_t pos_ = 0;
  std::size_t lineStart_ = 0;
  int line_ = 0;
  int depth_ = 0;
  int blockIndent_ = -1;  // the innermost block collection's indentation; -1 at the root
  bool hasContent_ = false;
  bool failed_ = false;
};

}  // namespace

bool parseYamlSubset(std::string_view text, YamlDocument& out) {
  out.clear();
  Scanner scanner(text, out);
  if (scanner.run()) return true;
  out.clear();
  return false;
}

}  // namespace svcnft::manifest
