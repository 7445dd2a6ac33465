#include "server/git/environments.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "server/git/git_source.h"

namespace plumb {
namespace {

std::string At(const std::string& file, const YamlNode& node) {
  return absl::StrCat(file, ":", node.mark().line, ":", node.mark().column);
}

absl::Status Bad(const std::string& file, const YamlNode& node, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(At(file, node), ": environments: ", what));
}

absl::StatusOr<Environment> ParseEntry(const YamlNode& entry, const std::string& file) {
  if (!entry.IsMap()) {
    return Bad(file, entry, absl::StrCat("each entry must be a map like {branch: staging, "
                                         "labels: {env: staging}}, got ", entry.KindName()));
  }
  Environment env;
  for (const auto& [key, value] : entry.entries()) {
    if (key.scalar() == "branch") {
      // A plain branch name (no "*", so it never collides with kAnyEnvironment).
      if (!value.IsScalar() || value.scalar().empty() || !IsPlainRefName(value.scalar()) ||
          value.scalar().size() > 200) {
        return Bad(file, value, "branch must be a plain branch name like staging");
      }
      env.branch = env.name = value.scalar();
    } else if (key.scalar() == "labels") {
      if (!value.IsMap()) return Bad(file, value, "labels must be a map like {env: staging}");
      for (const auto& [k, v] : value.entries()) {
        if (!v.IsScalar()) return Bad(file, v, "each label value must be a single value");
        env.labels[k.scalar()] = v.scalar();
      }
    } else {
      return Bad(file, key, absl::StrCat("unknown key \"", key.scalar(),
                                         "\" (an entry has branch and labels)"));
    }
  }
  if (env.branch.empty()) return Bad(file, entry, "an entry without branch");
  return env;
}

}  // namespace

Environments Environments::Single(const std::string& branch) {
  Environments envs;
  envs.lines_.push_back({"", branch, {}});
  return envs;
}

absl::StatusOr<Environments> Environments::Parse(const YamlNode& list, const std::string& file) {
  if (!list.IsSequence() || list.items().empty()) {
    return Bad(file, list, "must be a non-empty list of {branch, labels} entries");
  }
  if (list.items().size() > kMaxEnvironments) {
    return Bad(file, list, absl::StrCat(list.items().size(), " entries, at most ",
                                        kMaxEnvironments));
  }
  Environments envs;
  envs.configured_ = true;
  std::set<std::string> branches;
  const YamlNode* default_entry = nullptr;
  for (const YamlNode& item : list.items()) {
    absl::StatusOr<Environment> env = ParseEntry(item, file);
    if (!env.ok()) return env.status();
    if (!branches.insert(env->branch).second) {
      return Bad(file, item, absl::StrCat("branch \"", env->branch, "\" is listed twice"));
    }
    if (default_entry != nullptr && env->labels.empty()) {
      return Bad(file, item, absl::StrCat("more than one default (entry without labels; the "
                                          "first is at ", At(file, *default_entry), ")"));
    }
    if (default_entry != nullptr) {
      return Bad(file, item, absl::StrCat("the entry without labels (", At(file, *default_entry),
                                          ") matches every node: entries after it never match"));
    }
    if (env->labels.empty()) default_entry = &item;
    envs.lines_.push_back(std::move(*env));
  }
  return envs;
}

int Environments::Match(const std::map<std::string, std::string>& labels) const {
  for (size_t i = 0; i < lines_.size(); ++i) {
    bool match = true;
    for (const auto& [k, v] : lines_[i].labels) {
      auto it = labels.find(k);
      match = match && it != labels.end() && it->second == v;
    }
    if (match) return static_cast<int>(i);
  }
  return -1;
}

int Environments::Find(const std::string& name) const {
  for (size_t i = 0; i < lines_.size(); ++i) {
    if (lines_[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace plumb
