#pragma once

// Holds the serving revision's parsed desired state and the catalogs compiled from it: one
// immutable catalog per group of nodes with equal compile inputs (DesiredState::GroupKey),
// shared by every node of the group, plus the file contents (blobs) those catalogs name.

#include <list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/compiler/compiler.h"
#include "plumb/v1/types.pb.h"

namespace plumb {

// Thread-safe. The cache of compiled groups is an LRU bounded by bytes (max_cache_bytes).
class CatalogBuilder {
 public:
  // The default bound on the bytes of compiled groups kept for the serving revision
  // (docs/repository-format.md, "Compile once per group"). Nodes with ever-new inputs that templates read make ever-new groups;
  // past the bound the least recently used groups are dropped and compiled again on demand.
  static constexpr size_t kDefaultMaxCacheBytes = 256 << 20;

  explicit CatalogBuilder(size_t max_cache_bytes = kDefaultMaxCacheBytes)
      : max_cache_bytes_(max_cache_bytes) {}

  // Makes `state` the serving revision. Catalogs of the previous revision are dropped; its
  // blobs stay fetchable until the next swap so agents mid-update can finish. `compiled`:
  // results already compiled from `state`, by DesiredState::GroupKey (the poller's validation
  // pass), so that no group is compiled twice per revision.
  void SetDesiredState(std::shared_ptr<const DesiredState> state,
                       absl::flat_hash_map<std::string, NodeCompileResult> compiled = {});
  // Null before any revision has been served.
  std::shared_ptr<const DesiredState> desired_state() const;

  // The node's catalog at the serving revision. FailedPrecondition if nothing is served yet;
  // InvalidArgument listing the compile errors if this node's catalog does not compile.
  absl::StatusOr<std::shared_ptr<const v1::Catalog>> Build(const NodeInputs& node);

  // NotFound unless a cached catalog of the serving (or previous) revision names `digest`, or a
  // caller still holds the content from PinBlobs.
  absl::StatusOr<std::shared_ptr<const std::string>> Blob(const std::string& digest) const;
  // The contents `catalog` (just returned by Build) names. Whoever holds them keeps them
  // fetchable through Blob even after the catalog's group is evicted: a stream pins what it
  // offered, so its agent can fetch every file of it.
  std::vector<std::shared_ptr<const std::string>> PinBlobs(const v1::Catalog& catalog) const;

  // How many distinct catalogs of the serving revision are cached (for tests/metrics).
  int compiled_groups() const;
  // The bytes those cached groups account for (catalogs, their rendered blobs, errors); at
  // most the cap unless a single group is larger than it.
  size_t cached_bytes() const;
  // Changes with every SetDesiredState: a catalog built at one generation is still the node's
  // catalog while the generation is unchanged.
  uint64_t generation() const;

 private:
  // One cached group: its compile result, what it costs, its place in lru_.
  struct Group {
    NodeCompileResult result;
    size_t bytes = 0;
    std::list<std::string>::iterator lru;
  };
  // A blob named by `refs` cached groups.
  struct SharedBlob {
    std::shared_ptr<const std::string> content;
    int refs = 0;
  };

  // Caches `result` under `key` (unless present) and evicts down to the cap. Returns the
  // cached result (valid until the lock is released).
  const NodeCompileResult& Insert(const std::string& key, NodeCompileResult result)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Evict() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t max_cache_bytes_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const DesiredState> state_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  absl::node_hash_map<std::string, Group> by_group_ ABSL_GUARDED_BY(mu_);
  std::list<std::string> lru_ ABSL_GUARDED_BY(mu_);  // group keys, most recently used first
  size_t cached_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  // Blobs of the cached groups; a blob goes when the last group naming it is evicted.
  std::map<std::string, SharedBlob> blobs_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, SharedBlob> previous_blobs_ ABSL_GUARDED_BY(mu_);
  // Blobs of evicted groups that a stream may still pin (PinBlobs); expired entries are
  // pruned as evictions add more.
  std::map<std::string, std::weak_ptr<const std::string>> evicted_blobs_ ABSL_GUARDED_BY(mu_);
};

// Joins compile errors into one message, one per line.
std::string JoinCompileErrors(const std::vector<CompileError>& errors);

}  // namespace plumb
