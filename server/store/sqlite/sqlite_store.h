#pragma once

// The embedded store (the default): fleet state in one SQLite file under state_dir (WAL mode).
// The only place that speaks SQL for the Store interface.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "plumb/v1/fleet.pb.h"
#include "plumb/v1/types.pb.h"
#include "server/store/store.h"

namespace plumb {

class SqliteDb;

// Thread-safe: every method takes the store's mutex (one SQLite connection).
class SqliteStore : public Store {
 public:
  // What a commit survives. kPowerLoss (synchronous=FULL): a stored, acknowledged report
  // survives a power loss or kernel crash. kProcessCrash (synchronous=NORMAL): only kill -9;
  // the last commits may be lost with the machine (benchmarks compare the two).
  enum class Durability { kPowerLoss, kProcessCrash };
  // WAL pages (4 KiB each) after which a commit checkpoints (PRAGMA wal_autocheckpoint).
  static constexpr int kWalCheckpointPages = 10000;

  // Opens or creates the database at `path` (WAL, schema migrated).
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(
      const std::string& path, Durability durability = Durability::kPowerLoss);
  ~SqliteStore() override;

  absl::Status PutRevision(const v1::Revision& revision) override;
  using Store::GetRevision;
  using Store::ListRevisions;
  using Store::ServingRevision;
  using Store::SetServingRevision;
  absl::StatusOr<v1::Revision> GetRevision(const std::string& environment,
                                           const std::string& sha_or_prefix) override;
  absl::StatusOr<std::vector<v1::Revision>> ListRevisions(const std::string& environment,
                                                          int limit) override;
  absl::Status SetServingRevision(const std::string& environment, const std::string& sha) override;
  absl::StatusOr<std::string> ServingRevision(const std::string& environment) override;

  absl::Status PutNodes(const std::vector<v1::Node>& nodes) override;
  absl::StatusOr<v1::Node> GetNode(const std::string& name) override;
  absl::StatusOr<std::vector<v1::Node>> ListNodes(const std::map<std::string, std::string>& selector,
                                                  v1::NodeStatus status) override;
  absl::Status DeleteNode(const std::string& name) override;
  absl::StatusOr<std::map<v1::NodeStatus, int64_t>> CountNodesByStatus() override;
  absl::StatusOr<NodePage> ListNodesPage(const NodePageQuery& query) override;

  absl::StatusOr<std::vector<bool>> PutReports(
      const std::vector<const v1::Report*>& reports) override;
  absl::StatusOr<v1::Report> GetReport(const std::string& id) override;
  absl::StatusOr<std::vector<v1::ReportSummary>> ListReports(const std::string& node,
                                                             int limit) override;
  absl::StatusOr<std::vector<v1::ResourceEvent>> ListResourceEvents(
      const v1::ListResourceEventsRequest& filter) override;
  absl::StatusOr<PruneResult> PruneReports(absl::Time cutoff, int keep_per_node,
                                           int batch = 1000) override;

  using Store::GetRolloutState;
  using Store::PutRolloutNodes;
  using Store::PutRolloutState;
  absl::Status PutRolloutState(const std::string& environment,
                               const v1::RolloutState& state) override;
  absl::Status PutRolloutNodes(const std::string& environment, uint64_t rollout_id,
                               const std::vector<RolloutNodeRow>& rows) override;
  absl::StatusOr<v1::RolloutState> GetRolloutState(const std::string& environment) override;
  absl::Status PutPin(const v1::Pin& pin) override;
  absl::Status DeletePin(const std::string& node) override;
  absl::StatusOr<std::vector<v1::Pin>> ListPins() override;

  absl::Status Ping() override;

  // Statements the connection has run (SqliteDb::statements_run), for tests and benchmarks.
  int64_t StatementsRun();

 private:
  // Inserts `report`'s row unless its id is stored; true if it was new. The caller holds mu_
  // inside a transaction.
  absl::StatusOr<bool> InsertReport(const v1::Report& report) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Inserts the resource events of `reports` (all new), in their order, several rows per
  // statement; the caller holds mu_ inside a transaction.
  absl::Status InsertResourceEvents(const std::vector<const v1::Report*>& reports)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  explicit SqliteStore(std::unique_ptr<SqliteDb> db);
  absl::Mutex mu_;
  std::unique_ptr<SqliteDb> db_ ABSL_GUARDED_BY(mu_);
};

}  // namespace plumb
