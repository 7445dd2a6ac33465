#pragma once

#include <string>

#include "common/compiler/repo_tree.h"

namespace plumb {

// A RepoTree over a directory on disk (a checkout). Refuses paths that climb out of it.
class DirectoryTree : public RepoTree {
 public:
  explicit DirectoryTree(std::string root) : root_(std::move(root)) {}
  absl::StatusOr<std::string> ReadFile(absl::string_view path) const override;
  absl::StatusOr<std::vector<std::string>> ListDir(absl::string_view path) const override;

 private:
  std::string root_;
};

}  // namespace plumb
