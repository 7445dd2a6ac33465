#pragma once

// Daemon configuration as flat dotted keys. A YAML config file (`repo: {url: x}`) flattens to
// `repo.url = x`; a flag `--repo.url=x` sets the same key and wins over the file. So every
// config key has a flag by construction, and both are validated against one list of keys.

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/command_line.h"
#include "common/yaml_document.h"

namespace plumb {

// Thread-compatible.
class ConfigValues {
 public:
  // Loads `path` (YAML mapping). Keys under `map_keys` (like "labels", "facts") are free-form
  // maps: `labels: {role: web}` gives "labels.role". Returns InvalidArgument with
  // path:line:col for bad YAML or a key not in `known` (nor under a map key).
  // Keys in `list_keys` take a sequence of scalars (`tls: {san: [a, b]}`) or one scalar.
  // Keys in `raw_keys` take any YAML, kept as parsed for the caller (GetRaw): structured
  // settings such as the server's `environments:` list, which have no flag.
  static absl::StatusOr<ConfigValues> LoadFile(const std::string& path,
                                               const std::set<std::string>& known,
                                               const std::set<std::string>& map_keys,
                                               const std::set<std::string>& list_keys = {},
                                               const std::set<std::string>& raw_keys = {});

  // Overrides with flags: `--key=value` for every key in `known`; `--<map_key> k=v` adds
  // "map_key.k". Unknown flags are left to the caller (CommandLine::CheckKnown).
  absl::Status ApplyFlags(const CommandLine& flags, const std::set<std::string>& known,
                          const std::set<std::string>& map_keys);

  bool Has(const std::string& key) const { return values_.count(key) > 0; }
  std::string Get(const std::string& key, const std::string& fallback = "") const;
  // Parses a boolean ("true"/"false"/"yes"/"no"/"1"/"0"); InvalidArgument naming the key.
  absl::StatusOr<bool> GetBool(const std::string& key, bool fallback) const;
  absl::StatusOr<absl::Duration> GetDuration(const std::string& key, absl::Duration fallback) const;
  // Every "prefix.k" entry as k -> value.
  std::map<std::string, std::string> GetMap(const std::string& prefix) const;
  void Set(const std::string& key, const std::string& value) { values_[key] = value; }
  // A list key's values (LoadFile's `list_keys`), or `fallback` if it was not given.
  std::vector<std::string> GetList(const std::string& key,
                                   const std::vector<std::string>& fallback = {}) const;
  // A `raw_keys` value as parsed (null when the file did not set it).
  const YamlNode* GetRaw(const std::string& key) const;
  // "FILE:LINE:COL: key" when the key's value came from the config file, else "key": for
  // messages about a bad value.
  std::string Named(const std::string& key) const;

 private:
  std::map<std::string, std::string> values_;
  std::map<std::string, std::string> where_;  // key -> "FILE:LINE:COL" of its value in the file
  std::map<std::string, std::vector<std::string>> lists_;
  std::map<std::string, YamlNode> raw_;
};

}  // namespace plumb
