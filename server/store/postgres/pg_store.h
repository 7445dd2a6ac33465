#pragma once

// The PostgreSQL store (`store: {url: postgresql://...}`): the Store interface over libpq, for
// replicas sharing one database. Schema migrated at Open (server/store/postgres/pg_schema.cc).

#include <atomic>
#include <functional>
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

class PgConn;
class PgResult;

// Thread-safe: one connection under the store's mutex, like SqliteStore's one SQLite
// connection. Why not a pool: every caller today is serialised on the store anyway (the report
// batcher writes in batches, the rest are operator queries), a single connection keeps
// prepared statements and transactions simple, and a replica then costs the database one
// backend. A pool is the next step if a replica's query latency ever queues behind its writes.
// A lost connection fails the call in progress with Unavailable; the next call reconnects.
class PgStore : public Store {
 public:
  // Connects to `url` (libpq URL or key=value string), with `password` when not empty (else
  // the URL's, PGPASSWORD or ~/.pgpass), and migrates the schema.
  static absl::StatusOr<std::unique_ptr<PgStore>> Open(const std::string& url,
                                                       const std::string& password = "");
  ~PgStore() override;

  // Replicas: a node's `connected`, as read, is whether a replica with a current heartbeat
  // holds its stream (node_streams, replica_heartbeats: PgReplicaLink) rather than what the
  // last writer of its row said, and its `status` follows: offline once the replica that held
  // it died (its heartbeat expired), never offline while a live replica holds it (it reads the
  // last status written other than offline). GetNode, ListNodes (with its status filter) and
  // CountNodesByStatus alike. Call before serving.
  void EnablePresence() { presence_ = true; }

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
  absl::StatusOr<std::vector<v1::Node>> ListNodes(
      const std::map<std::string, std::string>& selector, v1::NodeStatus status) override;
  absl::Status DeleteNode(const std::string& name) override;
  absl::StatusOr<std::map<v1::NodeStatus, int64_t>> CountNodesByStatus() override;

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

 private:
  explicit PgStore(std::unique_ptr<PgConn> conn);
  // Takes mu_, reconnects if needed and hands the connection to `fn`. Every method goes
  // through here, so a method added later (rollout state) is one lambda.
  absl::Status WithConn(const std::function<absl::Status(PgConn&)>& fn);
  // The node rows as read (a subquery with columns name, proto, held, status), and one row of
  // "SELECT proto, held, status" from it as a node.
  const char* NodeRows() const;
  absl::StatusOr<v1::Node> NodeFromRow(const PgResult& result, int row) const;
  // Inserts the reports whose ids are not stored yet, with their resource events, in two
  // statements whatever the batch size; element i is true if reports[i] was new (a repeated
  // id in the batch counts once). Runs inside the caller's transaction.
  static absl::StatusOr<std::vector<bool>> InsertReports(
      PgConn& conn, const std::vector<const v1::Report*>& reports);

  absl::Mutex mu_;
  std::unique_ptr<PgConn> conn_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> presence_{false};
};

}  // namespace plumb
