#pragma once

// The server's fleet state in SQLite (WAL mode, under state_dir): revisions with their compile
// status and errors, nodes, and reports. The only place that speaks SQL.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "plumb/v1/fleet.pb.h"
#include "plumb/v1/types.pb.h"

namespace plumb {

class SqliteDb;

// Thread-safe: every method takes the store's mutex (one SQLite connection).
class Store {
 public:
  // What a commit survives. kPowerLoss (synchronous=FULL): a stored, acknowledged report
  // survives a power loss or kernel crash. kProcessCrash (synchronous=NORMAL): only kill -9;
  // the last commits may be lost with the machine (benchmarks compare the two).
  enum class Durability { kPowerLoss, kProcessCrash };

  // Opens or creates the database at `path` (WAL, schema migrated).
  static absl::StatusOr<std::unique_ptr<Store>> Open(
      const std::string& path, Durability durability = Durability::kPowerLoss);
  ~Store();

  // Revisions. PutRevision inserts or replaces by sha.
  absl::Status PutRevision(const v1::Revision& revision);
  // Accepts a full sha or a unique prefix (>= 4 chars). NotFound / InvalidArgument (ambiguous).
  absl::StatusOr<v1::Revision> GetRevision(const std::string& sha_or_prefix);
  // Newest first (by fetched time). `serving` is set on the serving revision.
  absl::StatusOr<std::vector<v1::Revision>> ListRevisions(int limit);
  absl::Status SetServingRevision(const std::string& sha);
  // Empty string when no revision has been served yet.
  absl::StatusOr<std::string> ServingRevision();

  // Nodes. PutNode inserts or replaces by name; PutNodes does that for many in one transaction
  // (all or none).
  absl::Status PutNode(const v1::Node& node);
  absl::Status PutNodes(const std::vector<v1::Node>& nodes);
  // NotFound if the node has never connected.
  absl::StatusOr<v1::Node> GetNode(const std::string& name);
  // Nodes whose labels include every selector pair and (unless NODE_STATUS_UNSPECIFIED) whose
  // status equals `status`; sorted by name.
  absl::StatusOr<std::vector<v1::Node>> ListNodes(const std::map<std::string, std::string>& selector,
                                                  v1::NodeStatus status);

  // Removes the node's row (its reports stay until retention prunes them). NotFound if there
  // is no such node.
  absl::Status DeleteNode(const std::string& name);

  // Node count per status (statuses without nodes are absent), for metrics.
  absl::StatusOr<std::map<v1::NodeStatus, int64_t>> CountNodesByStatus();

  // Reports. Returns true if stored, false if a report with this id already exists (idempotent
  // re-send). Stored with a summary (counts per outcome) for listing.
  absl::StatusOr<bool> PutReport(const v1::Report& report);
  // NotFound if no such report.
  absl::StatusOr<v1::Report> GetReport(const std::string& id);
  // Newest first; `node` empty means every node; limit <= 0 means 20.
  absl::StatusOr<std::vector<v1::ReportSummary>> ListReports(const std::string& node, int limit);

  // Summarises a report (counts per outcome).
  static v1::ReportSummary Summarize(const v1::Report& report);

  // Resource events: PutReport stores one per non-unchanged result of a new report, in the
  // same transaction. Newest first, filtered as ListResourceEventsRequest says.
  absl::StatusOr<std::vector<v1::ResourceEvent>> ListResourceEvents(
      const v1::ListResourceEventsRequest& filter);

  // What a retention pass deleted.
  struct PruneResult {
    int64_t reports = 0;
    int64_t resource_events = 0;
  };
  // Deletes reports (with their resource events) that started before `cutoff` or are beyond
  // a node's `keep_per_node` newest; each node's newest report is always kept. keep_per_node
  // <= 0 means no count limit, absl::InfinitePast() no age limit. Works in transactions of at
  // most `batch` reports, taking the store's lock per batch, so reports keep flowing.
  absl::StatusOr<PruneResult> PruneReports(absl::Time cutoff, int keep_per_node,
                                           int batch = 1000);

  // Answers a trivial query (readiness): the database is open and readable.
  absl::Status Ping();

 private:
  // Inserts `report`'s resource events; the caller holds mu_ inside a transaction.
  absl::Status InsertResourceEvents(const v1::Report& report) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  explicit Store(std::unique_ptr<SqliteDb> db);
  absl::Mutex mu_;
  std::unique_ptr<SqliteDb> db_ ABSL_GUARDED_BY(mu_);
};

}  // namespace plumb
