#include "common/compiler/compile_values.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/resource_types.h"

namespace plumb::compile {

namespace {

// How a value appears in a message: quoted scalars with their quotes, plain ones as written.
std::string Shown(const YamlNode& node) {
  if (!node.IsScalar()) return node.KindName();
  return node.quoted() ? Quote(node.scalar()) : node.scalar();
}

}  // namespace

std::string Location(const std::string& file, const YamlMark& mark) {
  if (mark.line <= 0) return file;
  return absl::StrCat(file, ":", mark.line, ":", mark.column);
}

std::string Quote(absl::string_view value) { return absl::StrCat("\"", value, "\""); }

bool ValueReader::CheckKeys(const YamlNode& map, std::initializer_list<absl::string_view> allowed,
                            absl::string_view what) {
  if (!map.IsMap()) {
    Error(map, absl::StrCat(what, " must be a map, got ", map.KindName()));
    return false;
  }
  for (const auto& [key, value] : map.entries()) {
    if (std::find(allowed.begin(), allowed.end(), key.scalar()) == allowed.end()) {
      Error(key, absl::StrCat("unknown ", what, " key '", key.scalar(), "' (expected one of ",
                              absl::StrJoin(allowed, ", "), ")"));
    }
  }
  return true;
}

bool ValueReader::String(const YamlNode& node, absl::string_view key, std::string* out) {
  if (!node.IsScalar()) {
    Error(node, absl::StrCat(key, " must be a string, got ", node.KindName()));
    return false;
  }
  *out = node.scalar();
  return true;
}

bool ValueReader::NonEmptyString(const YamlNode& node, absl::string_view key, std::string* out) {
  if (!String(node, key, out)) return false;
  if (out->empty()) {
    Error(node, absl::StrCat(key, " must not be empty"));
    return false;
  }
  return true;
}

bool ValueReader::Bool(const YamlNode& node, absl::string_view key, std::string* out) {
  // The parsers are the agent's too (common/resource_types.h): what compiles, the agent reads.
  absl::StatusOr<bool> value = absl::InvalidArgumentError("");
  if (node.IsScalar() && !node.quoted()) value = ParseBoolText(node.scalar());
  if (value.ok()) {
    *out = *value ? "true" : "false";
    return true;
  }
  Error(node, absl::StrCat(key, " must be true or false (unquoted), got ", Shown(node)));
  return false;
}

bool ValueReader::Uint(const YamlNode& node, absl::string_view key, std::string* out) {
  absl::StatusOr<uint32_t> value = absl::InvalidArgumentError("");
  if (node.IsScalar() && !node.quoted()) value = ParseUint32(node.scalar());
  if (!value.ok()) {
    Error(node, absl::StrCat(key, " must be a non-negative integer, got ", Shown(node)));
    return false;
  }
  *out = absl::StrCat(*value);
  return true;
}

bool ValueReader::Duration(const YamlNode& node, absl::string_view key, std::string* out) {
  absl::StatusOr<absl::Duration> value = absl::InvalidArgumentError("");
  if (node.IsScalar()) value = ParseDurationText(node.scalar());
  if (value.ok()) {
    *out = FormatDurationText(*value);
    return true;
  }
  Error(node, absl::StrCat(key, " must be seconds or a duration like \"30s\" or \"5m\", got ",
                           Shown(node)));
  return false;
}

bool ValueReader::Mode(const YamlNode& node, absl::string_view key, std::string* out) {
  if (node.IsScalar() && !node.quoted()) {
    // YAML reads 644 as a number and 0644 as octal 420: only a quoted string is unambiguous.
    Error(node,
          absl::StrCat(key, " must be a quoted octal string like \"0644\", got ", node.scalar()));
    return false;
  }
  if (!String(node, key, out)) return false;
  absl::StatusOr<uint32_t> mode = ParseMode(*out);
  if (!mode.ok()) {
    Error(node, absl::StrCat(key, " ", mode.status().message()));
    return false;
  }
  *out = FormatMode(*mode);
  return true;
}

bool ValueReader::List(const YamlNode& node, absl::string_view key, std::vector<std::string>* out) {
  if (!node.IsSequence()) {
    Error(node, absl::StrCat(key, " must be a list of strings, got ", node.KindName()));
    return false;
  }
  bool ok = true;
  for (const YamlNode& item : node.items()) {
    if (!item.IsScalar()) {
      Error(item, absl::StrCat(key, " items must be strings, got ", item.KindName()));
      ok = false;
      continue;
    }
    out->push_back(item.scalar());
  }
  return ok;
}

bool ValueReader::StringMap(const YamlNode& node, absl::string_view key,
                            std::map<std::string, std::string>* out) {
  if (!node.IsMap()) {
    Error(node, absl::StrCat(key, " must be a map, got ", node.KindName()));
    return false;
  }
  bool ok = true;
  for (const auto& [k, v] : node.entries()) {
    if (!v.IsScalar()) {
      Error(v, absl::StrCat(key, ".", k.scalar(), " must be a string, got ", v.KindName()));
      ok = false;
      continue;
    }
    (*out)[k.scalar()] = v.scalar();
  }
  return ok;
}

bool ValueReader::AbsolutePath(const YamlNode& node, absl::string_view key, std::string* out) {
  std::string raw;
  if (!NonEmptyString(node, key, &raw)) return false;
  absl::StatusOr<std::string> path = NormalizeAbsolutePath(raw);
  if (!path.ok()) {
    Error(node, absl::StrCat(key, " ", path.status().message()));
    return false;
  }
  *out = *std::move(path);
  return true;
}

bool HasControlCharacter(absl::string_view text) {
  return std::any_of(text.begin(), text.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

absl::StatusOr<std::string> NormalizeAbsolutePath(absl::string_view path) {
  if (HasControlCharacter(path)) {
    return absl::InvalidArgumentError(
        absl::StrCat(Quote(absl::CEscape(path)), " contains a control character"));
  }
  if (path.empty() || path[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat(Quote(path), " must be an absolute path"));
  }
  std::vector<absl::string_view> parts;
  for (absl::string_view part : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    if (part == ".") continue;
    if (part == "..") {
      if (parts.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(Quote(path), " climbs above / with '..'"));
      }
      parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  return absl::StrCat("/", absl::StrJoin(parts, "/"));
}

absl::StatusOr<std::string> NormalizeRelativePath(absl::string_view path) {
  if (path.empty()) return absl::InvalidArgumentError("path must not be empty");
  if (HasControlCharacter(path)) {
    return absl::InvalidArgumentError(
        absl::StrCat(Quote(absl::CEscape(path)), " contains a control character"));
  }
  if (path[0] == '/') {
    return absl::InvalidArgumentError(
        absl::StrCat(Quote(path), " must be relative to the module's folder"));
  }
  std::vector<absl::string_view> parts;
  for (absl::string_view part : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    if (part == ".") continue;
    if (part == "..") {
      if (parts.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(Quote(path), " climbs out of the module's folder with '..'"));
      }
      parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  if (parts.empty()) return absl::InvalidArgumentError(absl::StrCat(Quote(path), " names no file"));
  return absl::StrJoin(parts, "/");
}

absl::Status ValidateGlob(absl::string_view pattern) {
  if (pattern.empty()) return absl::InvalidArgumentError("glob must not be empty");
  for (size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c == '\\') {
      if (++i == pattern.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("bad glob ", Quote(pattern), ": trailing backslash"));
      }
    } else if (c == '[') {
      size_t j = i + 1;
      if (j < pattern.size() && (pattern[j] == '!' || pattern[j] == '^')) ++j;
      if (j < pattern.size() && pattern[j] == ']') ++j;  // "[]a]" includes ']'
      while (j < pattern.size() && pattern[j] != ']') ++j;
      if (j == pattern.size()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "bad glob ", Quote(pattern), ": '[' at character ", i + 1, " is never closed"));
      }
      i = j;
    }
  }
  return absl::OkStatus();
}

}  // namespace plumb::compile
