#pragma once

// Parent directories already resolved under the root, reused while a write batch is open, so
// that the thousands of files of one directory resolve it (a walk of openat/fstat per
// component, and the root's realpath) once per batch instead of once per operation.

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "agent/host/rooted_path.h"

namespace plumb {

// Resolved parents by their in-root path. A cached directory keeps being used until Clear():
// if another process renames or replaces it meanwhile, writes still go to the directory that
// was resolved (inside the root when it was resolved), as they would between a resolve and the
// write without the cache, only for longer. The owner clears it whenever it changes what a
// path resolves to (a symlink made or replaced, anything removed) and when the batch ends.
// Thread-compatible.
class ParentCache {
 public:
  static constexpr size_t kMaxEntries = 64;

  // Like ResolveUnderRoot(root, path, create_parents), reusing a cached parent. A cached
  // parent is lent (ResolvedPath::borrowed, no dup/close per call): it stays open until the
  // next Resolve, even across a Clear() in between, so the caller may use it throughout one
  // operation.
  absl::StatusOr<ResolvedPath> Resolve(const std::string& root, const std::string& path,
                                       bool create_parents);
  // Forgets every parent (those lent out close at the next Resolve or destruction).
  void Clear();

 private:
  absl::flat_hash_map<std::string, UniqueFd> parents_;
  std::vector<UniqueFd> retired_;  // cleared parents, possibly still lent out
};

}  // namespace plumb
