#include "agent/host/filesystem.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/host/parent_cache.h"
#include "agent/host/rooted_path.h"
#include "agent/host/system_error.h"
#include "agent/host/temp_names.h"
#include "agent/host/write_batch.h"

namespace plumb {
namespace {

FileType TypeOf(mode_t mode) {
  if (S_ISREG(mode)) return FileType::kRegular;
  if (S_ISDIR(mode)) return FileType::kDirectory;
  if (S_ISLNK(mode)) return FileType::kSymlink;
  return FileType::kOther;
}

FileStat ToFileStat(const struct stat& st) {
  FileStat out;
  out.type = TypeOf(st.st_mode);
  out.mode = st.st_mode & 07777;
  out.uid = st.st_uid;
  out.gid = st.st_gid;
  out.size = static_cast<uint64_t>(st.st_size);
  out.inode = st.st_ino;
  return out;
}

absl::Status WriteAll(int fd, absl::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, absl::StrCat("write ", path));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status SyncDirectory(SyncCalls* sync, int dir_fd, const std::string& path) {
  UniqueFd fd(openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  int err = fd.valid() ? sync->SyncFile(fd.get()) : errno;
  if (err != 0) return ErrnoError(err, absl::StrCat("fsync directory of ", path));
  return absl::OkStatus();
}

// Chown before chmod: chown clears the setuid/setgid bits the mode may ask for. Calls that
// would change nothing are skipped, so an unprivileged agent can rewrite files it owns.
absl::Status ApplyMetadataFd(int fd, const FileMetadata& meta, const std::string& path) {
  struct stat st;
  if (fstat(fd, &st) != 0) return ErrnoError(errno, absl::StrCat("stat ", path));
  bool chown_uid = meta.uid.has_value() && *meta.uid != st.st_uid;
  bool chown_gid = meta.gid.has_value() && *meta.gid != st.st_gid;
  if (chown_uid || chown_gid) {
    uid_t uid = chown_uid ? *meta.uid : static_cast<uid_t>(-1);
    gid_t gid = chown_gid ? *meta.gid : static_cast<gid_t>(-1);
    if (fchown(fd, uid, gid) != 0) return ErrnoError(errno, absl::StrCat("chown ", path));
    if (fstat(fd, &st) != 0) return ErrnoError(errno, absl::StrCat("stat ", path));
  }
  if (meta.mode.has_value() && (st.st_mode & 07777) != *meta.mode && fchmod(fd, *meta.mode) != 0) {
    return ErrnoError(errno, absl::StrCat("chmod ", path));
  }
  return absl::OkStatus();
}

absl::StatusOr<struct stat> StatAt(int dir_fd, const std::string& name, const std::string& path) {
  struct stat st;
  if (fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return ErrnoError(errno, absl::StrCat("stat ", path));
  }
  return st;
}

// Directories below the one being removed that RemoveTree descends into: bounds its recursion
// and the file descriptors it holds open at once (one per level).
constexpr int kMaxRemoveDepth = 128;

// FailedPrecondition naming `path` if the entry `name` in `dir_fd` (stat `st`) is a mount
// point: another filesystem than `dev`, or the root of a (bind) mount of the same one.
absl::Status RefuseMountPoint(int dir_fd, const std::string& name, const struct stat& st,
                              dev_t dev, const std::string& path) {
  bool mount = st.st_dev != dev;
  struct statx stx;
  if (!mount && statx(dir_fd, name.c_str(), AT_SYMLINK_NOFOLLOW, 0, &stx) == 0) {
    mount = (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) != 0 &&
            (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
  }
  if (!mount) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      path, " is a mount point; recursive removal does not cross into other mounts"));
}

// Removes `name` in `dir_fd` and everything below it; never follows a symlink nor enters a
// mount point (of another filesystem than `dev`, or a bind mount), and descends at most
// kMaxRemoveDepth levels below `depth` 0. Stops at the first error, naming its path.
absl::Status RemoveTreeAt(int dir_fd, const std::string& name, const std::string& path,
                          dev_t dev, int depth) {
  PLUMB_ASSIGN_OR_RETURN(struct stat st, StatAt(dir_fd, name, path));
  PLUMB_RETURN_IF_ERROR(RefuseMountPoint(dir_fd, name, st, dev, path));
  if (!S_ISDIR(st.st_mode)) {
    if (unlinkat(dir_fd, name.c_str(), 0) != 0) return ErrnoError(errno, "unlink " + path);
    return absl::OkStatus();
  }
  if (depth >= kMaxRemoveDepth) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " is more than ", kMaxRemoveDepth,
                     " directories deep below the one being removed; not removing it"));
  }
  int fd = openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return ErrnoError(errno, absl::StrCat("open ", path));
  DIR* dir = fdopendir(fd);
  if (dir == nullptr) {
    close(fd);
    return ErrnoError(errno, absl::StrCat("opendir ", path));
  }
  std::vector<std::string> children;
  while (struct dirent* entry = readdir(dir)) {
    std::string child = entry->d_name;
    if (child != "." && child != "..") children.push_back(child);
  }
  absl::Status status;
  for (const std::string& child : children) {
    status = RemoveTreeAt(dirfd(dir), child, absl::StrCat(path, "/", child), dev, depth + 1);
    if (!status.ok()) break;
  }
  closedir(dir);
  PLUMB_RETURN_IF_ERROR(status);
  if (unlinkat(dir_fd, name.c_str(), AT_REMOVEDIR) != 0) {
    return ErrnoError(errno, absl::StrCat("rmdir ", path));
  }
  return absl::OkStatus();
}

