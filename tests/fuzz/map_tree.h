#pragma once

// A desired-state repository held in memory, for fuzz targets: no git, no disk, so every input
// compiles fast.

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/compiler/repo_tree.h"

namespace plumb::fuzz {

// Immutable after construction; thread-safe.
class MapTree : public RepoTree {
 public:
  // `files`: repository path -> content.
  explicit MapTree(std::map<std::string, std::string> files) : files_(std::move(files)) {}

  absl::StatusOr<std::string> ReadFile(absl::string_view path) const override {
    auto it = files_.find(std::string(path));
    if (it == files_.end()) return absl::NotFoundError("no such file");
    return it->second;
  }

  absl::StatusOr<std::vector<std::string>> ListDir(absl::string_view path) const override {
    std::string prefix = path.empty() ? "" : std::string(path) + "/";
    std::vector<std::string> names;
    for (const auto& [name, content] : files_) {
      if (name.compare(0, prefix.size(), prefix) != 0) continue;
      std::string rest = name.substr(prefix.size());
      std::string first = rest.substr(0, rest.find('/'));
      if (names.empty() || names.back() != first) names.push_back(first);
    }
    if (names.empty()) return absl::NotFoundError("no such directory");
    return names;
  }

 private:
  std::map<std::string, std::string> files_;
};

}  // namespace plumb::fuzz
