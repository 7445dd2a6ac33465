#pragma once

// plumbctl plan / FleetService.Plan: what a ref of the tracked repository would change on every
// known node. Fetches the ref into the mirror (never the followed branch's ref), compiles it
// for each node with its stored labels and facts, and compares with the node's catalog of the
// serving revision (or of `from`). Records nothing, serves nothing, changes no node row.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/compiler/compiler.h"
#include "plumb/v1/fleet.pb.h"
#include "server/fleet/plan_diff.h"
#include "server/fleet/plan_noop.h"
#include "server/git/git_source.h"
#include "server/store/store.h"

namespace plumb {

// Thread-safe: every Plan call works on its own state (git and store are thread-safe).
class Planner {
 public:
  // Nothing owned; all must outlive the planner. Nodes revoked, or not connected and not seen
  // for `stale_after` (0: never stale), are skipped, as the revision poller skips them.
  Planner(GitSource* git, Store* store, Clock* clock, absl::Duration stale_after)
      : git_(git), store_(store), clock_(clock), stale_after_(stale_after) {}

  // With a sampler, requests with noop_sample also ask connected nodes to run the planned
  // catalog in noop mode (plan_noop.h). Not owned; outlives the planner. Set before serving.
  void set_noop_sampler(NoopSampler* sampler) { sampler_ = sampler; }
  // With environments: the tree of `sha` from revision line `environment`'s own mirror
  // (NotFound: no such line). Set, a plan without `from` compares each node with its own
  // line's serving revision; unset, with the single line's. Set before serving; thread-safe.
  using LineTrees = std::function<absl::StatusOr<std::unique_ptr<RepoTree>>(
      const std::string& environment, const std::string& sha)>;
  void set_line_trees(LineTrees trees) { line_trees_ = std::move(trees); }

  // InvalidArgument for an empty or malformed ref, NotFound for one the repository lacks,
  // Unavailable when fetching fails. Compile errors of `to` (or `from`) are in the answer.
  absl::StatusOr<v1::PlanResponse> Plan(const v1::PlanRequest& request);

 private:
  // One side of the comparison: a parsed revision and its compiles, one per group of inputs,
  // each held only while a node still to be planned uses it.
  struct Side {
    std::shared_ptr<const DesiredState> state;  // null: no catalog (nothing served yet)
    absl::flat_hash_map<std::string, std::shared_ptr<const NodeCompileResult>> compiled;
    absl::flat_hash_map<std::string, int> uses;  // group key -> nodes not yet planned
    // The group key of every node (empty keys when state is null), counted in `uses`.
    std::vector<std::string> Keys(const std::vector<NodeInputs>& nodes);
    // Compiles the groups of nodes[begin, end) not compiled yet, spread over the cores.
    void Compile(const std::vector<NodeInputs>& nodes, const std::vector<std::string>& keys,
                 size_t begin, size_t end);
    // Drops the compiles no node after `end` needs.
    void Release(const std::vector<std::string>& keys, size_t begin, size_t end);
  };
  // Catalog changes by pair of group keys (pointer-stable values).
  using ChangeCache = absl::node_hash_map<std::string, std::shared_ptr<const CatalogChange>>;

  absl::StatusOr<std::shared_ptr<const DesiredState>> Load(const std::string& sha);
  // Fills `side` for `ref`, or for out->serving_revision() (maybe none) when `ref` is empty.
  absl::Status LoadFrom(const std::string& ref, Side* side, v1::PlanResponse* out);
  // Compiles every planned node on both sides and collects the changes.
  // `connected`: the planned nodes whose stream is open, with their inputs (noop samples).
  absl::Status PlanNodes(const v1::PlanRequest& request, Side* from, Side* to,
                         v1::PlanResponse* out, std::map<std::string, NodeInputs>* connected);
  // Fills `side` with what line `environment` serves (none: every resource is new) and
  // records it in out->environment_serving.
  absl::Status LoadLine(const std::string& environment, Side* side, v1::PlanResponse* out);
  // Plans `live` (nodes compared with `from`) in batches.
  static void PlanLine(const std::vector<NodeInputs>& live, Side* from, Side* to,
                       ChangeCache* changes, PlanAssembler* assembler);
  // Compares and records nodes live[begin, end), whose groups are compiled on both sides.
  static void PlanBatch(const std::vector<NodeInputs>& live,
                        const std::vector<std::string>& from_keys,
                        const std::vector<std::string>& to_keys, size_t begin, size_t end,
                        Side* from, Side* to, ChangeCache* changes, PlanAssembler* assembler);

  GitSource* const git_;
  Store* const store_;
  Clock* const clock_;
  const absl::Duration stale_after_;
  NoopSampler* sampler_ = nullptr;
  LineTrees line_trees_;
};

}  // namespace plumb
