#include "common/yaml_document.h"

#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/container/flat_hash_map.h"
#include "yaml.h"
#include "common/utf8.h"

namespace plumb {

namespace {

// Beyond these a document is an attack (alias bombs, deep nesting), not configuration.
constexpr int kMaxDepth = 64;
constexpr size_t kMaxNodes = 250000;
// Bytes of a document after alias expansion: every scalar's length plus one per node. A few
// aliases of a large scalar stay under kMaxNodes yet would copy gigabytes (billion laughs).
// docs/repository-format.md states it.
constexpr size_t kMaxExpandedBytes = 32 << 20;

YamlMark MarkAt(absl::string_view text, size_t offset) {
  YamlMark mark{1, 1};
  for (size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++mark.line;
      mark.column = 1;
    } else {
      ++mark.column;
    }
  }
  return mark;
}

}  // namespace

const YamlNode* YamlNode::Find(absl::string_view key) const {
  for (const auto& [k, v] : entries_) {
    if (k.scalar_ == key) return &v;
  }
  return nullptr;
}

std::string YamlNode::KindName() const {
  switch (kind_) {
    case Kind::kNull:
      return "null";
    case Kind::kScalar:
      return "a string";
    case Kind::kSequence:
      return "a list";
    case Kind::kMap:
      return "a map";
  }
  return "?";
}

// Builds YamlNodes from libyaml's parser events in one pass. Aliases copy their anchor's
// finished node (counted against kMaxNodes, so alias bombs stop early). Returns false with
// error() set on the first problem.
class YamlBuilder {
 public:
  // `root` stays null, marked 1:1, when the text holds no document.
  explicit YamlBuilder(YamlNode* root) : root_(root) { root_->mark_ = YamlMark{1, 1}; }

  const YamlError& error() const { return error_; }

  // Handles one event inside the first document.
  bool Handle(const yaml_event_t& event) {
    YamlMark mark{static_cast<int>(event.start_mark.line) + 1,
                  static_cast<int>(event.start_mark.column) + 1};
    switch (event.type) {
      case YAML_SCALAR_EVENT: {
        const auto& scalar = event.data.scalar;
        if (!AddBytes(mark, scalar.length)) return false;
        YamlNode* node = Begin(mark);
        if (node == nullptr) return false;
        std::string value(reinterpret_cast<const char*>(scalar.value), scalar.length);
        std::string tag = scalar.tag != nullptr ? reinterpret_cast<const char*>(scalar.tag) : "";
        bool plain = scalar.style == YAML_PLAIN_SCALAR_STYLE || scalar.style == YAML_ANY_SCALAR_STYLE;
        if (plain && tag.empty() &&
            (value.empty() || value == "~" || value == "null" || value == "Null" ||
             value == "NULL")) {
          node->kind_ = YamlNode::Kind::kNull;
        } else {
          node->kind_ = YamlNode::Kind::kScalar;
          node->scalar_ = std::move(value);
          node->quoted_ = !plain || tag == "tag:yaml.org,2002:str";
        }
        return End(Anchor(scalar.anchor), 1, scalar.length + 1);
      }
      case YAML_ALIAS_EVENT: {
        auto it = anchors_.find(Anchor(event.data.alias.anchor));
        if (it == anchors_.end()) {
          return Fail(mark, "alias refers to a node that contains it (recursive alias) or to "
                            "no anchor");
        }
        const Anchored& anchored = it->second;
        // Checked before the copy: the copy is what a bomb would make huge.
        if (!AddBytes(mark, anchored.bytes - 1)) return false;  // Begin's node adds one
        nodes_ += anchored.count - 1;  // Begin counts one
        YamlNode* node = Begin(mark);
        if (node == nullptr) return false;
        *node = anchored.node;  // keeps the anchored node's marks
        return End("", anchored.count, anchored.bytes);
      }
      case YAML_SEQUENCE_START_EVENT:
      case YAML_MAPPING_START_EVENT: {
        if (!AddBytes(mark, 0)) return false;
        YamlNode* node = Begin(mark);
        if (node == nullptr) return false;
        bool seq = event.type == YAML_SEQUENCE_START_EVENT;
        node->kind_ = seq ? YamlNode::Kind::kSequence : YamlNode::Kind::kMap;
        if (stack_.size() >= static_cast<size_t>(kMaxDepth)) {
          return Fail(mark, "document is nested too deeply");
        }
        Frame frame;
        frame.node = node;
        frame.anchor = Anchor(seq ? event.data.sequence_start.anchor
                                  : event.data.mapping_start.anchor);
        frame.nodes_before = nodes_;
        frame.bytes_before = bytes_ - 1;  // its own node's byte included
        stack_.push_back(std::move(frame));
        return true;
      }
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT: {
        Frame frame = std::move(stack_.back());
        stack_.pop_back();
        return End(frame.anchor, nodes_ - frame.nodes_before + 1, bytes_ - frame.bytes_before);
      }
      default:
        return true;  // stream and document events
    }
  }

 private:
  // An open sequence or map.
  struct Frame {
    YamlNode* node;
    std::string anchor;
    size_t nodes_before;  // nodes_ when it began (its own node included)
    size_t bytes_before;  // bytes_ before it began
    bool want_value = false;  // maps: the next node is the value of entries_.back()
    absl::flat_hash_set<std::string> keys;  // maps: for duplicate detection
  };
  struct Anchored {
    YamlNode node;
    size_t count = 0;  // nodes in it
    size_t bytes = 0;  // its expanded bytes (see kMaxExpandedBytes)
  };

