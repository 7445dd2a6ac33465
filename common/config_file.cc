#include "common/config_file.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "yaml-cpp/yaml.h"

namespace plumb {
namespace {

std::string Where(const std::string& path, const YAML::Mark& mark) {
  return absl::StrCat(path, ":", mark.line + 1, ":", mark.column + 1);
}

// Sequences of scalars under a list key go to `lists`.
absl::Status Flatten(const std::string& path, const YAML::Node& node, const std::string& prefix,
                     const std::set<std::string>& known, const std::set<std::string>& map_keys,
                     const std::set<std::string>& list_keys, bool in_map,
                     std::map<std::string, std::string>* out,
                     std::map<std::string, std::vector<std::string>>* lists) {
  if (!node.IsMap()) {
    return absl::InvalidArgumentError(absl::StrCat(Where(path, node.Mark()), ": expected a mapping"));
  }
  for (const auto& kv : node) {
    std::string key = kv.first.Scalar();
    std::string full = prefix.empty() ? key : absl::StrCat(prefix, ".", key);
    const YAML::Node& value = kv.second;
    bool is_map_key = map_keys.count(full) > 0;
    if (value.IsMap()) {
      bool known_prefix = is_map_key || in_map;
      for (const std::string& k : known) known_prefix |= absl::StartsWith(k, full + ".");
      if (!known_prefix) {
        return absl::InvalidArgumentError(
            absl::StrCat(Where(path, kv.first.Mark()), ": unknown key \"", full, "\""));
      }
      absl::Status s = Flatten(path, value, full, known, map_keys, list_keys,
                               in_map || is_map_key, out, lists);
      if (!s.ok()) return s;
      continue;
    }
    if (!in_map && !known.count(full)) {
      return absl::InvalidArgumentError(
          absl::StrCat(Where(path, kv.first.Mark()), ": unknown key \"", full, "\""));
    }
    if (value.IsNull()) continue;
    if (list_keys.count(full) > 0) {
      std::vector<std::string>& items = (*lists)[full];
      if (value.IsScalar()) items.push_back(value.Scalar());
      for (const auto& item : value.IsSequence() ? value : YAML::Node()) {
        if (!item.IsScalar()) {
          return absl::InvalidArgumentError(absl::StrCat(
              Where(path, item.Mark()), ": \"", full, "\" must be a list of single values"));
        }
        items.push_back(item.Scalar());
      }
      continue;
    }
    if (!value.IsScalar()) {
      return absl::InvalidArgumentError(
          absl::StrCat(Where(path, value.Mark()), ": \"", full, "\" must be a single value"));
    }
    (*out)[full] = value.Scalar();
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ConfigValues> ConfigValues::LoadFile(const std::string& path,
                                                    const std::set<std::string>& known,
                                                    const std::set<std::string>& map_keys,
                                                    const std::set<std::string>& list_keys) {
  ConfigValues config;
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot read config file"));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(Where(path, e.mark), ": ", e.msg));
  }
  if (root.IsNull()) return config;
  try {
    absl::Status s = Flatten(path, root, "", known, map_keys, list_keys, false, &config.values_,
                             &config.lists_);
    if (!s.ok()) return s;
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(Where(path, e.mark), ": ", e.msg));
  }
  return config;
}

absl::Status ConfigValues::ApplyFlags(const CommandLine& flags, const std::set<std::string>& known,
                                      const std::set<std::string>& map_keys) {
  for (const std::string& key : known) {
    if (flags.Has(key)) values_[key] = flags.Get(key);
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
  return absl::InvalidArgumentError(absl::StrCat(key, ": expected true or false, got \"", v, "\""));
}

absl::StatusOr<absl::Duration> ConfigValues::GetDuration(const std::string& key,
                                                         absl::Duration fallback) const {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  auto d = ParseDurationText(it->second);
  if (!d.ok()) return absl::InvalidArgumentError(absl::StrCat(key, ": ", d.status().message()));
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
