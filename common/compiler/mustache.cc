#include "common/compiler/mustache.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace plumb {

// One piece of a parsed template: literal text, a variable, or a (possibly inverted) section
// holding its children.
struct MustacheTemplate::Node {
  enum class Kind { kRoot, kText, kVariable, kSection, kInverted };
  Kind kind = Kind::kRoot;
  std::string text;                // literal text, or the tag's name
  std::vector<std::string> parts;  // the name split at '.', once at parse time
  bool escape = true;
  int line = 0;
  int column = 0;
  std::vector<Node> children;
};

MustacheValue MustacheValue::String(std::string text) {
  MustacheValue v;
  v.SetString(std::move(text));
  return v;
}

MustacheValue MustacheValue::List(std::vector<MustacheValue> items) {
  MustacheValue v;
  v.is_list_ = true;
  v.list_ = std::move(items);
  return v;
}

void MustacheValue::SetString(std::string text) {
  has_string_ = true;
  string_ = std::move(text);
}

bool MustacheValue::SetPath(absl::string_view dotted, std::string text) {
  if (std::count(dotted.begin(), dotted.end(), '.') >= kMaxPathDepth) return false;
  MustacheValue* at = this;
  for (absl::string_view part : absl::StrSplit(dotted, '.')) {
    at = at->MutableChild(std::string(part));
  }
  at->SetString(std::move(text));
  return true;
}

const MustacheValue* MustacheValue::Child(const std::string& name) const {
  auto it = children_.find(name);
  return it == children_.end() ? nullptr : &it->second;
}

bool MustacheValue::Truthy() const {
  if (is_list_) return !list_.empty();
  if (has_string_) return !string_.empty() && string_ != "false";
  return true;
}

std::string MustacheEscape(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

namespace {

using Node = MustacheTemplate::Node;

// Turns template text into a Node tree.
class MustacheParser {
 public:
  explicit MustacheParser(absl::string_view text) : text_(text) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '\n') line_starts_.push_back(i + 1);
    }
  }

  bool Parse(Node* root, std::vector<std::string>* names, MustacheError* error) {
    std::vector<Node*> stack = {root};
    size_t pos = 0;
    size_t last_tag_end = 0;
    while (true) {
      size_t open = text_.find("{{", pos);
      if (open == absl::string_view::npos) {
        AddText(stack.back(), text_.substr(pos));
        break;
      }
      char sigil = open + 2 < text_.size() ? text_[open + 2] : '\0';
      absl::string_view closer = sigil == '{' ? "}}}" : "}}";
      bool has_sigil =
          sigil != '\0' && absl::string_view("{&#^/!>=").find(sigil) != absl::string_view::npos;
      size_t body = open + 2 + (has_sigil ? 1 : 0);
      size_t close = text_.find(closer, body);
      if (close == absl::string_view::npos) return Fail(open, "unterminated tag", error);
      size_t tag_end = close + closer.size();
      std::string name(absl::StripAsciiWhitespace(text_.substr(body, close - body)));

      size_t next = tag_end;
      size_t text_end = open;
      if (has_sigil && absl::string_view("#^/!").find(sigil) != absl::string_view::npos) {
        StandaloneBounds(open, tag_end, last_tag_end, &text_end, &next);
      }
      AddText(stack.back(), text_.substr(pos, text_end - pos));
      pos = last_tag_end = next;

      if (sigil == '!') continue;
      if (sigil == '>') return Fail(open, "partials ({{>name}}) are not supported", error);
      if (sigil == '=') return Fail(open, "set-delimiter tags are not supported", error);
      if (name.empty()) return Fail(open, "empty tag name", error);
      if (std::any_of(name.begin(), name.end(), [](char c) { return absl::ascii_isspace(c); })) {
        return Fail(open, absl::StrCat("invalid name '", name, "'"), error);
      }
      if (sigil == '/') {
        Node* top = stack.back();
        if (stack.size() == 1) {
          return Fail(open, absl::StrCat("closing tag {{/", name, "}} has no open section"), error);
        }
        if (top->text != name) {
          return Fail(open,
                      absl::StrCat("closing tag {{/", name, "}} does not match {{#", top->text,
                                   "}} opened at line ", top->line),
                      error);
        }
        stack.pop_back();
        continue;
      }
      if (std::find(names->begin(), names->end(), name) == names->end()) names->push_back(name);
      Node node;
      node.text = name;
      if (name != ".") node.parts = absl::StrSplit(name, '.');
      Position(open, &node.line, &node.column);
      if (sigil == '#' || sigil == '^') {
        if (stack.size() > static_cast<size_t>(kMaxMustacheSectionDepth)) {
          return Fail(open, absl::StrCat("sections nest deeper than ", kMaxMustacheSectionDepth),
                      error);
        }
        node.kind = sigil == '#' ? Node::Kind::kSection : Node::Kind::kInverted;
        stack.back()->children.push_back(std::move(node));
        stack.push_back(&stack.back()->children.back());
      } else {
        node.kind = Node::Kind::kVariable;
        node.escape = !(sigil == '{' || sigil == '&');
        stack.back()->children.push_back(std::move(node));
      }
    }
    if (stack.size() > 1) {
      Node* top = stack.back();
      *error = MustacheError{top->line, top->column,
                             absl::StrCat("section {{#", top->text, "}} is never closed")};
      return false;
    }
    return true;
  }

 private:
  // A section, closing or comment tag alone on its line takes the whole line with it.
  void StandaloneBounds(size_t open, size_t tag_end, size_t last_tag_end, size_t* text_end,
                        size_t* next) const {
    size_t line_start = text_.rfind('\n', open == 0 ? 0 : open - 1);
    line_start = (line_start == absl::string_view::npos || open == 0) ? 0 : line_start + 1;
    if (line_start < last_tag_end) return;
    for (size_t i = line_start; i < open; ++i) {
      if (text_[i] != ' ' && text_[i] != '\t') return;
    }
    size_t j = tag_end;
    while (j < text_.size() && (text_[j] == ' ' || text_[j] == '\t')) ++j;
    if (j == text_.size()) {
      *next = j;
    } else if (text_[j] == '\n') {
      *next = j + 1;
    } else if (text_[j] == '\r' && j + 1 < text_.size() && text_[j + 1] == '\n') {
      *next = j + 2;
    } else {
      return;
    }
    *text_end = line_start;
  }

  void AddText(Node* parent, absl::string_view text) {
    if (text.empty()) return;
    Node node;
    node.kind = Node::Kind::kText;
    node.text = std::string(text);
    parent->children.push_back(std::move(node));
  }

  void Position(size_t offset, int* line, int* column) const {
    auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    size_t index = static_cast<size_t>(it - line_starts_.begin()) - 1;
    *line = static_cast<int>(index) + 1;
    *column = static_cast<int>(offset - line_starts_[index]) + 1;
  }

  bool Fail(size_t offset, std::string message, MustacheError* error) const {
    error->message = std::move(message);
    Position(offset, &error->line, &error->column);
    return false;
  }

  absl::string_view text_;
  std::vector<size_t> line_starts_;
};

