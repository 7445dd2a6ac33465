#pragma once

// The files a provider touches, as a seam: every managed path is an absolute path resolved
// under the agent's `root`, and resolution refuses (never follows) anything that would lead
// outside it.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/resource_types.h"  // ParseMode, FormatMode: one mode parser for both sides

namespace plumb {

enum class FileType { kMissing, kRegular, kDirectory, kSymlink, kOther };

// What is at a path (the entry itself: a final symlink is described, not followed).
struct FileStat {
  FileType type = FileType::kMissing;
  uint32_t mode = 0;  // permission bits only (07777)
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t size = 0;
  uint64_t inode = 0;
};

// Desired permissions and ownership; an unset field is left as it is (or defaulted on create).
struct FileMetadata {
  std::optional<uint32_t> mode;
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
};

// A staged write that CommitBatch could not put in place, and why.
struct BatchFailure {
  std::string path;
  absl::Status status;
};

// Filesystem operations on managed paths. A managed path is absolute ("/etc/motd"), has no
// ".." component, and is resolved under the root: symlinks in the parent directories are
// followed only while they stay inside the root (PermissionDenied otherwise); the final
// component is never followed. Operations go through directory file descriptors with
// O_NOFOLLOW, so swapping a directory for a symlink between check and apply cannot redirect
// them. Thread-compatible.
class Filesystem {
 public:
  virtual ~Filesystem() = default;

  // kMissing when the path or one of its parents does not exist.
  virtual absl::StatusOr<FileStat> Stat(const std::string& path) = 0;
  // The content of a regular file. FailedPrecondition if it is not a regular file or is
  // larger than `max_bytes`.
  virtual absl::StatusOr<std::string> ReadFile(const std::string& path, size_t max_bytes) = 0;
  // The target of a symlink. FailedPrecondition if `path` is not a symlink.
  virtual absl::StatusOr<std::string> ReadLink(const std::string& path) = 0;

  // Atomically creates or replaces `path` with a regular file: temp file in the same
  // directory, content, metadata, fsync, rename, fsync of the directory (inside a batch the
  // sync and rename wait for CommitBatch, see BeginBatch). Unset metadata is
  // taken from the regular file being replaced, else mode 0644 and the agent's owner. Missing
  // parent directories are created (0755). Fails on a directory.
  virtual absl::Status WriteFile(const std::string& path, absl::string_view content,
                                 const FileMetadata& metadata) = 0;

  // Durable writes in bulk (a run writing thousands of files pays one sync, not two per file).
  // After BeginBatch, WriteFile writes content and metadata to a temp file next to the path
  // and returns without syncing or renaming it: the path keeps its old content, and a
  // caller must not read it back before CommitBatch. CommitBatch syncs every staged temp file
  // (one syncfs per filesystem), renames each into place, syncs each parent directory once,
  // and ends the batch; a power cut at any point leaves each path with its old or its new
  // content, never a torn one. Returns the staged paths it could not put in place (a failed
  // sync fails every path of that filesystem and removes their temp files). The other
  // operations stay immediate. A batch may commit early on its own (many directories); its
  // failures are still returned by CommitBatch.
  virtual void BeginBatch() {}
  virtual std::vector<BatchFailure> CommitBatch() { return {}; }

  // Creates a directory (and missing parents, 0755) with `metadata` (mode default 0755).
  virtual absl::Status MakeDirectory(const std::string& path, const FileMetadata& metadata) = 0;
  // Atomically creates or replaces (anything but a directory) `path` with a symlink.
  virtual absl::Status MakeSymlink(const std::string& path, const std::string& target) = 0;
  // Sets mode/owner/group on the existing regular file or directory at `path`; on a symlink
  // only ownership (the link itself).
  virtual absl::Status SetMetadata(const std::string& path, const FileMetadata& metadata) = 0;
  // Removes a file or symlink, or an empty directory. OK if already missing.
  virtual absl::Status Remove(const std::string& path) = 0;
  // Removes `path` and, for a directory, everything below it, never following symlinks.
  // FailedPrecondition naming the path, and nothing more removed, on reaching a mount point
  // (another filesystem, or a bind mount) or a directory 128 levels below `path`; what was
  // removed before that stays removed.
  virtual absl::Status RemoveTree(const std::string& path) = 0;

  // The uid / gid for a user / group name or a decimal id. NotFound for an unknown name.
  virtual absl::StatusOr<uint32_t> LookupUser(const std::string& name_or_id) = 0;
  virtual absl::StatusOr<uint32_t> LookupGroup(const std::string& name_or_id) = 0;

  // The host path of directory `path` after checking it resolves inside root, for handing to
  // other processes (an exec's cwd). Not race-free: the directory may change afterwards.
  virtual absl::StatusOr<std::string> HostPath(const std::string& path) = 0;
};

// How the real filesystem makes data durable: syncfs(2) and fsync(2). Tests substitute one to
// see what is on disk at the moment of a sync, or to make a sync fail. Thread-compatible.
class SyncCalls {
 public:
  virtual ~SyncCalls() = default;
  // Each returns 0, or the errno value of the failure.
  virtual int SyncFilesystem(int fd);  // syncfs(fd)
  virtual int SyncFile(int fd);        // fsync(fd), also of directories
};

// The real filesystem under `root` ("/" in production). The root is opened on every
// operation, so it may be created after construction. `sync` (not owned, outlives the
// filesystem) defaults to the real system calls.
std::unique_ptr<Filesystem> NewRootedFilesystem(std::string root, SyncCalls* sync = nullptr);

}  // namespace plumb
