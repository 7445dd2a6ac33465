#pragma once

// A small command-line parser shared by the three binaries: positional arguments and
// `--name=value` / `--name value` flags, with boolean flags declared up front so that
// `--once` never swallows the next argument.

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace plumb {

// The parsed form of argv. Thread-compatible.
class CommandLine {
 public:
  // Parses argv[1..]. `bool_flags` take no value (`--noop`, or `--noop=false`).
  // A flag may be repeated; repeated values are kept in order (`--label a=b --label c=d`).
  // `short_flags` maps a short spelling to a flag's name ({"-o", "output"}: `-o json` is
  // `--output json`). Returns InvalidArgument naming the flag when a value is missing.
  static absl::StatusOr<CommandLine> Parse(
      int argc, const char* const* argv, const std::set<std::string>& bool_flags,
      const std::map<std::string, std::string>& short_flags = {});

  const std::vector<std::string>& positional() const { return positional_; }
  bool Has(const std::string& flag) const { return flags_.count(flag) > 0; }
  // The last value given for `flag`, or `fallback`.
  std::string Get(const std::string& flag, const std::string& fallback = "") const;
  // Every value given for `flag`, in order.
  std::vector<std::string> GetAll(const std::string& flag) const;
  bool GetBool(const std::string& flag) const;
  // Returns InvalidArgument naming the first flag not in `known`.
  absl::Status CheckKnown(const std::set<std::string>& known) const;

 private:
  std::vector<std::string> positional_;
  std::multimap<std::string, std::string> flags_;
  std::vector<std::string> order_;
};

// Parses "k=v" into its parts; InvalidArgument if there is no '=' or the key is empty.
absl::Status ParseKeyValue(const std::string& text, std::string* key, std::string* value);

// Parses "30s", "5m", "1h", "2d", "1h30m", "500ms". InvalidArgument on anything else.
absl::StatusOr<absl::Duration> ParseDurationText(const std::string& text);

}  // namespace plumb
