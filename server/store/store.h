#pragma once

// The server's fleet state: revisions with their compile status and errors, nodes, reports and
// their resource events. An interface: the embedded SQLite store (server/store/sqlite/) is the
// default; a PostgreSQL store for replicas goes behind the same contract. Implementations are
// thread-safe.

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "plumb/v1/fleet.pb.h"
#include "plumb/v1/types.pb.h"

namespace plumb {

// Store::GetRevision and ListRevisions: every revision line. No branch can be named "*".
inline constexpr char kAnyEnvironment[] = "*";

// Thread-safe in every implementation.
class Store {
 public:
  virtual ~Store() = default;

  // Revisions. Each belongs to one revision line, Revision.environment: the branch of its
  // server.yaml `environments:` entry, or "" when the server follows one branch. A commit on
  // two lines' branches is two rows. PutRevision inserts or replaces by (environment, sha).
  virtual absl::Status PutRevision(const v1::Revision& revision) = 0;
  // In line `environment` (kAnyEnvironment: any line; a sha in several lines gives its newest
  // row): a full sha or a unique prefix (>= 4 chars). NotFound / InvalidArgument (ambiguous).
  virtual absl::StatusOr<v1::Revision> GetRevision(const std::string& environment,
                                                   const std::string& sha_or_prefix) = 0;
  absl::StatusOr<v1::Revision> GetRevision(const std::string& sha_or_prefix) {
    return GetRevision(kAnyEnvironment, sha_or_prefix);
  }
  // Newest first (by fetched time), of line `environment` (kAnyEnvironment: every line).
  // `serving` is set on each line's serving revision.
  virtual absl::StatusOr<std::vector<v1::Revision>> ListRevisions(const std::string& environment,
                                                                  int limit) = 0;
  absl::StatusOr<std::vector<v1::Revision>> ListRevisions(int limit) {
    return ListRevisions(kAnyEnvironment, limit);
  }
  // Line `environment` serves `sha`. NotFound for a revision unknown in that line;
  // FailedPrecondition for one that failed to compile.
  virtual absl::Status SetServingRevision(const std::string& environment,
                                          const std::string& sha) = 0;
  absl::Status SetServingRevision(const std::string& sha) { return SetServingRevision("", sha); }
  // Empty string when line `environment` has served no revision yet.
  virtual absl::StatusOr<std::string> ServingRevision(const std::string& environment) = 0;
  absl::StatusOr<std::string> ServingRevision() { return ServingRevision(""); }

  // Nodes. PutNodes inserts or replaces by name, all in one transaction (all or none).
  absl::Status PutNode(const v1::Node& node) { return PutNodes({node}); }
  virtual absl::Status PutNodes(const std::vector<v1::Node>& nodes) = 0;
  // NotFound if the node has never connected.
  virtual absl::StatusOr<v1::Node> GetNode(const std::string& name) = 0;
  // Nodes whose labels include every selector pair and (unless NODE_STATUS_UNSPECIFIED) whose
  // status equals `status`; sorted by name.
  virtual absl::StatusOr<std::vector<v1::Node>> ListNodes(
      const std::map<std::string, std::string>& selector, v1::NodeStatus status) = 0;
  // One page of the node table (the console's fleet page): nodes whose name contains
  // `name_contains`, whose labels include every `selector` pair and (unless unspecified) whose
  // status is `status`, sorted by `sort` ("name" or "status", then name), `descending` or not,
  // skipping `offset`, at most `limit` (1..500). `total` counts every matching node.
  struct NodePageQuery {
    std::string name_contains;
    std::map<std::string, std::string> selector;
    v1::NodeStatus status = v1::NODE_STATUS_UNSPECIFIED;
    std::string sort = "name";
    bool descending = false;
    int64_t offset = 0;
    int64_t limit = 50;
  };
  struct NodePage {
    std::vector<v1::Node> nodes;
    int64_t total = 0;
  };
  // The default filters ListNodes in memory; SqliteStore pages in SQL (without a selector).
  virtual absl::StatusOr<NodePage> ListNodesPage(const NodePageQuery& query);
  // Removes the node's row (its reports stay until retention prunes them). NotFound if there
  // is no such node.
  virtual absl::Status DeleteNode(const std::string& name) = 0;
  // Node count per status (statuses without nodes are absent), for metrics.
  virtual absl::StatusOr<std::map<v1::NodeStatus, int64_t>> CountNodesByStatus() = 0;