// Resolves `name` against the context stack, innermost first: the first part of a dotted
// name picks the context, the rest must resolve inside it. nullptr when it does not.
const MustacheValue* Lookup(const Node& node, const std::vector<const MustacheValue*>& stack) {
  if (node.parts.empty()) return stack.back();  // "."
  const std::vector<std::string>& parts = node.parts;
  const MustacheValue* found = nullptr;
  for (auto it = stack.rbegin(); it != stack.rend() && found == nullptr; ++it) {
    found = (*it)->Child(parts[0]);
  }
  for (size_t i = 1; i < parts.size() && found != nullptr; ++i) found = found->Child(parts[i]);
  return found;
}

// Fails the render when `out` has grown past kMaxMustacheOutputBytes, located at `node`.
bool OverOutputLimit(const Node& node, const std::string& out, MustacheError* error) {
  if (out.size() <= kMaxMustacheOutputBytes) return false;
  *error = MustacheError{node.line, node.column,
                         absl::StrCat("rendered output exceeds ", kMaxMustacheOutputBytes,
                                      " bytes"),
                         /*over_limit=*/true, node.text};
  return true;
}

// Recurses once per section level: the parser bounds that at kMaxMustacheSectionDepth.
bool RenderNodes(const std::vector<Node>& nodes, std::vector<const MustacheValue*>* stack,
                 std::string* out, MustacheError* error, const Node& parent) {
  for (const Node& node : nodes) {
    if (node.kind == Node::Kind::kText) {
      out->append(node.text);
      // Text has no position of its own: blame the enclosing tag (or line 1 at the top).
      if (OverOutputLimit(parent, *out, error)) return false;
      continue;
    }
    const MustacheValue* value = Lookup(node, *stack);
    if (node.kind == Node::Kind::kVariable) {
      std::string problem;
      if (value == nullptr) {
        problem = absl::StrCat("undefined variable '", node.text, "'");
      } else if (!value->has_string()) {
        problem =
            absl::StrCat("variable '", node.text, "' is ", value->is_list() ? "a list" : "a map",
                         ", not a string (use a section {{#", node.text, "}})");
      }
      if (!problem.empty()) {
        *error = MustacheError{node.line, node.column, std::move(problem), false, node.text};
        return false;
      }
      absl::StrAppend(out, node.escape ? MustacheEscape(value->string()) : value->string());
      if (OverOutputLimit(node, *out, error)) return false;
      continue;
    }
    // Sections over names that do not resolve are falsy, so templates can test optional values.
    bool truthy = value != nullptr && value->Truthy();
    if (node.kind == Node::Kind::kInverted) {
      if (!truthy && !RenderNodes(node.children, stack, out, error, node)) return false;
      continue;
    }
    if (!truthy) continue;
    std::vector<const MustacheValue*> items;
    if (value->is_list()) {
      for (const MustacheValue& item : value->list()) items.push_back(&item);
    } else {
      items.push_back(value);
    }
    for (const MustacheValue* item : items) {
      stack->push_back(item);
      bool ok = RenderNodes(node.children, stack, out, error, node);
      stack->pop_back();
      if (!ok) return false;
    }
  }
  return true;
}

}  // namespace

MustacheTemplate::MustacheTemplate() : root_(std::make_unique<Node>()) {}
MustacheTemplate::~MustacheTemplate() = default;

std::unique_ptr<MustacheTemplate> MustacheTemplate::Parse(absl::string_view text,
                                                          MustacheError* error) {
  std::unique_ptr<MustacheTemplate> tmpl(new MustacheTemplate());
  MustacheParser parser(text);
  if (!parser.Parse(tmpl->root_.get(), &tmpl->names_, error)) return nullptr;
  return tmpl;
}

bool MustacheTemplate::Render(const MustacheValue& context, std::string* out,
                              MustacheError* error) const {
  std::vector<const MustacheValue*> stack = {&context};
  Node top;  // where output over the bound is blamed outside any section
  top.line = 1;
  top.column = 1;
  return RenderNodes(root_->children, &stack, out, error, top);
}

}  // namespace plumb
