#include "server/store/sqlite/sqlite_store.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/sqlite/sqlite_db.h"
#include "server/store/stored_proto.h"

namespace plumb {
namespace {

// Bump with a new entry in kMigrations; never edit a shipped one.
constexpr int kSchemaVersion = 7;
constexpr int kMinPrefix = 4;
constexpr int kDefaultReportLimit = 20;

// kMigrations[i] takes the schema from user_version i to i + 1.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE revisions (
  sha TEXT PRIMARY KEY,
  status INTEGER NOT NULL,
  fetched_ms INTEGER NOT NULL,
  summary TEXT NOT NULL,
  proto BLOB NOT NULL            -- v1.Revision (errors included), `serving` always false
);
CREATE INDEX revisions_by_fetched ON revisions (fetched_ms);
CREATE TABLE serving (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  sha TEXT NOT NULL
);
CREATE TABLE nodes (
  name TEXT PRIMARY KEY,
  status INTEGER NOT NULL,
  proto BLOB NOT NULL            -- v1.Node
);
CREATE TABLE reports (
  id TEXT PRIMARY KEY,
  node TEXT NOT NULL,
  started_ms INTEGER NOT NULL,
  summary BLOB NOT NULL,         -- v1.ReportSummary, for listing without parsing results
  changed INTEGER NOT NULL,
  failed INTEGER NOT NULL,
  proto BLOB NOT NULL            -- v1.Report
);
CREATE INDEX reports_by_node_started ON reports (node, started_ms);
CREATE INDEX reports_by_started ON reports (started_ms);
)sql",
    // 2: fleet-wide resource history (FleetService.ListResourceEvents).
    R"sql(
CREATE TABLE resource_events (
  report_id TEXT NOT NULL,
  node TEXT NOT NULL,
  resource_id TEXT NOT NULL,
  outcome INTEGER NOT NULL,      -- v1.ResourceOutcome, never UNCHANGED
  message TEXT NOT NULL,
  unix_ms INTEGER NOT NULL,      -- the report's started time
  revision TEXT NOT NULL,
  trigger INTEGER NOT NULL,      -- v1.RunTrigger
  noop INTEGER NOT NULL
);
CREATE INDEX resource_events_by_resource ON resource_events (resource_id, unix_ms);
CREATE INDEX resource_events_by_node ON resource_events (node, unix_ms);
CREATE INDEX resource_events_by_time ON resource_events (unix_ms);
CREATE INDEX resource_events_by_report ON resource_events (report_id);
)sql",
    // 3: rollouts (server/rollout/): the controller's state and node pins.
    R"sql(
CREATE TABLE rollout_state (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  proto BLOB NOT NULL            -- v1.RolloutState
);
CREATE TABLE pins (
  node TEXT PRIMARY KEY,
  proto BLOB NOT NULL            -- v1.Pin
);
)sql",
    // 4: one row per node outcome of a rollout (a report writes one row, not the whole state).
    R"sql(
CREATE TABLE rollout_nodes (
  environment TEXT NOT NULL,     -- the revision line ('' for the single line)
  rollout_id INTEGER NOT NULL,   -- v1.RolloutState.id
  node TEXT NOT NULL,
  wave INTEGER NOT NULL,
  outcome INTEGER NOT NULL,      -- v1.RolloutOutcome
  error TEXT NOT NULL,
  unix_ms INTEGER NOT NULL,
  PRIMARY KEY (environment, rollout_id, node)
);
)sql",
    // 5: revision lines (server.yaml `environments:`): revisions keyed by (environment, sha),
    // one serving revision and one rollout state per line. The single line is environment ''.
    R"sql(
CREATE TABLE revisions_by_line (
  environment TEXT NOT NULL,
  sha TEXT NOT NULL,
  status INTEGER NOT NULL,
  fetched_ms INTEGER NOT NULL,
  summary TEXT NOT NULL,
  proto BLOB NOT NULL,           -- v1.Revision (errors included), `serving` always false
  PRIMARY KEY (environment, sha)
);
INSERT INTO revisions_by_line (environment, sha, status, fetched_ms, summary, proto)
  SELECT '', sha, status, fetched_ms, summary, proto FROM revisions ORDER BY rowid;
