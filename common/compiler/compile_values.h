#pragma once

// Typed reads of YAML values for the desired-state compiler. Every reader reports a located
// error naming the key and the offending value and returns false when the value is wrong.

#include <initializer_list>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/compiler/desired_state_model.h"
#include "common/yaml_document.h"

namespace plumb::compile {

// Reads values of one YAML file. Thread-compatible.
class ValueReader {
 public:
  // `errors` must outlive the reader.
  ValueReader(std::string file, ErrorList* errors) : file_(std::move(file)), errors_(errors) {}

  const std::string& file() const { return file_; }
  std::string Loc(const YamlNode& node) const { return Location(file_, node.mark()); }
  void Error(const YamlNode& at, std::string message) {
    errors_->Add(file_, at.mark(), std::move(message));
  }
  // Errors reported so far (through this reader or others sharing the list).
  size_t error_count() const { return errors_->size(); }

  // Reports every key of `map` not in `allowed` as "unknown <what> 'key'". Returns false if
  // `map` is not a map at all.
  bool CheckKeys(const YamlNode& map, std::initializer_list<absl::string_view> allowed,
                 absl::string_view what);

  // A scalar (quoted or plain). Null, lists and maps are wrong types.
  bool String(const YamlNode& node, absl::string_view key, std::string* out);
  // A non-empty scalar.
  bool NonEmptyString(const YamlNode& node, absl::string_view key, std::string* out);
  // Plain true/false (also yes/no, on/off), stored as "true"/"false".
  bool Bool(const YamlNode& node, absl::string_view key, std::string* out);
  // A plain non-negative decimal integer, stored in canonical decimal.
  bool Uint(const YamlNode& node, absl::string_view key, std::string* out);
  // Whole seconds ("30") or a duration ("30s", "1m30s"), stored as decimal seconds when whole.
  bool Duration(const YamlNode& node, absl::string_view key, std::string* out);
  // A quoted octal mode of 3 or 4 digits, stored with 4 digits ("0644").
  bool Mode(const YamlNode& node, absl::string_view key, std::string* out);
  // A list of strings (a single string is not accepted).
  bool List(const YamlNode& node, absl::string_view key, std::vector<std::string>* out);
  // A map of string -> scalar.
  bool StringMap(const YamlNode& node, absl::string_view key,
                 std::map<std::string, std::string>* out);
  // An absolute path, normalized (see NormalizeAbsolutePath).
  bool AbsolutePath(const YamlNode& node, absl::string_view key, std::string* out);

 private:
  std::string file_;
  ErrorList* errors_;  // not owned
};

// True if `text` holds a byte below 0x20 or DEL (a NUL would cut a path short in C APIs).
bool HasControlCharacter(absl::string_view text);

// "/a//b/./c/../d/" -> "/a/b/d". InvalidArgument if `path` is not absolute, has a control
// character, or ".." climbs above "/".
absl::StatusOr<std::string> NormalizeAbsolutePath(absl::string_view path);

// "a/./b" -> "a/b" for paths inside a module's files/ or templates/. InvalidArgument if
// `path` is empty, absolute, or climbs out with "..".
absl::StatusOr<std::string> NormalizeRelativePath(absl::string_view path);

// InvalidArgument naming the problem if `pattern` is not a valid fnmatch glob (empty, an
// unclosed '[' bracket, a trailing backslash).
absl::Status ValidateGlob(absl::string_view pattern);

// Quotes a value for a message: "0644" -> "\"0644\"".
std::string Quote(absl::string_view value);

}  // namespace plumb::compile