// The real, root-confined filesystem. Thread-compatible (stateless apart from the root and an
// open write batch).
class RootedFilesystem : public Filesystem {
 public:
  RootedFilesystem(std::string root, SyncCalls* sync)
      : root_(std::move(root)), sync_(sync != nullptr ? sync : &real_sync_) {}

  void BeginBatch() override {
    if (batch_ == nullptr) batch_ = std::make_unique<WriteBatch>(sync_);
  }

  std::vector<BatchFailure> CommitBatch() override {
    if (batch_ == nullptr) return {};
    batch_->Commit();
    std::vector<BatchFailure> failures = batch_->TakeFailures();
    batch_.reset();
    parents_.Clear();
    return failures;
  }

  absl::StatusOr<FileStat> Stat(const std::string& path) override {
    absl::StatusOr<ResolvedPath> r = Resolve(path, false);
    if (absl::IsNotFound(r.status())) return FileStat{};
    if (!r.ok()) return r.status();
    struct stat st;
    if (fstatat(r->dir(), r->name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) return FileStat{};
      return ErrnoError(errno, absl::StrCat("stat ", path));
    }
    return ToFileStat(st);
  }

  absl::StatusOr<std::string> ReadFile(const std::string& path, size_t max_bytes) override {
    PLUMB_ASSIGN_OR_RETURN(ResolvedPath r, Resolve(path, false));
    UniqueFd fd(
        openat(r.dir(), r.name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!fd.valid()) {
      if (errno == ELOOP) return absl::FailedPreconditionError(path + " is a symlink");
      return ErrnoError(errno, absl::StrCat("open ", path));
    }
    struct stat st;
    if (fstat(fd.get(), &st) != 0) return ErrnoError(errno, absl::StrCat("stat ", path));
    if (!S_ISREG(st.st_mode)) return absl::FailedPreconditionError(path + " is not a file");
    if (static_cast<uint64_t>(st.st_size) > max_bytes) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, " is larger than ", max_bytes, " bytes"));
    }
    std::string content;
    char buf[65536];
    for (;;) {
      ssize_t n = read(fd.get(), buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return ErrnoError(errno, absl::StrCat("read ", path));
      if (n == 0) break;
      content.append(buf, static_cast<size_t>(n));
      if (content.size() > max_bytes) {
        return absl::FailedPreconditionError(absl::StrCat(path, " grew while being read"));
      }
    }
    return content;
  }

  absl::StatusOr<std::string> ReadLink(const std::string& path) override {
    PLUMB_ASSIGN_OR_RETURN(ResolvedPath r, Resolve(path, false));
    std::vector<char> buf(4096);
    ssize_t n = readlinkat(r.dir(), r.name.c_str(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINVAL) return absl::FailedPreconditionError(path + " is not a symlink");
      return ErrnoError(errno, absl::StrCat("readlink ", path));
    }
    return std::string(buf.data(), static_cast<size_t>(n));
  }

  absl::Status WriteFile(const std::string& path, absl::string_view content,
                         const FileMetadata& metadata) override {
    PLUMB_ASSIGN_OR_RETURN(ResolvedPath r, Resolve(path, true));
    FileMetadata meta = metadata;
    struct stat st;
    if (fstatat(r.dir(), r.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      if (S_ISDIR(st.st_mode)) return absl::FailedPreconditionError(path + " is a directory");
      if (S_ISLNK(st.st_mode)) parents_.Clear();  // a link on someone's way becomes a file
      if (S_ISREG(st.st_mode)) {
        if (!meta.mode) meta.mode = st.st_mode & 07777;
        if (!meta.uid) meta.uid = st.st_uid;
        if (!meta.gid) meta.gid = st.st_gid;
      }
    }
    if (!meta.mode) meta.mode = 0644;
    std::string temp = temp_names_.Next(r.name);
    UniqueFd fd(openat(r.dir(), temp.c_str(),
                       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd.valid()) return ErrnoError(errno, absl::StrCat("create temp file for ", path));
    absl::Status status = WriteAll(fd.get(), content, path);
    if (status.ok() && !meta.uid && !meta.gid) {
      // Our own new file, no owner wanted: only its mode (0600 now) needs setting.
      if (fchmod(fd.get(), *meta.mode) != 0) status = ErrnoError(errno, "chmod " + path);
    } else if (status.ok()) {
      status = ApplyMetadataFd(fd.get(), meta, path);
    }
    if (status.ok() && batch_ != nullptr) {
      // Synced and renamed by CommitBatch, together with the others.
      fd.Reset();
      status = batch_->Stage(r.dir(), temp, r.name, path);
      if (!status.ok()) unlinkat(r.dir(), temp.c_str(), 0);
      return status;
    }
    if (status.ok()) {
      if (int err = sync_->SyncFile(fd.get()); err != 0) status = ErrnoError(err, "fsync " + path);
    }
    fd.Reset();
    if (status.ok() &&
        renameat(r.dir(), temp.c_str(), r.dir(), r.name.c_str()) != 0) {
      status = ErrnoError(errno, absl::StrCat("rename into ", path));
    }
    if (!status.ok()) {
      unlinkat(r.dir(), temp.c_str(), 0);
      return status;
    }
    return SyncDirectory(sync_, r.dir(), path);
  }

  absl::Status MakeDirectory(const std::string& path, const FileMetadata& metadata) override {
    PLUMB_ASSIGN_OR_RETURN(ResolvedPath r, Resolve(path, true));
    if (mkdirat(r.dir(), r.name.c_str(), 0700) != 0) {
      return ErrnoError(errno, absl::StrCat("mkdir ", path));
    }
    FileMetadata meta = metadata;
    if (!meta.mode) meta.mode = 0755;
    UniqueFd fd(
        openat(r.dir(), r.name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) return ErrnoError(errno, absl::StrCat("open ", path));
    PLUMB_RETURN_IF_ERROR(ApplyMetadataFd(fd.get(), meta, path));
    return SyncDirectory(sync_, r.dir(), path);
  }

  absl::Status MakeSymlink(const std::string& path, const std::string& target) override {
    PLUMB_ASSIGN_OR_RETURN(ResolvedPath r, Resolve(path, true));
    parents_.Clear();  // the link may be on the way to a cached parent
    struct stat st;
    if (fstatat(r.dir(), r.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISDIR(st.st_mode)) {
      return absl::FailedPreconditionError(path + " is a directory");
    }
    std::string temp = temp_names_.Next(r.name);
    if (symlinkat(target.c_str(), r.dir(), temp.c_str()) != 0) {
      return ErrnoError(errno, absl::StrCat("symlink ", path));
    }
    if (renameat(r.dir(), temp.c_str(), r.dir(), r.name.c_str()) != 0) {
      absl::Status status = ErrnoError(errno, absl::StrCat("rename into ", path));
      unlinkat(r.dir(), temp.c_str(), 0);
      return status;
    }
    return SyncDirectory(sync_, r.dir(), path);
  }

  absl::Status SetMetadata(const std::string& path, const FileMetadata& metadata) override {
    PLUMB_ASSIGN_OR_RETURN(ResolvedPath r, Resolve(path, false));
    PLUMB_ASSIGN_OR_RETURN(struct stat st, StatAt(r.dir(), r.name, path));
    if (S_ISLNK(st.st_mode)) {
      if (!metadata.uid && !metadata.gid) return absl::OkStatus();
      if (fchownat(r.dir(), r.name.c_str(), metadata.uid.value_or(-1),
                   metadata.gid.value_or(-1), AT_SYMLINK_NOFOLLOW) != 0) {
        return ErrnoError(errno, absl::StrCat("chown ", path));
      }
      return absl::OkStatus();
    }
    UniqueFd fd(
        openat(r.dir(), r.name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!fd.valid()) return ErrnoError(errno, absl::StrCat("open ", path));
    if (fstat(fd.get(), &st) != 0) return ErrnoError(errno, absl::StrCat("stat ", path));
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
      return absl::FailedPreconditionError(path + " is neither a file nor a directory");
    }
    return ApplyMetadataFd(fd.get(), metadata, path);
  }

  absl::Status Remove(const std::string& path) override {
    absl::StatusOr<ResolvedPath> r = Resolve(path, false);
    parents_.Clear();
    if (absl::IsNotFound(r.status())) return absl::OkStatus();
    if (!r.ok()) return r.status();
    struct stat st;
    if (fstatat(r->dir(), r->name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return errno == ENOENT ? absl::OkStatus() : ErrnoError(errno, "stat " + path);
    }
    int flags = S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0;
    if (unlinkat(r->dir(), r->name.c_str(), flags) != 0) {
      return ErrnoError(errno, absl::StrCat("remove ", path));
    }
    return SyncDirectory(sync_, r->dir(), path);
  }

  absl::Status RemoveTree(const std::string& path) override {
    absl::StatusOr<ResolvedPath> r = Resolve(path, false);
    parents_.Clear();
    if (absl::IsNotFound(r.status())) return absl::OkStatus();
    if (!r.ok()) return r.status();
    struct stat parent;
    if (fstat(r->dir(), &parent) != 0) return ErrnoError(errno, "stat parent of " + path);
    absl::Status status = RemoveTreeAt(r->dir(), r->name, path, parent.st_dev, 0);
    if (absl::IsNotFound(status)) return absl::OkStatus();
    return status;
  }

  absl::StatusOr<uint32_t> LookupUser(const std::string& name_or_id) override {
    uint32_t id;
    if (absl::SimpleAtoi(name_or_id, &id)) return id;
    struct passwd pw;
    struct passwd* found = nullptr;
    std::vector<char> buf(16384);
    int err = getpwnam_r(name_or_id.c_str(), &pw, buf.data(), buf.size(), &found);
    if (found == nullptr) {
      if (err != 0) return ErrnoError(err, absl::StrCat("look up user ", name_or_id));
      return absl::NotFoundError(absl::StrCat("unknown user \"", name_or_id, "\""));
    }
    return pw.pw_uid;
  }

  absl::StatusOr<uint32_t> LookupGroup(const std::string& name_or_id) override {
    uint32_t id;
    if (absl::SimpleAtoi(name_or_id, &id)) return id;
    struct group gr;
    struct group* found = nullptr;
    std::vector<char> buf(65536);
    int err = getgrnam_r(name_or_id.c_str(), &gr, buf.data(), buf.size(), &found);
    if (found == nullptr) {
      if (err != 0) return ErrnoError(err, absl::StrCat("look up group ", name_or_id));
      return absl::NotFoundError(absl::StrCat("unknown group \"", name_or_id, "\""));
    }
    return gr.gr_gid;
  }

  absl::StatusOr<std::string> HostPath(const std::string& path) override {
    return ResolveDirectoryUnderRoot(root_, path);
  }

 private:
  // Reuses resolved parent directories while a batch is open (see ParentCache).
  absl::StatusOr<ResolvedPath> Resolve(const std::string& path, bool create_parents) {
    if (batch_ == nullptr) return ResolveUnderRoot(root_, path, create_parents);
    return parents_.Resolve(root_, path, create_parents);
  }

  const std::string root_;
  ParentCache parents_;  // only used, and cleared at its end, while batch_ is open
  SyncCalls real_sync_;
  SyncCalls* const sync_;  // real_sync_ unless a test gave one
  std::unique_ptr<WriteBatch> batch_;  // between BeginBatch and CommitBatch
  TempNames temp_names_;
};

}  // namespace

int SyncCalls::SyncFilesystem(int fd) { return syncfs(fd) == 0 ? 0 : errno; }
int SyncCalls::SyncFile(int fd) { return fsync(fd) == 0 ? 0 : errno; }

std::unique_ptr<Filesystem> NewRootedFilesystem(std::string root, SyncCalls* sync) {
  return std::make_unique<RootedFilesystem>(std::move(root), sync);
}

}  // namespace plumb
