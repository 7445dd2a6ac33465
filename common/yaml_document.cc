#include "common/yaml_document.h"

#include <exception>
#include <sstream>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "yaml-cpp/eventhandler.h"
#include "yaml-cpp/yaml.h"

namespace plumb {

namespace {

// Beyond these a document is an attack (alias bombs, deep nesting), not configuration.
constexpr int kMaxDepth = 64;
constexpr size_t kMaxNodes = 250000;

YamlMark ToMark(const YAML::Mark& mark, const YamlMark& fallback) {
  // yaml-cpp marks are 0-based; null nodes made from an empty value carry no mark.
  if (mark.line < 0 || mark.column < 0) return fallback;
  return YamlMark{mark.line + 1, mark.column + 1};
}

// Returns the offset of the first byte that is not part of well-formed UTF-8 (no overlong
// forms, surrogates or code points above U+10FFFF), or npos. Protobuf strings must be UTF-8,
// so a catalog could not even be sent otherwise.
size_t FirstInvalidUtf8(absl::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    int length = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // bounds of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      length = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      length = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      length = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return i;
    }
    if (i + length > text.size()) return i;
    for (int k = 1; k < length; ++k) {
      unsigned char b = static_cast<unsigned char>(text[i + k]);
      if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) return i;
    }
    i += length;
  }
  return absl::string_view::npos;
}

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

// Builds YamlNodes straight from yaml-cpp's parser events: one pass over the text, no
// intermediate YAML::Node graph. Aliases copy their anchor's finished node (counted against
// kMaxNodes, so alias bombs stop early). Everything that can throw runs under LoadDocument's
// try block; a problem found here throws StopParse after recording error().
class YamlBuilder : public YAML::EventHandler {
 public:
  struct StopParse {};

  // `root` stays null, marked 1:1, when the text holds no document.
  explicit YamlBuilder(YamlNode* root) : root_(root) { root_->mark_ = YamlMark{1, 1}; }

  const YamlError& error() const { return error_; }

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    YamlNode* node = Begin(mark);
    node->kind_ = YamlNode::Kind::kNull;
    End(anchor, 1);
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    YamlNode* node = Begin(mark);
    node->kind_ = YamlNode::Kind::kScalar;
    node->scalar_ = value;
    node->quoted_ = tag == "!" || tag == "tag:yaml.org,2002:str";
    End(anchor, 1);
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (anchor == 0 || anchor > anchors_.size() || anchors_[anchor - 1].count == 0) {
      Fail(ToMark(mark, Fallback()), "alias refers to a node that contains it (recursive alias)");
    }
    const Anchored& anchored = anchors_[anchor - 1];
    nodes_ += anchored.count - 1;  // Begin counts one
    YamlNode* node = Begin(mark);
    *node = anchored.node;  // keeps the anchored node's marks, as yaml-cpp's Load did
    End(0, anchored.count);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    YamlNode* node = Begin(mark);
    node->kind_ = YamlNode::Kind::kSequence;
    Open(node, anchor);
  }
  void OnSequenceEnd() override { Close(); }

  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    YamlNode* node = Begin(mark);
    node->kind_ = YamlNode::Kind::kMap;
    Open(node, anchor);
  }
  void OnMapEnd() override { Close(); }

 private:
  // An open sequence or map.
  struct Frame {
    YamlNode* node;
    YAML::anchor_t anchor;
    size_t nodes_before;  // nodes_ when it began (its own node included)
    bool want_value = false;  // maps: the next node is the value of entries_.back()
    absl::flat_hash_set<std::string> keys;  // maps: for duplicate detection
  };
  struct Anchored {
    YamlNode node;
    size_t count = 0;  // nodes in it; 0: not finished
  };

  YamlMark Fallback() const {
    return stack_.empty() ? YamlMark{1, 1} : stack_.back().node->mark_;
  }

  // The slot for the next node, where the parser is now.
  YamlNode* Begin(const YAML::Mark& mark) {
    if (++nodes_ > kMaxNodes) Fail(Fallback(), "document has too many nodes (alias bomb?)");
    YamlNode* node;
    if (stack_.empty()) {
      if (root_started_) Fail(Fallback(), "unexpected second root node");
      root_started_ = true;
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
    node->mark_ = ToMark(mark, Fallback());
    return node;
  }

  void Open(YamlNode* node, YAML::anchor_t anchor) {
    if (stack_.size() >= static_cast<size_t>(kMaxDepth)) {
      Fail(node->mark_, "document is nested too deeply");
    }
    Frame frame;
    frame.node = node;
    frame.anchor = anchor;
    frame.nodes_before = nodes_;
    stack_.push_back(std::move(frame));
  }

  void Close() {
    Frame frame = std::move(stack_.back());
    stack_.pop_back();
    End(frame.anchor, nodes_ - frame.nodes_before + 1);
  }

  // The node last begun (and, for containers, closed) is complete.
  void End(YAML::anchor_t anchor, size_t count) {
    const YamlNode* done = root_;
    if (!stack_.empty()) {
      Frame& top = stack_.back();
      if (top.node->IsSequence()) {
        done = &top.node->items_.back();
      } else if (!top.want_value) {
        YamlNode& key = top.node->entries_.back().first;
        if (!key.IsScalar()) {
          Fail(key.mark_, absl::StrCat("map key must be a string, got ", key.KindName()));
        }
        if (!top.keys.insert(key.scalar_).second) {
          Fail(key.mark_, absl::StrCat("duplicate key '", key.scalar_, "'"));
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
    if (anchor != 0) {
      if (anchors_.size() < anchor) anchors_.resize(anchor);
      anchors_[anchor - 1] = Anchored{*done, count};
    }
  }

  [[noreturn]] void Fail(const YamlMark& mark, std::string message) {
    error_ = YamlError{mark, std::move(message)};
    throw StopParse{};
  }

  YamlNode* const root_;
  bool root_started_ = false;
  std::vector<Frame> stack_;
  std::vector<Anchored> anchors_;  // by yaml-cpp's anchor id - 1
  size_t nodes_ = 0;
  YamlError error_;
};

namespace {

// Notes where a document starts and ignores everything else.
class DocumentStarts : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override { start = mark; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
  YAML::Mark start = YAML::Mark::null_mark();
};

// Everything that touches yaml-cpp's throwing API runs here. One parser, one pass: the first
// document is built as it is parsed, then one more step tells whether a second one follows.
// (Not YAML::LoadAll: in yaml-cpp 0.7 it loops forever, eating memory, on input such as ","
// — jbeder/yaml-cpp#1040, fixed upstream in 2024. Two bounded steps of a parser are safe.)
void LoadDocument(absl::string_view text, YamlNode* root, YamlError* err) {
  YamlBuilder builder(root);
  try {
    std::istringstream stream{std::string(text)};
    YAML::Parser parser(stream);
    if (!parser.HandleNextDocument(builder)) return;  // no document: null
    DocumentStarts starts;
    if (parser.HandleNextDocument(starts)) {
      *err = YamlError{ToMark(starts.start, YamlMark{1, 1}),
                       "only one YAML document per file is allowed"};
    }
  } catch (const YamlBuilder::StopParse&) {
    *err = builder.error();
  } catch (const YAML::Exception& e) {
    // e.msg is the bare message; e.what() repeats the mark in yaml-cpp's own format.
    *err = YamlError{ToMark(e.mark, YamlMark{1, 1}), e.msg};
  } catch (const std::exception& e) {
    *err = YamlError{YamlMark{1, 1}, e.what()};
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
