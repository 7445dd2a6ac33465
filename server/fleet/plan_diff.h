#pragma once

// The pure part of a fleet plan: what changes between two compiled catalogs of one node
// (resources added, removed, changed in content, attributes or relations, refreshed by a
// change), and the grouping of nodes whose catalogs change the same way. No git, no store.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/compiler/compiler.h"
#include "plumb/v1/fleet.pb.h"

namespace plumb {

// At most this many bytes of unified diff per group, and per plan (the rest is cut with a
// marker line), so a plan answer stays far under gRPC's 4 MiB message limit.
inline constexpr size_t kMaxPlanGroupDiffBytes = 64 * 1024;
inline constexpr size_t kMaxPlanDiffBytes = 1024 * 1024;

// How one node's catalog changes. Immutable once built; shared by every node with the same
// pair of inputs.
struct CatalogChange {
  std::vector<v1::PlanResourceChange> changes;  // `to`'s order, then removed in `from`'s order
  std::string summary;  // "file:/etc/motd content, service:nginx refresh"; "" when unchanged
  std::string diff;     // unified diffs of changed contents; sensitive ones by name only
  bool empty() const { return changes.empty(); }
  // Equal for two changes of the same resources in the same ways (the diffs may differ).
  std::string Key() const;
};

// Compares `from` (may be null: no catalog yet) with `to`; both must compile (ok()). File
// contents come from each result's blobs; a resource sensitive on either side never shows
// its content: its diff is the line "<id>: content changed (sensitive)".
CatalogChange DiffCatalogs(const NodeCompileResult* from, const NodeCompileResult& to);

// Collects per-node outcomes and builds the plan answer. Thread-compatible.
class PlanAssembler {
 public:
  void AddChange(const std::string& node, std::shared_ptr<const CatalogChange> change);
  // `errors` are prefixed with `context` ("" for none).
  void AddFailure(const std::string& node, const std::vector<CompileError>& errors,
                  const std::string& context = "");
  void AddSkipped() { ++skipped_; }
  // Groups (largest first, then by first node), failures and untouched nodes, all sorted. A
  // group shows its first node's diff; when other members' diffs differ it says so.
  void Finish(v1::PlanResponse* out);

 private:
  struct Group {
    std::vector<std::pair<std::string, std::shared_ptr<const CatalogChange>>> members;
  };
  std::map<std::string, Group> groups_;  // by CatalogChange::Key()
  std::vector<std::string> unchanged_;
  std::vector<v1::NodeFailure> failures_;
  int skipped_ = 0;
};

}  // namespace plumb
