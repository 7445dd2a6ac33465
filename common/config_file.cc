#include "common/config_file.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/secure_files.h"
#include "common/status_macros.h"
#include "common/yaml_document.h"

namespace plumb {
namespace {

std::string Where(const std::string& path, const YamlMark& mark) {
  return absl::StrCat(path, ":", mark.line, ":", mark.column);
}

// What Flatten fills in.
struct Flattened {
  std::map<std::string, std::string>* values;
  std::map<std::string, std::vector<std::string>>* lists;
  std::map<std::string, std::string>* where;  // key -> path:line:col of its value
  std::map<std::string, YamlNode>* raw;
  const std::set<std::string>* raw_keys;
};

// Sequences of scalars under a list key go to `lists`.
absl::Status Flatten(const std::string& path, const YamlNode& node, const std::string& prefix,
                     const std::set<std::string>& known, const std::set<std::string>& map_keys,
                     const std::set<std::string>& list_keys, bool in_map, const Flattened& out) {
  if (!node.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat(Where(path, node.mark()), ": expected a mapping, got ", node.KindName()));
  }
  for (const auto& [key_node, value] : node.entries()) {
    const std::string& key = key_node.scalar();
    std::string full = prefix.empty() ? key : absl::StrCat(prefix, ".", key);
    if (out.raw_keys->count(full) > 0) {
      (*out.where)[full] = Where(path, value.mark());
      (*out.raw)[full] = value;  // the caller reads its structure (GetRaw)
      continue;
    }
    bool is_map_key = map_keys.count(full) > 0;
    if (value.IsMap()) {
      bool known_prefix = is_map_key || in_map;
      for (const std::string& k : known) known_prefix |= absl::StartsWith(k, full + ".");
      if (!known_prefix) {
        return absl::InvalidArgumentError(
            absl::StrCat(Where(path, key_node.mark()), ": unknown key \"", full, "\""));
      }
      absl::Status s = Flatten(path, value, full, known, map_keys, list_keys,
                               in_map || is_map_key, out);
      if (!s.ok()) return s;
      continue;
    }
    if (!in_map && !known.count(full)) {
      return absl::InvalidArgumentError(
          absl::StrCat(Where(path, key_node.mark()), ": unknown key \"", full, "\""));
    }
    if (value.IsNull()) continue;
    (*out.where)[full] = Where(path, value.mark());
    if (list_keys.count(full) > 0) {
      std::vector<std::string>& items = (*out.lists)[full];
      if (value.IsScalar()) items.push_back(value.scalar());
      for (const YamlNode& item : value.items()) {
        if (!item.IsScalar()) {
          return absl::InvalidArgumentError(absl::StrCat(
              Where(path, item.mark()), ": \"", full, "\" must be a list of single values"));
        }
        items.push_back(item.scalar());
      }
      continue;
    }
    if (!value.IsScalar()) {
      return absl::InvalidArgumentError(
          absl::StrCat(Where(path, value.mark()), ": \"", full, "\" must be a single value"));
    }
    (*out.values)[full] = value.scalar();
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ConfigValues> ConfigValues::LoadFile(const std::string& path,
                                                    const std::set<std::string>& known,
                                                    const std::set<std::string>& map_keys,
                                                    const std::set<std::string>& list_keys,
                                                    const std::set<std::string>& raw_keys) {
  ConfigValues config;
  absl::StatusOr<std::string> text = ReadSmallFile(path);
  if (!text.ok()) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot read config file (",
                                            text.status().message(), ")"));
  }
  PLUMB_ASSIGN_OR_RETURN(YamlNode root, ParseYaml(*text, path));
  if (root.IsNull()) return config;
  PLUMB_RETURN_IF_ERROR(Flatten(path, root, "", known, map_keys, list_keys, false,
                                {&config.values_, &config.lists_, &config.where_, &config.raw_, &raw_keys}));
  return config;
}

const YamlNode* ConfigValues::GetRaw(const std::string& key) const {
  auto it = raw_.find(key);
  return it == raw_.end() ? nullptr : &it->second;
}

std::string ConfigValues::Named(const std::string& key) const {
  auto it = where_.find(key);
  return it == where_.end() ? key : absl::StrCat(it->second, ": ", key);
}

absl::Status ConfigValues::ApplyFlags(const CommandLine& flags, const std::set<std::string>& known,
                                      const std::set<std::string>& map_keys) {
  for (const std::string& key : known) {
    if (flags.Has(key)) {
      values_[key] = flags.Get(key);
      where_.erase(key);  // a flag: its name says where
    }
  }
  for (const std::string& map_key : map_keys) {
    for (const std::string& kv : flags.GetAll(map_key)) {
      std::string k, v;
      absl::Status s = ParseKeyValue(kv, &k, &v);
      if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat("--", map_key, ": ", s.message()));
      values_[absl::StrCat(map_key, ".", k)] = v;
    }
  }
  return absl::OkStatus();
}

std::string ConfigValues::Get(const std::string& key, const std::string& fallback) const {
  auto it = values_.find(key);
  return it == values_.end() ? fallback : it->second;
}

absl::StatusOr<bool> ConfigValues::GetBool(const std::string& key, bool fallback) const {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  const std::string& v = it->second;
  if (v == "true" || v == "yes" || v == "1") return true;
  if (v == "false" || v == "no" || v == "0") return false;
  return absl::InvalidArgumentError(
      absl::StrCat(Named(key), ": expected true or false, got \"", v, "\""));
}

absl::StatusOr<absl::Duration> ConfigValues::GetDuration(const std::string& key,
                                                         absl::Duration fallback) const {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  auto d = ParseDurationText(it->second);
  if (!d.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(Named(key), ": ", d.status().message()));
  }
  return *d;
}

std::vector<std::string> ConfigValues::GetList(const std::string& key,
                                               const std::vector<std::string>& fallback) const {
  auto it = lists_.find(key);
  return it == lists_.end() ? fallback : it->second;
}

std::map<std::string, std::string> ConfigValues::GetMap(const std::string& prefix) const {
  std::map<std::string, std::string> out;
  std::string p = prefix + ".";
  for (auto it = values_.lower_bound(p); it != values_.end() && absl::StartsWith(it->first, p); ++it) {
    out[it->first.substr(p.size())] = it->second;
  }
  return out;
}

}  // namespace plumb
