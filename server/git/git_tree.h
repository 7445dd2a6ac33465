#pragma once

// A RepoTree over one git commit's tree, read from the mirror without a working checkout, plus
// the one function that turns libgit2 errors into absl::Status.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/compiler/repo_tree.h"

struct git_repository;
struct git_oid;

namespace plumb {

// The only libgit2 error conversion: `error` (a negative libgit2 return code) plus
// git_error_last()'s message, prefixed with `context` (what was being done, and to what).
// `code` overrides the status code; otherwise GIT_ENOTFOUND maps to NotFound, GIT_EAMBIGUOUS
// and GIT_EINVALIDSPEC to InvalidArgument, network errors to Unavailable, the rest Internal.
absl::Status GitErrorStatus(int error, absl::string_view context,
                            std::optional<absl::StatusCode> code = std::nullopt);

// An immutable in-memory snapshot of a commit's tree: every blob is read eagerly when the tree
// is built (desired-state repositories are small), so the snapshot never touches libgit2 again.
// Thread-safe for concurrent reads, and independent of later fetches.
class GitTree : public RepoTree {
 public:
  // Reads the whole tree of `commit` from `repo`. The caller serializes libgit2 access to
  // `repo` for the duration of the call. ResourceExhausted if the tree exceeds kMaxBytes.
  static absl::StatusOr<std::unique_ptr<GitTree>> Read(git_repository* repo,
                                                       const git_oid& commit);

  // NotFound if `path` is not a regular file (directories, submodules and symlinks are not).
  absl::StatusOr<std::string> ReadFile(absl::string_view path) const override;
  // "" (or ".") is the root. NotFound if `path` is not a directory of the tree.
  absl::StatusOr<std::vector<std::string>> ListDir(absl::string_view path) const override;

  // Blob bytes a tree may hold in total; far above any sane desired-state repository.
  static constexpr size_t kMaxBytes = size_t{256} << 20;

 private:
  friend struct GitTreeBuilder;
  GitTree() = default;

  absl::flat_hash_map<std::string, std::string> files_;           // path -> content
  std::map<std::string, std::vector<std::string>> dirs_;          // path -> sorted names
};

}  // namespace plumb