DROP TABLE revisions;
ALTER TABLE revisions_by_line RENAME TO revisions;
CREATE INDEX revisions_by_fetched ON revisions (fetched_ms);
CREATE INDEX revisions_by_sha ON revisions (sha);
CREATE TABLE env_serving (
  environment TEXT PRIMARY KEY,
  sha TEXT NOT NULL
);
INSERT INTO env_serving (environment, sha) SELECT '', sha FROM serving;
DROP TABLE serving;
CREATE TABLE env_rollout_state (
  environment TEXT PRIMARY KEY,  -- never '': the single line keeps rollout_state
  proto BLOB NOT NULL            -- v1.RolloutState
);
)sql",
    // 6: nothing: enrolled identities keep their own tables here (IdentityStore over
    // SqliteIdentityTable); PostgreSQL's 6 holds them for replicas.
    "SELECT 1;",
    // 7: nothing: a single server has no replicas (PostgreSQL's 7 holds what crosses them).
    "SELECT 1;",
};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == kSchemaVersion,
              "one migration per schema version");

absl::Status Configure(SqliteDb& db, SqliteStore::Durability durability) {
  std::string mode;
  PLUMB_ASSIGN_OR_RETURN(mode, db.QueryText("PRAGMA journal_mode=WAL"));
  // An in-memory database (tests) cannot use WAL; a file must, or kill -9 safety is gone.
  if (absl::AsciiStrToLower(mode) != "wal" && db.path() != ":memory:") {
    return absl::FailedPreconditionError(
        absl::StrCat(db.path(), ": cannot enable WAL journal mode (got ", mode, ")"));
  }
  // In WAL mode, NORMAL syncs only at checkpoints: a power loss can undo the last commits, so a
  // report the agent was told is stored (and deleted) would be gone. FULL syncs the WAL at
  // every commit (docs/benchmarks.md measures what that costs).
  PLUMB_RETURN_IF_ERROR(db.Exec(durability == SqliteStore::Durability::kPowerLoss
                                    ? "PRAGMA synchronous=FULL"
                                    : "PRAGMA synchronous=NORMAL"));
  // Checkpoint (copy the WAL back into the database file) every ~40 MiB of WAL, not SQLite's
  // default ~4 MiB: a connect burst's first reports re-dirty the same index pages batch after
  // batch, and each checkpoint copied them again (BM_PutFirstReports: -18% wall, -10% CPU;
  // the WAL file then stays up to that size on disk). Commits still sync the WAL (FULL).
  PLUMB_RETURN_IF_ERROR(
      db.Exec(absl::StrCat("PRAGMA wal_autocheckpoint=", SqliteStore::kWalCheckpointPages)));
  return absl::OkStatus();
}

absl::Status Migrate(SqliteDb& db) {
  std::string text;
  PLUMB_ASSIGN_OR_RETURN(text, db.QueryText("PRAGMA user_version"));
  int version = std::atoi(text.c_str());
  if (version > kSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        db.path(), ": schema version ", version, " is newer than this server's (",
        kSchemaVersion, "); upgrade plumb-server"));
  }
  for (; version < kSchemaVersion; ++version) {
    // Each step and its version bump commit together, so a crash leaves a consistent schema.
    PLUMB_RETURN_IF_ERROR(db.InTransaction([&]() -> absl::Status {
      PLUMB_RETURN_IF_ERROR(db.Exec(kMigrations[version]));
      return db.Exec(absl::StrCat("PRAGMA user_version = ", version + 1));
    }));
  }
  return absl::OkStatus();
}

