#pragma once

// Resolution of managed paths under the agent's root without ever leaving it: the walk opens
// one component at a time with O_NOFOLLOW and interprets symlinks itself, refusing those
// whose target leads outside the root.

#include <string>

#include "absl/status/statusor.h"

namespace plumb {

// Owns a file descriptor; closes it on destruction. Move-only.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = other.Release();
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void Reset();

 private:
  int fd_ = -1;
};

// A managed path resolved to an open parent directory and the final name in it.
struct ResolvedPath {
  UniqueFd parent;   // an O_PATH descriptor of the parent directory, usable with *at() calls
  std::string name;  // the final component, never "", "." or ".."
  // Instead of `parent`: a descriptor owned by a ParentCache, valid until its next Resolve.
  int borrowed = -1;
  // The parent directory's descriptor, owned or borrowed.
  int dir() const { return parent.valid() ? parent.get() : borrowed; }
};

// Resolves the parent directories of `path` (absolute, no ".." components, not "/") under
// `root`. Symlinks on the way are followed only while they stay inside the root; the final
// component is not looked at. With `create_parents`, missing directories are created (0755).
// Errors: InvalidArgument (bad path), NotFound (a parent is missing), PermissionDenied (a
// symlink leads outside root), FailedPrecondition (a parent is not a directory, link loop).
absl::StatusOr<ResolvedPath> ResolveUnderRoot(const std::string& root, const std::string& path,
                                              bool create_parents);

// Resolves every component of `path` (following symlinks that stay inside root) to a
// directory and returns its host path (the real root joined with the in-root path).
absl::StatusOr<std::string> ResolveDirectoryUnderRoot(const std::string& root,
                                                      const std::string& path);

}  // namespace plumb
