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

// Copies a yaml-cpp node graph into YamlNodes. Everything that can throw runs under the
// try block of ParseYaml.
class YamlBuilder {
 public:
  // Returns false with `error_` set on the first problem.
  bool Build(const YAML::Node& in, const YamlMark& fallback, int depth, YamlNode* out) {
    if (++nodes_ > kMaxNodes) return Fail(fallback, "document has too many nodes (alias bomb?)");
    if (depth > kMaxDepth) return Fail(fallback, "document is nested too deeply");
    out->mark_ = ToMark(in.Mark(), fallback);
    switch (in.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        out->kind_ = YamlNode::Kind::kNull;
        return true;
      case YAML::NodeType::Scalar:
        out->kind_ = YamlNode::Kind::kScalar;
        out->scalar_ = in.Scalar();
        out->quoted_ = in.Tag() == "!" || in.Tag() == "tag:yaml.org,2002:str";
        return true;
      case YAML::NodeType::Sequence:
        out->kind_ = YamlNode::Kind::kSequence;
        for (const YAML::Node& item : in) {
          out->items_.emplace_back();
          if (!Build(item, out->mark_, depth + 1, &out->items_.back())) return false;
        }
        return true;
      case YAML::NodeType::Map:
        out->kind_ = YamlNode::Kind::kMap;
        return BuildMap(in, depth, out);
    }
    return Fail(out->mark_, "unknown YAML node type");
  }

  const YamlError& error() const { return error_; }

 private:
  bool BuildMap(const YAML::Node& in, int depth, YamlNode* out) {
    absl::flat_hash_set<std::string> seen;
    for (auto it = in.begin(); it != in.end(); ++it) {
      out->entries_.emplace_back();
      auto& [key, value] = out->entries_.back();
      if (!Build(it->first, out->mark_, depth + 1, &key)) return false;
      if (!key.IsScalar()) {
        return Fail(key.mark_, absl::StrCat("map key must be a string, got ", key.KindName()));
      }
      if (!seen.insert(key.scalar_).second) {
        return Fail(key.mark_, absl::StrCat("duplicate key '", key.scalar_, "'"));
      }
      if (!Build(it->second, key.mark_, depth + 1, &value)) return false;
      // An empty value is marked at the token after it, often the next line: use its key.
      if (value.IsNull() && value.mark_.line != key.mark_.line) value.mark_ = key.mark_;
    }
    return true;
  }

  bool Fail(const YamlMark& mark, std::string message) {
    error_ = YamlError{mark, std::move(message)};
    return false;
  }

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

// Everything that touches yaml-cpp's throwing API runs here.
void LoadDocument(absl::string_view text, YamlNode* root, YamlError* err) {
  try {
    std::string input(text.data(), text.size());
    YAML::Node doc = YAML::Load(input);
    // Not YAML::LoadAll: in yaml-cpp 0.7 it loops forever, eating memory, on input such as
    // "," (jbeder/yaml-cpp#1040, fixed upstream in 2024). Two bounded steps of a parser
    // tell whether a second document follows.
    std::istringstream stream(input);
    YAML::Parser parser(stream);
    DocumentStarts starts;
    if (parser.HandleNextDocument(starts) && parser.HandleNextDocument(starts)) {
      *err = YamlError{ToMark(starts.start, YamlMark{1, 1}),
                       "only one YAML document per file is allowed"};
      return;
    }
    YamlBuilder builder;
    if (!builder.Build(doc, YamlMark{1, 1}, 0, root)) *err = builder.error();
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
