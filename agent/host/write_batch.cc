#include "agent/host/write_batch.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "agent/host/system_error.h"
#include "common/parallel_for.h"

namespace plumb {

WriteBatch::~WriteBatch() {
  for (const Staged& s : staged_) unlinkat(dirs_[s.dir].fd.get(), s.temp.c_str(), 0);
}

absl::Status WriteBatch::Stage(int parent, const std::string& temp, const std::string& name,
                               const std::string& path) {
  struct stat st;
  if (fstat(parent, &st) != 0) return ErrnoError(errno, "stat directory of " + path);
  size_t dir = 0;
  while (dir < dirs_.size() && (dirs_[dir].dev != st.st_dev || dirs_[dir].ino != st.st_ino)) {
    ++dir;
  }
  if (dir == dirs_.size()) {
    if (dirs_.size() >= kMaxDirectories) {
      Commit();
      dir = 0;
    }
    UniqueFd fd(openat(parent, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.valid()) return ErrnoError(errno, "open directory of " + path);
    dirs_.push_back(Directory{std::move(fd), st.st_dev, st.st_ino});
  }
  staged_.push_back(Staged{dir, temp, name, path});
  return absl::OkStatus();
}

void WriteBatch::Fail(const Staged& staged, absl::Status status) {
  failures_.push_back(BatchFailure{staged.path, std::move(status)});
}

std::vector<int> WriteBatch::RenameAll(const std::map<dev_t, int>& sync_error) {
  std::vector<int> errors(staged_.size(), 0);
  auto rename_one = [&](size_t i) {
    const Staged& s = staged_[i];
    const Directory& d = dirs_[s.dir];
    if (sync_error.at(d.dev) != 0) return;
    if (renameat(d.fd.get(), s.temp.c_str(), d.fd.get(), s.name.c_str()) != 0) errors[i] = errno;
  };
  // A rename over an existing file frees its old inode, which on ext4 waits for the journal
  // (milliseconds each on a busy disk); waits of several threads end together, so many
  // replacements go several times faster in parallel. The same path staged twice must be
  // renamed in order (the last write wins): then, and for a few files, one by one.
  std::set<std::pair<size_t, std::string>> names;
  bool distinct = true;
  for (const Staged& s : staged_) distinct = distinct && names.insert({s.dir, s.name}).second;
  if (distinct && staged_.size() >= kParallelRenames) {
    ParallelFor(staged_.size(), rename_one, kRenameThreads);
  } else {
    for (size_t i = 0; i < staged_.size(); ++i) rename_one(i);
  }
  return errors;
}

void WriteBatch::Commit() {
  // 1. The content and metadata of every temp file on disk: one syncfs per filesystem.
  std::map<dev_t, int> sync_error;
  for (const Directory& d : dirs_) {
    if (sync_error.count(d.dev) == 0) sync_error[d.dev] = sync_->SyncFilesystem(d.fd.get());
  }
  // 2. Only then the renames, so that no path ever names unsynced content.
  std::vector<int> rename_error = RenameAll(sync_error);
  std::vector<bool> renamed_into(dirs_.size(), false);
  for (size_t i = 0; i < staged_.size(); ++i) {
    Staged& s = staged_[i];
    const int fd = dirs_[s.dir].fd.get();
    absl::Status status;
    if (int err = sync_error[dirs_[s.dir].dev]; err != 0) {
      status = ErrnoError(err, absl::StrCat("sync the new content of ", s.path));
    } else if (rename_error[i] != 0) {
      status = ErrnoError(rename_error[i], absl::StrCat("rename into ", s.path));
    }
    if (!status.ok()) {
      unlinkat(fd, s.temp.c_str(), 0);
      Fail(s, std::move(status));
      continue;
    }
    s.renamed = true;
    renamed_into[s.dir] = true;
  }
  // 3. The renames on disk: one fsync per directory.
  for (size_t i = 0; i < dirs_.size(); ++i) {
    if (!renamed_into[i]) continue;
    if (int err = sync_->SyncFile(dirs_[i].fd.get()); err != 0) {
      for (const Staged& s : staged_) {
        if (s.dir == i && s.renamed) {
          Fail(s, ErrnoError(err, absl::StrCat("fsync directory of ", s.path)));
        }
      }
    }
  }
  staged_.clear();
  dirs_.clear();
}

}  // namespace plumb