bool Matches(const v1::Node& node, const std::map<std::string, std::string>& selector) {
  for (const auto& [key, value] : selector) {
    auto it = node.labels().find(key);
    if (it == node.labels().end() || it->second != value) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path,
                                                               Durability durability) {
  std::unique_ptr<SqliteDb> db;
  PLUMB_ASSIGN_OR_RETURN(db, SqliteDb::Open(path));
  PLUMB_RETURN_IF_ERROR(Configure(*db, durability));
  PLUMB_RETURN_IF_ERROR(Migrate(*db));
  return std::unique_ptr<SqliteStore>(new SqliteStore(std::move(db)));
}

SqliteStore::SqliteStore(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}
SqliteStore::~SqliteStore() = default;

// ---- Revisions ----

absl::Status SqliteStore::PutRevision(const v1::Revision& revision) {
  if (revision.sha().empty()) return absl::InvalidArgumentError("revision without a sha");
  v1::Revision stored = revision;
  stored.set_serving(false);  // derived from the serving pointer on read
  absl::MutexLock lock(&mu_);
  std::unique_ptr<SqliteStatement> stmt;
  PLUMB_ASSIGN_OR_RETURN(stmt, db_->Prepare(
      "INSERT INTO revisions (environment, sha, status, fetched_ms, summary, proto)"
      " VALUES (?6, ?1, ?2, ?3, ?4, ?5)"
      " ON CONFLICT (environment, sha) DO UPDATE SET status = excluded.status,"
      " fetched_ms = excluded.fetched_ms, summary = excluded.summary, proto = excluded.proto"));
  PLUMB_RETURN_IF_ERROR(stmt->BindText(1, stored.sha()));
  PLUMB_RETURN_IF_ERROR(stmt->BindInt64(2, stored.status()));
  PLUMB_RETURN_IF_ERROR(stmt->BindInt64(3, stored.fetched_unix_ms()));
  PLUMB_RETURN_IF_ERROR(stmt->BindText(4, stored.summary()));
  PLUMB_RETURN_IF_ERROR(stmt->BindBlob(5, stored.SerializeAsString()));
  PLUMB_RETURN_IF_ERROR(stmt->BindText(6, stored.environment()));
  return stmt->Run();
}

absl::StatusOr<v1::Revision> SqliteStore::GetRevision(const std::string& environment,
                                                      const std::string& sha_or_prefix) {
  std::string prefix = absl::AsciiStrToLower(sha_or_prefix);
  if (prefix.size() < kMinPrefix || !IsLowerHex(prefix)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "revision \"", sha_or_prefix, "\": want a sha or a hex prefix of at least ", kMinPrefix,
        " characters"));
  }
  absl::MutexLock lock(&mu_);
  std::unique_ptr<SqliteStatement> stmt;
  // GLOB (unlike LIKE) is case-sensitive, so SQLite can use the sha index for the prefix;
  // the prefix is checked hex, so it holds no glob metacharacters. A sha is in at most one row
  // per line, and lines are few (kMaxEnvironments): the limit covers them and a second sha.
  PLUMB_ASSIGN_OR_RETURN(stmt, db_->Prepare(
      "SELECT r.proto, s.sha IS NOT NULL FROM revisions r"
      " LEFT JOIN env_serving s ON s.environment = r.environment AND s.sha = r.sha"
      " WHERE r.sha GLOB ?1 || '*' AND (?2 = '*' OR r.environment = ?2)"
      " ORDER BY r.sha, r.fetched_ms DESC LIMIT 100"));
  PLUMB_RETURN_IF_ERROR(stmt->BindText(1, prefix));
  PLUMB_RETURN_IF_ERROR(stmt->BindText(2, environment));
  std::vector<v1::Revision> found;
  PLUMB_RETURN_IF_ERROR(stmt->ForEachRow([&]() -> absl::Status {
    v1::Revision revision;
    PLUMB_ASSIGN_OR_RETURN(revision, ParseStored<v1::Revision>(stmt->ColumnBlob(0), "revision"));
    revision.set_serving(stmt->ColumnInt64(1) != 0);
    found.push_back(std::move(revision));
    return absl::OkStatus();
  }));
  return OneRevision(sha_or_prefix, std::move(found));
}

absl::StatusOr<std::vector<v1::Revision>> SqliteStore::ListRevisions(
    const std::string& environment, int limit) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<SqliteStatement> stmt;
  PLUMB_ASSIGN_OR_RETURN(stmt, db_->Prepare(
      "SELECT r.proto, s.sha IS NOT NULL FROM revisions r"
      " LEFT JOIN env_serving s ON s.environment = r.environment AND s.sha = r.sha"
      " WHERE ?2 = '*' OR r.environment = ?2"
      " ORDER BY r.fetched_ms DESC, r.rowid DESC LIMIT ?1"));
  // LIMIT -1 is SQLite's "no limit".
  PLUMB_RETURN_IF_ERROR(stmt->BindInt64(1, limit > 0 ? limit : -1));
  PLUMB_RETURN_IF_ERROR(stmt->BindText(2, environment));
  std::vector<v1::Revision> revisions;
  PLUMB_RETURN_IF_ERROR(stmt->ForEachRow([&]() -> absl::Status {
    v1::Revision revision;
    PLUMB_ASSIGN_OR_RETURN(revision, ParseStored<v1::Revision>(stmt->ColumnBlob(0), "revision"));
    revision.set_serving(stmt->ColumnInt64(1) != 0);
    revisions.push_back(std::move(revision));
    return absl::OkStatus();
  }));
  return revisions;
}

