#pragma once

// The staged writes of Filesystem::BeginBatch / CommitBatch: temp files written but neither
// synced nor renamed yet, put in place together with one sync per filesystem, the renames, and
// one fsync per directory.

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "agent/host/filesystem.h"
#include "agent/host/rooted_path.h"

namespace plumb {

// Staged temp files grouped by directory. Each directory holds one descriptor, so a batch
// commits early once it holds kMaxDirectories of them. Thread-compatible.
class WriteBatch {
 public:
  static constexpr size_t kMaxDirectories = 64;

  // `sync` is not owned and must outlive the batch.
  explicit WriteBatch(SyncCalls* sync) : sync_(sync) {}
  // Removes the temp files of writes never committed.
  ~WriteBatch();
  WriteBatch(const WriteBatch&) = delete;
  WriteBatch& operator=(const WriteBatch&) = delete;

  // Takes note of the written temp file `temp` in directory `parent` (any descriptor of it),
  // to be renamed to `name` there; `path` is the managed path, for the caller and messages.
  // On error the temp file is left to the caller.
  absl::Status Stage(int parent, const std::string& temp, const std::string& name,
                     const std::string& path);
  // Syncs, renames and syncs the directories of everything staged so far. A path that could
  // not be put in place (its temp file removed) is kept for TakeFailures.
  void Commit();
  std::vector<BatchFailure> TakeFailures() { return std::move(failures_); }

 private:
  struct Directory {
    UniqueFd fd;  // opened O_RDONLY: syncfs and fsync refuse O_PATH descriptors
    dev_t dev;
    ino_t ino;
  };
  struct Staged {
    size_t dir;  // index in dirs_
    std::string temp;
    std::string name;
    std::string path;
    bool renamed = false;
  };
  void Fail(const Staged& staged, absl::Status status);
  // Renames every staged file whose filesystem synced; the errno of each rename (0: done).
  std::vector<int> RenameAll(const std::map<dev_t, int>& sync_error);

  static constexpr size_t kParallelRenames = 32;  // fewer staged files: renamed in order
  static constexpr unsigned kRenameThreads = 8;

  SyncCalls* const sync_;
  std::vector<Directory> dirs_;
  std::vector<Staged> staged_;
  std::vector<BatchFailure> failures_;
};

}  // namespace plumb
