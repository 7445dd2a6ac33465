#pragma once

// Plumb's mustache renderer. Supports variables {{x}} (HTML-escaped), {{{x}}} and {{& x}}
// (raw), dotted names (vars.port, facts.os.id), sections {{#x}}..{{/x}} over truthy values,
// lists and maps, inverted sections {{^x}}..{{/x}}, the implicit iterator {{.}} and comments
// {{! ... }}, with the spec's standalone-line rule. Unlike most mustache implementations, a
// variable that does not resolve is an error naming its line and name, never "".
// Not supported (parse errors): partials, set-delimiter tags, lambdas.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace plumb {

// A value templates can read: a string, a list, a map of names, or a string that also has
// named children (a flat fact "os" next to "os.id"). Plain data; thread-compatible.
class MustacheValue {
 public:
  MustacheValue() = default;  // An empty map.
  static MustacheValue String(std::string text);
  static MustacheValue List(std::vector<MustacheValue> items);

  bool has_string() const { return has_string_; }
  const std::string& string() const { return string_; }
  bool is_list() const { return is_list_; }
  const std::vector<MustacheValue>& list() const { return list_; }
  const std::map<std::string, MustacheValue>& children() const { return children_; }

  // The child `name`, created (as an empty map) if missing.
  MustacheValue* MutableChild(const std::string& name) { return &children_[name]; }
  void SetString(std::string text);
  // Stores `text` under a dotted path: SetPath("os.id", "debian") makes children os -> id.
  // Returns false, storing nothing, if the path has more than kMaxPathDepth parts: paths come
  // from facts and labels (the wire, an agent's config), and nesting (and so destroying and
  // copying, which recurse) must not go as deep as they say.
  bool SetPath(absl::string_view dotted, std::string text);
  static constexpr int kMaxPathDepth = 16;
  // Returns the child, or nullptr.
  const MustacheValue* Child(const std::string& name) const;

  // Section truthiness: false for "", "false", empty lists; true for maps and other strings.
  bool Truthy() const;

 private:
  bool has_string_ = false;
  std::string string_;
  bool is_list_ = false;
  std::vector<MustacheValue> list_;
  std::map<std::string, MustacheValue> children_;
};

// Where and why parsing or rendering failed. line/column are 1-based positions in the
// template text.
struct MustacheError {
  int line = 0;
  int column = 0;
  std::string message;
  // The template went over a bound (kMaxMustacheOutputBytes, kMaxMustacheSectionDepth) rather
  // than meeting a name that does not resolve.
  bool over_limit = false;
  // For a name that does not resolve (or is not a string): the name as written in the tag.
  std::string name;
};

// Bounds on what a template may do, so one commit cannot exhaust the server. A render whose
// output passes kMaxMustacheOutputBytes fails, located at the tag being rendered; a template
// whose sections nest deeper than kMaxMustacheSectionDepth does not parse. Rendering recurses
// once per nesting level, so the depth bound also bounds the stack. docs/repository-format.md
// states both.
inline constexpr size_t kMaxMustacheOutputBytes = 16 << 20;  // 16 MiB per rendered file
inline constexpr int kMaxMustacheSectionDepth = 32;

// A parsed template. Immutable after Parse; thread-safe.
class MustacheTemplate {
 public:
  struct Node;

  ~MustacheTemplate();
  // Returns nullptr and fills `error` when `text` is not a valid template (unclosed or
  // mismatched sections, unterminated tags, empty names, unsupported tags).
  static std::unique_ptr<MustacheTemplate> Parse(absl::string_view text, MustacheError* error);

  // Renders against `context` (the top of the context stack). Returns false and fills `error`
  // when a name does not resolve or a variable names a list or a map.
  bool Render(const MustacheValue& context, std::string* out, MustacheError* error) const;

  // Every name a tag of the template mentions (variables and sections), deduplicated, in
  // order of first appearance. A render reads nothing else from the top-level context
  // except through these names, so callers can tell which inputs a template depends on.
  const std::vector<std::string>& names() const { return names_; }

 private:
  MustacheTemplate();
  std::unique_ptr<Node> root_;
  std::vector<std::string> names_;
};

// Escapes & < > " ' for HTML, as {{x}} does.
std::string MustacheEscape(absl::string_view text);

}  // namespace plumb
