#include "agent/host/rooted_path.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <deque>
#include <system_error>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "agent/host/system_error.h"

namespace plumb {

void UniqueFd::Reset() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

namespace {

constexpr int kMaxSymlinkHops = 40;

absl::Status ValidateManagedPath(const std::string& path) {
  if (path.empty() || path[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat("path must be absolute, got \"", path, "\""));
  }
  if (path.find('\0') != std::string::npos) {
    return absl::InvalidArgumentError("path contains a NUL byte");
  }
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part == "..") {
      return absl::InvalidArgumentError(
          absl::StrCat("path must not contain \"..\", got \"", path, "\""));
    }
  }
  return absl::OkStatus();
}

// Components of `path`, dropping empty ones and "." (".." is kept for the walk to interpret).
std::deque<std::string> Components(absl::string_view path) {
  std::deque<std::string> out;
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part.empty() || part == ".") continue;
    out.emplace_back(part.data(), part.size());
  }
  return out;
}

// The directories walked so far: fds[0] is the root, fds[i + 1] was reached by names[i].
struct Walk {
  std::string root_real;
  std::vector<UniqueFd> fds;
  std::vector<std::string> names;

  std::string InRootPath(absl::string_view last = "") const {
    std::string path = absl::StrCat("/", absl::StrJoin(names, "/"));
    if (!last.empty()) absl::StrAppend(&path, path.size() > 1 ? "/" : "", last);
    return path;
  }
  void ResetToRoot() {
    fds.resize(1);
    names.clear();
  }
};

absl::StatusOr<Walk> OpenRoot(const std::string& root, bool create) {
  if (create) {
    UniqueFd probe(open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!probe.valid() && errno == ENOENT) {
      // The root itself (a sandbox folder) may not exist yet: make it, like mkdir -p.
      std::string prefix;
      for (const std::string& part : Components(root)) {
        absl::StrAppend(&prefix, "/", part);
        if (mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
          return ErrnoError(errno, absl::StrCat("create root ", prefix));
        }
      }
    }
  }
  Walk walk;
  UniqueFd fd(open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError(errno, absl::StrCat("open root ", root));
  char real[PATH_MAX];
  if (realpath(root.c_str(), real) == nullptr) {
    return ErrnoError(errno, absl::StrCat("resolve root ", root));
  }
  walk.root_real = real;
  walk.fds.push_back(std::move(fd));
  return walk;
}

absl::StatusOr<std::string> ReadLinkFd(int fd) {
  char buf[PATH_MAX];
  ssize_t n = readlinkat(fd, "", buf, sizeof(buf));
  if (n < 0) return ErrnoError(errno, "readlink");
  return std::string(buf, static_cast<size_t>(n));
}

// Replaces the symlink component just opened as `link_fd` by its target's components.
absl::Status FollowLink(int link_fd, const std::string& link_path, const std::string& root,
                        Walk* walk, std::deque<std::string>* pending) {
  PLUMB_ASSIGN_OR_RETURN(std::string target, ReadLinkFd(link_fd));
  std::deque<std::string> parts = Components(target);
  if (!target.empty() && target[0] == '/') {
    const std::string& real = walk->root_real;
    if (real != "/") {
      if (target != real && !absl::StartsWith(target, real + "/")) {
        return absl::PermissionDeniedError(absl::StrCat("symlink ", link_path, " -> ", target,
                                                        " leads outside root ", root,
                                                        "; refusing to follow it"));
      }
      parts = Components(absl::string_view(target).substr(real.size()));
    }
    walk->ResetToRoot();
  }
  pending->insert(pending->begin(), parts.begin(), parts.end());
  return absl::OkStatus();
}

// Opens (or, with `create`, makes) directory `name` below the last walked directory.
absl::StatusOr<UniqueFd> OpenStep(int dir_fd, const std::string& name, bool create) {
  UniqueFd fd(openat(dir_fd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (fd.valid() || errno != ENOENT || !create) {
    if (!fd.valid()) return ErrnoError(errno, "open");
    return fd;
  }
  if (mkdirat(dir_fd, name.c_str(), 0755) != 0 && errno != EEXIST) {
    return ErrnoError(errno, "mkdir");
  }
  UniqueFd made(openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (made.valid()) fchmod(made.get(), 0755);  // the umask must not narrow parents we create
  fd = UniqueFd(openat(dir_fd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError(errno, "open");
  return fd;
}

// Walks `pending` components from the root, leaving the directories in `walk`.
absl::Status WalkDirectories(const std::string& root, const std::string& path,
                             std::deque<std::string> pending, bool create, Walk* walk) {
  int hops = 0;
  while (!pending.empty()) {
    std::string part = std::move(pending.front());
    pending.pop_front();
    if (part == "..") {
      if (walk->names.empty()) {
        if (walk->root_real == "/") continue;  // "/.." is "/", as in the kernel
        return absl::PermissionDeniedError(absl::StrCat(
            "path ", path, ": a symlink on the way leads outside root ", root, " via \"..\""));
      }
      walk->fds.pop_back();
      walk->names.pop_back();
      continue;
    }
    std::string step_path = walk->InRootPath(part);
    absl::StatusOr<UniqueFd> fd = OpenStep(walk->fds.back().get(), part, create);
    if (!fd.ok()) {
      return absl::Status(fd.status().code(), absl::StrCat("path ", path, ": ", step_path, ": ",
                                                           fd.status().message()));
    }
    struct stat st;
    if (fstat(fd->get(), &st) != 0) return ErrnoError(errno, absl::StrCat("stat ", step_path));
    if (S_ISDIR(st.st_mode)) {
      walk->fds.push_back(std::move(*fd));
      walk->names.push_back(part);
    } else if (S_ISLNK(st.st_mode)) {
      if (++hops > kMaxSymlinkHops) {
        return absl::FailedPreconditionError(
            absl::StrCat("path ", path, ": too many levels of symlinks"));
      }
      absl::Status followed = FollowLink(fd->get(), step_path, root, walk, &pending);
      if (!followed.ok()) {
        return absl::Status(followed.code(), absl::StrCat("path ", path, ": ", followed.message()));
      }
    } else {
      return absl::FailedPreconditionError(
          absl::StrCat("path ", path, ": ", step_path, " is not a directory"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ResolvedPath> ResolveUnderRoot(const std::string& root, const std::string& path,
                                              bool create_parents) {
  PLUMB_RETURN_IF_ERROR(ValidateManagedPath(path));
  std::deque<std::string> parts = Components(path);
  if (parts.empty()) {
    return absl::InvalidArgumentError("cannot manage the root directory itself");
  }
  std::string name = parts.back();
  parts.pop_back();
  PLUMB_ASSIGN_OR_RETURN(Walk walk, OpenRoot(root, create_parents));
  PLUMB_RETURN_IF_ERROR(WalkDirectories(root, path, std::move(parts), create_parents, &walk));
  ResolvedPath resolved;
  resolved.parent = std::move(walk.fds.back());
  resolved.name = std::move(name);
  return resolved;
}

absl::StatusOr<std::string> ResolveDirectoryUnderRoot(const std::string& root,
                                                      const std::string& path) {
  PLUMB_RETURN_IF_ERROR(ValidateManagedPath(path));
  PLUMB_ASSIGN_OR_RETURN(Walk walk, OpenRoot(root, false));
  PLUMB_RETURN_IF_ERROR(WalkDirectories(root, path, Components(path), false, &walk));
  std::string in_root = walk.InRootPath();
  if (walk.root_real == "/") return in_root;
  return in_root == "/" ? walk.root_real : absl::StrCat(walk.root_real, in_root);
}

}  // namespace plumb