absl::Status SqliteStore::SetServingRevision(const std::string& environment,
                                             const std::string& sha) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<SqliteStatement> check;
  PLUMB_ASSIGN_OR_RETURN(check, db_->Prepare(
      "SELECT status FROM revisions WHERE environment = ?2 AND sha = ?1"));
  PLUMB_RETURN_IF_ERROR(check->BindText(1, sha));
  PLUMB_RETURN_IF_ERROR(check->BindText(2, environment));
  bool row = false;
  PLUMB_ASSIGN_OR_RETURN(row, check->Step());
  if (!row) return absl::NotFoundError(absl::StrCat("cannot serve unknown revision ", sha));
  // A revision that failed to compile is never served (the contract's "bad commit" rule).
  if (check->ColumnInt64(0) == v1::REVISION_FAILED) {
    return absl::FailedPreconditionError(
        absl::StrCat("revision ", sha, " failed to compile and cannot be served"));
  }
  std::unique_ptr<SqliteStatement> stmt;
  PLUMB_ASSIGN_OR_RETURN(stmt, db_->Prepare(
      "INSERT INTO env_serving (environment, sha) VALUES (?2, ?1)"
      " ON CONFLICT (environment) DO UPDATE SET sha = excluded.sha"));
  PLUMB_RETURN_IF_ERROR(stmt->BindText(1, sha));
  PLUMB_RETURN_IF_ERROR(stmt->BindText(2, environment));
  return stmt->Run();
}

absl::StatusOr<std::string> SqliteStore::ServingRevision(const std::string& environment) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<SqliteStatement> stmt;
  PLUMB_ASSIGN_OR_RETURN(stmt,
                         db_->Prepare("SELECT sha FROM env_serving WHERE environment = ?1"));
  PLUMB_RETURN_IF_ERROR(stmt->BindText(1, environment));
  bool row = false;
  PLUMB_ASSIGN_OR_RETURN(row, stmt->Step());
  return row ? stmt->ColumnText(0) : std::string();
}

// ---- Nodes ----

