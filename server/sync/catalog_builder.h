#pragma once

// Holds the serving revision's parsed desired state and the catalogs compiled from it: one
// immutable catalog per group of nodes with equal compile inputs (DesiredState::GroupKey),
// shared by every node of the group, plus the file contents (blobs) those catalogs name.

#include <map>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/compiler/compiler.h"
#include "plumb/v1/types.pb.h"

namespace plumb {

// Thread-safe.
class CatalogBuilder {
 public:
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

  // NotFound unless a catalog of the serving (or previous) revision names `digest`.
  absl::StatusOr<std::shared_ptr<const std::string>> Blob(const std::string& digest) const;

  // How many distinct catalogs were compiled for the serving revision (for tests/metrics).
  int compiled_groups() const;
  // Changes with every SetDesiredState: a catalog built at one generation is still the node's
  // catalog while the generation is unchanged.
  uint64_t generation() const;

 private:
  mutable absl::Mutex mu_;
  std::shared_ptr<const DesiredState> state_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, NodeCompileResult> by_group_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<const std::string>> blobs_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<const std::string>> previous_blobs_ ABSL_GUARDED_BY(mu_);
};

// Joins compile errors into one message, one per line.
std::string JoinCompileErrors(const std::vector<CompileError>& errors);

}  // namespace plumb
