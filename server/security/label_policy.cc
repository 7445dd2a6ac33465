#include "server/security/label_policy.h"

#include "absl/strings/str_cat.h"

namespace plumb {

NodeLabels MergeHelloLabels(const std::map<std::string, std::string>& hello,
                            const std::map<std::string, std::string>& bound,
                            const std::optional<std::set<std::string>>& allowed_keys) {
  NodeLabels out;
  const bool any = !allowed_keys || allowed_keys->count(kAnyLabelKey) > 0;
  for (const auto& [key, value] : hello) {
    auto pinned = bound.find(key);
    bool taken = pinned == bound.end() ? any || allowed_keys->count(key) > 0
                                       : pinned->second == value;
    if (taken) {
      out.labels[key] = value;
    } else {
      out.ignored.push_back(absl::StrCat(key, "=", value));
    }
  }
  for (const auto& [key, value] : bound) out.labels[key] = value;
  return out;
}

absl::Status CheckAllowedLabelKeys(const std::vector<std::string>& keys) {
  if (keys.size() > kMaxAllowedLabelKeys) {
    return absl::InvalidArgumentError(
        absl::StrCat("--allow-label: at most ", kMaxAllowedLabelKeys, " keys, got ", keys.size()));
  }
  for (const std::string& key : keys) {
    if (key.empty() || key.size() > kMaxLabelKeyLength) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--allow-label: a label key must be 1-", kMaxLabelKeyLength, " characters, got \"",
          key.substr(0, 80), "\""));
    }
  }
  return absl::OkStatus();
}

}  // namespace plumb
