#pragma once

// The one YAML parser (libyaml underneath). Parses YAML text into an owned tree of YamlNodes
// that keeps every node's position (1-based line and column) and whether a scalar was quoted,
// and reports every problem as an error with file:line:col. Nothing else includes yaml.h.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace plumb {

// A position in a YAML file; 1-based. line == 0 means unknown.
struct YamlMark {
  int line = 0;
  int column = 0;
};

// One node of a parsed YAML document. Plain data; thread-compatible.
class YamlNode {
 public:
  enum class Kind { kNull, kScalar, kSequence, kMap };

  Kind kind() const { return kind_; }
  bool IsNull() const { return kind_ == Kind::kNull; }
  bool IsScalar() const { return kind_ == Kind::kScalar; }
  bool IsSequence() const { return kind_ == Kind::kSequence; }
  bool IsMap() const { return kind_ == Kind::kMap; }
  const YamlMark& mark() const { return mark_; }

  // Scalars: the text, and whether it was written quoted ('...' or "...", or tagged !!str),
  // which tells `mode: "0644"` from `mode: 644`.
  const std::string& scalar() const { return scalar_; }
  bool quoted() const { return quoted_; }

  // Sequences.
  const std::vector<YamlNode>& items() const { return items_; }
  // Maps, in document order. Keys are scalars (the parser rejects others).
  const std::vector<std::pair<YamlNode, YamlNode>>& entries() const { return entries_; }
  // The value for `key` in a map, or nullptr.
  const YamlNode* Find(absl::string_view key) const;

  // "a string", "a list", "a map", "null": for messages.
  std::string KindName() const;

 private:
  friend class YamlBuilder;
  Kind kind_ = Kind::kNull;
  YamlMark mark_;
  std::string scalar_;
  bool quoted_ = false;
  std::vector<YamlNode> items_;
  std::vector<std::pair<YamlNode, YamlNode>> entries_;
};

// A YAML syntax error, located.
struct YamlError {
  YamlMark mark;
  std::string message;
};

// Parses the first document of `text`. An empty document parses to a null node. Returns an
// InvalidArgument status whose message is "FILE:LINE:COL: what" when the text is not YAML,
// has duplicate or non-scalar map keys, more than one document, or is absurdly deep or large
// (alias bombs). When `error` is non-null it receives the location and message separately.
absl::StatusOr<YamlNode> ParseYaml(absl::string_view text, absl::string_view file,
                                   YamlError* error = nullptr);

}  // namespace plumb