  // Reports. Returns true if stored, false if a report with this id already exists (idempotent
  // re-send). Stored with a summary (counts per outcome) for listing, and one resource event
  // per result that is not `unchanged`, in the same transaction. An error means nothing was
  // stored (the agent keeps the report queued).
  absl::StatusOr<bool> PutReport(const v1::Report& report);
  // Stores many reports in one transaction (all or none): element i says whether reports[i]
  // was new. A batch of reports costs one disk sync instead of one each.
  virtual absl::StatusOr<std::vector<bool>> PutReports(
      const std::vector<const v1::Report*>& reports) = 0;
  // NotFound if no such report.
  virtual absl::StatusOr<v1::Report> GetReport(const std::string& id) = 0;
  // Newest first; `node` empty means every node; limit <= 0 means 20.
  virtual absl::StatusOr<std::vector<v1::ReportSummary>> ListReports(const std::string& node,
                                                                     int limit) = 0;
  // Summarises a report (counts per outcome).
  static v1::ReportSummary Summarize(const v1::Report& report);

  // Resource events, newest first, filtered as ListResourceEventsRequest says.
  virtual absl::StatusOr<std::vector<v1::ResourceEvent>> ListResourceEvents(
      const v1::ListResourceEventsRequest& filter) = 0;

  // What a retention pass deleted.
  struct PruneResult {
    int64_t reports = 0;
    int64_t resource_events = 0;
  };
  // Deletes reports (with their resource events) that started before `cutoff` or are beyond
  // a node's `keep_per_node` newest; each node's newest report is always kept. keep_per_node
  // <= 0 means no count limit, absl::InfinitePast() no age limit. Works in batches of at most
  // `batch` reports, so reports keep flowing.
  virtual absl::StatusOr<PruneResult> PruneReports(absl::Time cutoff, int keep_per_node,
                                                   int batch = 1000) = 0;

  // Rollouts (server/rollout/), one per revision line: `environment` is the line's branch, or
  // "" for the single line (the overloads without it). A rollout's header (target, phase,
  // wave, bake, halt: the RolloutState the controller passes without `nodes`) is one row per
  // line; PutRolloutState replaces it and, in the same transaction, deletes the line's node
  // rows of every rollout but `state.id()`. Node outcomes are rows of their own, keyed by
  // (environment, rollout id, node): PutRolloutNodes upserts a batch in one transaction (all or
  // none), so a report costs one row, not the whole state. Newest wins: a row replaces the
  // stored one only with a higher outcome (they only move forward: served, succeeded, failed)
  // or the same outcome at the same or a later unix_ms, so a batch a replica stores late (after
  // a failover, a retry) never undoes a newer outcome another wrote. GetRolloutState returns
  // the header with `nodes` holding its rollout's rows (over any the header carries); NotFound when
  // the line never stored a header. environment_store.h hands a named line's rows to that
  // line's controller, which uses the overloads without `environment`.
  struct RolloutNodeRow {
    std::string node;
    v1::RolloutNodeResult result;
  };
  virtual absl::Status PutRolloutState(const std::string& environment,
                                       const v1::RolloutState& state) = 0;
  virtual absl::Status PutRolloutNodes(const std::string& environment, uint64_t rollout_id,
                                       const std::vector<RolloutNodeRow>& rows) = 0;
  virtual absl::StatusOr<v1::RolloutState> GetRolloutState(const std::string& environment) = 0;
  absl::Status PutRolloutState(const v1::RolloutState& state) {
    return PutRolloutState("", state);
  }
  absl::Status PutRolloutNodes(uint64_t rollout_id, const std::vector<RolloutNodeRow>& rows) {
    return PutRolloutNodes("", rollout_id, rows);
  }
  absl::StatusOr<v1::RolloutState> GetRolloutState() { return GetRolloutState(""); }
  // Pins (plumbctl pin): one per node, replaced by node. DeletePin of an unpinned node is OK.
  virtual absl::Status PutPin(const v1::Pin& pin) = 0;
  virtual absl::Status DeletePin(const std::string& node) = 0;
  // Every pin, sorted by node.
  virtual absl::StatusOr<std::vector<v1::Pin>> ListPins() = 0;

  // Answers a trivial query (readiness): the database is reachable and readable.
  virtual absl::Status Ping() = 0;
};

}  // namespace plumb