absl::Status SqliteStore::PutNodes(const std::vector<v1::Node>& nodes) {
  for (const v1::Node& node : nodes) {
    if (node.name().empty()) return absl::InvalidArgumentError("node without a name");
  }
  if (nodes.empty()) return absl::OkStatus();
  absl::MutexLock lock(&mu_);
  return db_->InTransaction([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
    std::unique_ptr<SqliteStatement> stmt;
    PLUMB_ASSIGN_OR_RETURN(stmt, db_->Prepare(
        "INSERT INTO nodes (name, status, proto) VALUES (?1, ?2, ?3)"
        " ON CONFLICT (name) DO UPDATE SET status = excluded.status, proto = excluded.proto"));
    for (const v1::Node& node : nodes) {
      PLUMB_RETURN_IF_ERROR(stmt->BindText(1, node.name()));
      PLUMB_RETURN_IF_ERROR(stmt->BindInt64(2, node.status()));
      PLUMB_RETURN_IF_ERROR(stmt->BindBlob(3, node.SerializeAsString()));
      PLUMB_RETURN_IF_ERROR(stmt->Run());
      PLUMB_RETURN_IF_ERROR(stmt->Reset());
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::Node> SqliteStore::GetNode(const std::string& name) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<SqliteStatement> stmt;
  PLUMB_ASSIGN_OR_RETURN(stmt, db_->Prepare("SELECT proto FROM nodes WHERE name = ?1"));
  PLUMB_RETURN_IF_ERROR(stmt->BindText(1, name));
  bool row = false;
  PLUMB_ASSIGN_OR_RETURN(row, stmt->Step());
  if (!row) return absl::NotFoundError(absl::StrCat("node ", name, " has never connected"));
  return ParseStored<v1::Node>(stmt->ColumnBlob(0), "node");
}

absl::StatusOr<std::vector<v1::Node>> SqliteStore::ListNodes(
    const std::map<std::string, std::string>& selector, v1::NodeStatus status) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<SqliteStatement> stmt;
  // Status filters in SQL; labels live in the proto, so the selector filters here.
  PLUMB_ASSIGN_OR_RETURN(stmt, db_->Prepare(
      "SELECT proto FROM nodes WHERE ?1 = 0 OR status = ?1 ORDER BY name"));
  PLUMB_RETURN_IF_ERROR(stmt->BindInt64(1, status));
  std::vector<v1::Node> nodes;
  PLUMB_RETURN_IF_ERROR(stmt->ForEachRow([&]() -> absl::Status {
    v1::Node node;
    PLUMB_ASSIGN_OR_RETURN(node, ParseStored<v1::Node>(stmt->ColumnBlob(0), "node"));
    if (Matches(node, selector)) nodes.push_back(std::move(node));
    return absl::OkStatus();
  }));
  return nodes;
}

// ---- Reports ----

absl::StatusOr<std::vector<bool>> SqliteStore::PutReports(
    const std::vector<const v1::Report*>& reports) {
  for (const v1::Report* report : reports) {
    if (report->id().empty()) return absl::InvalidArgumentError("report without an id");
  }
  std::vector<bool> stored;
  absl::MutexLock lock(&mu_);
  // The reports and their resource events commit together (or not at all).
  PLUMB_RETURN_IF_ERROR(db_->InTransaction([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
    std::vector<const v1::Report*> fresh;
    for (const v1::Report* report : reports) {
      bool is_new = false;
      PLUMB_ASSIGN_OR_RETURN(is_new, InsertReport(*report));
      stored.push_back(is_new);
      if (is_new) fresh.push_back(report);  // a re-send's events are already stored
    }
    return InsertResourceEvents(fresh);
  }));
  return stored;
}

int64_t SqliteStore::StatementsRun() {
  absl::MutexLock lock(&mu_);
  return db_->statements_run();
}

absl::StatusOr<bool> SqliteStore::InsertReport(const v1::Report& report) {
  v1::ReportSummary summary = Summarize(report);
  std::unique_ptr<SqliteStatement> stmt;
  PLUMB_ASSIGN_OR_RETURN(stmt, db_->Prepare(
      "INSERT OR IGNORE INTO reports (id, node, started_ms, summary, changed, failed, proto)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
  PLUMB_RETURN_IF_ERROR(stmt->BindText(1, report.id()));
  PLUMB_RETURN_IF_ERROR(stmt->BindText(2, report.node()));
  PLUMB_RETURN_IF_ERROR(stmt->BindInt64(3, report.started_unix_ms()));
  PLUMB_RETURN_IF_ERROR(stmt->BindBlob(4, summary.SerializeAsString()));
  PLUMB_RETURN_IF_ERROR(stmt->BindInt64(5, summary.changed()));
  PLUMB_RETURN_IF_ERROR(stmt->BindInt64(6, summary.failed()));
  PLUMB_RETURN_IF_ERROR(stmt->BindBlob(7, report.SerializeAsString()));
  PLUMB_RETURN_IF_ERROR(stmt->Run());
  return db_->Changes() > 0;  // 0: a re-send, or a repeat within the batch
}

absl::StatusOr<v1::Report> SqliteStore::GetReport(const std::string& id) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<SqliteStatement> stmt;
  PLUMB_ASSIGN_OR_RETURN(stmt, db_->Prepare("SELECT proto FROM reports WHERE id = ?1"));
  PLUMB_RETURN_IF_ERROR(stmt->BindText(1, id));
  bool row = false;
  PLUMB_ASSIGN_OR_RETURN(row, stmt->Step());
  if (!row) return absl::NotFoundError(absl::StrCat("no report ", id));
  return ParseStored<v1::Report>(stmt->ColumnBlob(0), "report");
}

absl::StatusOr<std::vector<v1::ReportSummary>> SqliteStore::ListReports(const std::string& node,
                                                                  int limit) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<SqliteStatement> stmt;
  // Two statements rather than "?1 = '' OR node = ?1", so each one can use its index.
  if (node.empty()) {
    PLUMB_ASSIGN_OR_RETURN(stmt, db_->Prepare(
        "SELECT summary FROM reports ORDER BY started_ms DESC, rowid DESC LIMIT ?1"));
  } else {
    PLUMB_ASSIGN_OR_RETURN(stmt, db_->Prepare(
        "SELECT summary FROM reports WHERE node = ?2"
        " ORDER BY started_ms DESC, rowid DESC LIMIT ?1"));
    PLUMB_RETURN_IF_ERROR(stmt->BindText(2, node));
  }
  PLUMB_RETURN_IF_ERROR(stmt->BindInt64(1, limit > 0 ? limit : kDefaultReportLimit));
  std::vector<v1::ReportSummary> summaries;
  PLUMB_RETURN_IF_ERROR(stmt->ForEachRow([&]() -> absl::Status {
    v1::ReportSummary summary;
    PLUMB_ASSIGN_OR_RETURN(summary, ParseStored<v1::ReportSummary>(stmt->ColumnBlob(0), "report"));
    summaries.push_back(std::move(summary));
    return absl::OkStatus();
  }));
  return summaries;
}

}  // namespace plumb
