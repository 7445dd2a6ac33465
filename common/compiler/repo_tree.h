#pragma once

// A read-only view of a desired-state repository at one revision. The server reads straight
// from a git commit's tree (server/git/git_tree.h); plumbctl validate/render and masterless apply
// read a directory on disk (common/compiler/directory_tree.h). Paths are relative, '/'-separated.

#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"

namespace plumb {

// Thread-compatible; implementations are immutable after construction, so concurrent reads
// are safe.
class RepoTree {
 public:
  virtual ~RepoTree() = default;
  // Returns NotFound if `path` is not a regular file of the tree.
  virtual absl::StatusOr<std::string> ReadFile(absl::string_view path) const = 0;
  // Names (not paths) of the entries of directory `path`, sorted. NotFound if no such dir.
  virtual absl::StatusOr<std::vector<std::string>> ListDir(absl::string_view path) const = 0;
};

}  // namespace plumb