  // Counts one more node of `scalar_bytes`; fails, located at `mark`, past kMaxExpandedBytes.
  bool AddBytes(const YamlMark& mark, size_t scalar_bytes) {
    bytes_ += scalar_bytes + 1;
    if (bytes_ <= kMaxExpandedBytes) return true;
    return Fail(mark, absl::StrCat("document expands to more than ", kMaxExpandedBytes,
                                   " bytes (alias bomb?)"));
  }

  static std::string Anchor(const yaml_char_t* anchor) {
    return anchor != nullptr ? reinterpret_cast<const char*>(anchor) : "";
  }

  YamlMark Fallback() const {
    return stack_.empty() ? YamlMark{1, 1} : stack_.back().node->mark_;
  }

  // The slot for the next node, where the parser is now; null after Fail.
  YamlNode* Begin(const YamlMark& mark) {
    if (++nodes_ > kMaxNodes) {
      Fail(Fallback(), "document has too many nodes (alias bomb?)");
      return nullptr;
    }
    YamlNode* node;
    if (stack_.empty()) {
      node = root_;
    } else {
      Frame& top = stack_.back();
      if (top.node->IsSequence()) {
        top.node->items_.emplace_back();
        node = &top.node->items_.back();
      } else if (!top.want_value) {
        top.node->entries_.emplace_back();
        node = &top.node->entries_.back().first;
      } else {
        node = &top.node->entries_.back().second;
      }
    }
    node->mark_ = mark;
    return node;
  }

  // The node last begun (and, for containers, closed) is complete.
  bool End(const std::string& anchor, size_t count, size_t bytes) {
    const YamlNode* done = root_;
    if (!stack_.empty()) {
      Frame& top = stack_.back();
      if (top.node->IsSequence()) {
        done = &top.node->items_.back();
      } else if (!top.want_value) {
        YamlNode& key = top.node->entries_.back().first;
        if (!key.IsScalar()) {
          return Fail(key.mark_, absl::StrCat("map key must be a string, got ", key.KindName()));
        }
        if (!top.keys.insert(key.scalar_).second) {
          return Fail(key.mark_, absl::StrCat("duplicate key '", key.scalar_, "'"));
        }
        top.want_value = true;
        done = &key;
      } else {
        auto& [key, value] = top.node->entries_.back();
        // An empty value is marked at the token after it, often the next line: use its key.
        if (value.IsNull() && value.mark_.line != key.mark_.line) value.mark_ = key.mark_;
        top.want_value = false;
        done = &value;
      }
    }
    if (!anchor.empty()) anchors_[anchor] = Anchored{*done, count, bytes};
    return true;
  }

  bool Fail(const YamlMark& mark, std::string message) {
    error_ = YamlError{mark, std::move(message)};
    return false;
  }

  YamlNode* const root_;
  std::vector<Frame> stack_;
  absl::flat_hash_map<std::string, Anchored> anchors_;
  size_t nodes_ = 0;
  size_t bytes_ = 0;
  YamlError error_;
};

namespace {

// Owns a libyaml parser.
class Parser {
 public:
  explicit Parser(absl::string_view text) {
    yaml_parser_initialize(&parser_);
    yaml_parser_set_input_string(&parser_, reinterpret_cast<const unsigned char*>(text.data()),
                                 text.size());
    yaml_parser_set_encoding(&parser_, YAML_UTF8_ENCODING);
  }
  ~Parser() { yaml_parser_delete(&parser_); }

  // The next event (owned by the caller: yaml_event_delete), or false with `err` set.
  bool Next(yaml_event_t* event, YamlError* err) {
    if (yaml_parser_parse(&parser_, event)) return true;
    const yaml_mark_t& at = parser_.problem_mark;
    std::string problem = parser_.problem != nullptr ? parser_.problem : "invalid YAML";
    if (parser_.context != nullptr) problem = absl::StrCat(parser_.context, ": ", problem);
    *err = YamlError{YamlMark{static_cast<int>(at.line) + 1, static_cast<int>(at.column) + 1},
                     std::move(problem)};
    return false;
  }

 private:
  yaml_parser_t parser_;
};

// One pass over the text: the first document is built as it is parsed, then one more event
// tells whether a second document follows.
void LoadDocument(absl::string_view text, YamlNode* root, YamlError* err) {
  YamlBuilder builder(root);
  Parser parser(text);
  int documents = 0;
  while (true) {
    yaml_event_t event;
    if (!parser.Next(&event, err)) return;
    yaml_event_type_t type = event.type;
    bool ok = true;
    if (type == YAML_DOCUMENT_START_EVENT && ++documents > 1) {
      *err = YamlError{YamlMark{static_cast<int>(event.start_mark.line) + 1,
                                static_cast<int>(event.start_mark.column) + 1},
                       "only one YAML document per file is allowed"};
      ok = false;
    } else if (!builder.Handle(event)) {
      *err = builder.error();
      ok = false;
    }
    yaml_event_delete(&event);
    if (!ok || type == YAML_STREAM_END_EVENT) return;
  }
}

}  // namespace

absl::StatusOr<YamlNode> ParseYaml(absl::string_view text, absl::string_view file,
                                   YamlError* error) {
  YamlError local;
  YamlError& err = error != nullptr ? *error : local;
  err = YamlError{};
  YamlNode root;
  size_t bad = FirstInvalidUtf8(text);
  if (bad != absl::string_view::npos) {
    err = YamlError{MarkAt(text, bad), "invalid UTF-8"};
  } else {
    LoadDocument(text, &root, &err);
  }
  if (!err.message.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(file, ":", err.mark.line, ":", err.mark.column, ": ", err.message));
  }
  return root;
}

}  // namespace plumb
