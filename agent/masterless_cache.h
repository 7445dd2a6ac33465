#pragma once

// The compile cache of masterless apply (`plumb-agent apply REPO_DIR`): the catalog and blobs
// compiled for this node, kept in state_dir with every input the compile read, so that a run
// whose inputs did not change skips parsing and compiling the repository (on a 5,000-file
// repository that was four fifths of an idempotent run). CFEngine does the same with its
// validated-policy stamp; unlike that stamp, a hit here needs every input to compare equal.
//
// What a hit requires (anything else recompiles):
//  - the same compiler: the running executable's (device, inode, size, mtime), so any rebuild or
//    upgrade of plumb-agent misses;
//  - the same node inputs: name, labels and every gathered fact;
//  - every repository read of the compile gives the same answer now: each file read has the
//    same sha256, each directory listed the same names, each failed read the same error. The
//    compiler reads the repository only through RepoTree, and RecordingTree sees all of it, so
//    a change anywhere the compile looked (a new module directory included) is a miss.
// The file carries the sha256 of its body, so a torn or corrupted cache is a miss, never a
// wrong catalog; it is written 0600 (it holds file contents, sensitive ones too, like the
// daemon's blob cache) through temp + rename, without fsync (losing it costs one compile).

#include <map>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/compiler/compiler.h"
#include "common/compiler/repo_tree.h"

namespace plumb {

// One answer the repository gave a compile: key (kind, path), value the digest of the answer.
using RepoReads = std::map<std::pair<char, std::string>, std::string>;

// A RepoTree that passes reads through to another one and records what each returned.
// Thread-safe.
class RecordingTree : public RepoTree {
 public:
  // `tree` must outlive this.
  explicit RecordingTree(const RepoTree* tree) : tree_(tree) {}
  absl::StatusOr<std::string> ReadFile(absl::string_view path) const override;
  absl::StatusOr<std::vector<std::string>> ListDir(absl::string_view path) const override;
  RepoReads reads() const;

 private:
  const RepoTree* tree_;
  mutable absl::Mutex mu_;
  mutable RepoReads reads_ ABSL_GUARDED_BY(mu_);
};

// The one-slot cache file. Thread-compatible.
class MasterlessCache {
 public:
  // `identity` names the compiler (ExecutableIdentity() in production).
  MasterlessCache(std::string path, std::string identity)
      : path_(std::move(path)), identity_(std::move(identity)) {}

  // The cached compile of `node` if the file is intact and every recorded read of `tree`
  // answers as it did; nullopt otherwise (missing file included).
  std::optional<NodeCompileResult> Lookup(const RepoTree& tree, const NodeInputs& node) const;

  // Replaces the cache with `result` (which must be ok()), compiled from `reads`.
  absl::Status Store(const RepoReads& reads, const NodeInputs& node,
                     const NodeCompileResult& result) const;

 private:
  const std::string path_;
  const std::string identity_;
};

// "dev:inode:size:mtime_ns" of the running executable; empty if it cannot be read (then the
// cache is not used).
std::string ExecutableIdentity();

}  // namespace plumb
