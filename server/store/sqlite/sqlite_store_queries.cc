// The Store's fleet-wide queries and retention: resource events (one row per non-unchanged
// resource result of a report), node counts for metrics, and pruning of old reports. Split
// from store.cc to keep each file small; same class, same lock, same connection.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/sqlite/sqlite_db.h"
#include "server/store/sqlite/sqlite_store.h"

namespace plumb {
namespace {

constexpr int kDefaultEventLimit = 100;

// Rows per resource_events INSERT, largest first: a batch's rows go in statements of these
// sizes (64 rows are 576 parameters, within SQLite's limit of 32,766).
constexpr size_t kEventRowsPerInsert[] = {64, 16, 4, 1};

// "INSERT INTO resource_events ... VALUES (?, ...), (?, ...)" with `rows` rows of 9 parameters.
std::string EventInsertSql(size_t rows) {
  std::string sql =
      "INSERT INTO resource_events (report_id, node, resource_id, outcome, message, unix_ms,"
      " revision, trigger, noop) VALUES ";
  for (size_t i = 0; i < rows; ++i) {
    absl::StrAppend(&sql, i == 0 ? "" : ", ", "(?, ?, ?, ?, ?, ?, ?, ?, ?)");
  }
  return sql;
}

}  // namespace

absl::Status SqliteStore::InsertResourceEvents(const std::vector<const v1::Report*>& reports) {
  struct Row {
    const v1::Report* report;
    const v1::ResourceResult* result;
  };
  std::vector<Row> rows;
  for (const v1::Report* report : reports) {
    for (const v1::ResourceResult& result : report->results()) {
      if (result.outcome() == v1::UNCHANGED ||
          result.outcome() == v1::RESOURCE_OUTCOME_UNSPECIFIED) {
        continue;
      }
      rows.push_back(Row{report, &result});
    }
  }
  // A connect burst's first reports mark every resource changed: a batch of 100 is 3,600 rows.
  // One statement per row paid SQLite's per-statement work (step, reset, copies of the bound
  // text) for each; several rows per statement, from a few fixed sizes so that each size's
  // statement is prepared once and reused (SqliteDb keeps it). Rows keep their order,
  // so rowids (the listing's tie-break) are as one row per statement gave them.
  size_t next = 0;
  for (size_t size : kEventRowsPerInsert) {
    if (rows.size() - next < size) continue;
    std::unique_ptr<SqliteStatement> stmt;
    PLUMB_ASSIGN_OR_RETURN(stmt, db_->Prepare(EventInsertSql(size)));
    for (; rows.size() - next >= size; next += size) {
      PLUMB_RETURN_IF_ERROR(stmt->Reset());
      for (size_t i = 0; i < size; ++i) {
        const v1::Report& report = *rows[next + i].report;
        const v1::ResourceResult& result = *rows[next + i].result;
        int p = static_cast<int>(i) * 9;
        // No copies: the protos outlive the statement's run (released before returning).
        PLUMB_RETURN_IF_ERROR(stmt->BindTextNoCopy(p + 1, report.id()));
        PLUMB_RETURN_IF_ERROR(stmt->BindTextNoCopy(p + 2, report.node()));
        PLUMB_RETURN_IF_ERROR(stmt->BindTextNoCopy(p + 3, result.id()));
        PLUMB_RETURN_IF_ERROR(stmt->BindInt64(p + 4, result.outcome()));
        PLUMB_RETURN_IF_ERROR(stmt->BindTextNoCopy(p + 5, result.message()));
        PLUMB_RETURN_IF_ERROR(stmt->BindInt64(p + 6, report.started_unix_ms()));
        PLUMB_RETURN_IF_ERROR(stmt->BindTextNoCopy(p + 7, report.revision()));
        PLUMB_RETURN_IF_ERROR(stmt->BindInt64(p + 8, report.trigger()));
        PLUMB_RETURN_IF_ERROR(stmt->BindInt64(p + 9, report.noop() ? 1 : 0));
      }
      PLUMB_RETURN_IF_ERROR(stmt->Run());
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::ResourceEvent>> SqliteStore::ListResourceEvents(
    const v1::ListResourceEventsRequest& filter) {
  // Only the filters asked for go into the SQL, so SQLite can pick the matching index.
  std::string sql =
      "SELECT node, report_id, resource_id, outcome, message, unix_ms, revision, trigger, noop"
      " FROM resource_events WHERE 1 = 1";
  std::vector<std::function<absl::Status(SqliteStatement&)>> binds;
  int next = 1;
  auto add = [&](absl::string_view clause, std::function<absl::Status(SqliteStatement&, int)> bind) {
    int index = next++;
    absl::StrAppend(&sql, " AND ", clause, " ?", index);
    binds.push_back([bind, index](SqliteStatement& s) { return bind(s, index); });
  };
  const std::string& id = filter.resource_id();
  if (!id.empty()) {
    bool glob = absl::StrContains(id, "*") || absl::StrContains(id, "?");
    add(glob ? "resource_id GLOB" : "resource_id =",
        [id](SqliteStatement& s, int i) { return s.BindText(i, id); });
  }
  if (filter.outcome() != v1::RESOURCE_OUTCOME_UNSPECIFIED) {
    int64_t outcome = filter.outcome();
    add("outcome =", [outcome](SqliteStatement& s, int i) { return s.BindInt64(i, outcome); });
  }
  if (filter.since_unix_ms() > 0) {
    int64_t since = filter.since_unix_ms();
    add("unix_ms >=", [since](SqliteStatement& s, int i) { return s.BindInt64(i, since); });
  }
  if (!filter.node().empty()) {
    std::string node = filter.node();
    add("node =", [node](SqliteStatement& s, int i) { return s.BindText(i, node); });
  }
  if (filter.drift_only()) {
    // Changes made by a run that did not apply a new catalog repaired drift; noop runs find it.
    absl::StrAppend(&sql, " AND ((outcome = ", v1::CHANGED, " AND trigger != ", v1::CATALOG,
                    ") OR outcome = ", v1::WOULD_CHANGE, ")");
  }
  absl::StrAppend(&sql, " ORDER BY unix_ms DESC, rowid DESC LIMIT ?", next);
  int64_t limit = filter.limit() > 0 ? filter.limit() : kDefaultEventLimit;

  absl::MutexLock lock(&mu_);
  std::unique_ptr<SqliteStatement> stmt;
  PLUMB_ASSIGN_OR_RETURN(stmt, db_->Prepare(sql));
  for (const auto& bind : binds) PLUMB_RETURN_IF_ERROR(bind(*stmt));
  PLUMB_RETURN_IF_ERROR(stmt->BindInt64(next, limit));
  std::vector<v1::ResourceEvent> events;
  PLUMB_RETURN_IF_ERROR(stmt->ForEachRow([&]() -> absl::Status {
    v1::ResourceEvent e;
    e.set_node(stmt->ColumnText(0));
    e.set_report_id(stmt->ColumnText(1));
    e.set_resource_id(stmt->ColumnText(2));
    e.set_outcome(static_cast<v1::ResourceOutcome>(stmt->ColumnInt64(3)));
    e.set_message(stmt->ColumnText(4));
    e.set_unix_ms(stmt->ColumnInt64(5));
    e.set_revision(stmt->ColumnText(6));
    e.set_trigger(static_cast<v1::RunTrigger>(stmt->ColumnInt64(7)));
    e.set_noop(stmt->ColumnInt64(8) != 0);
    events.push_back(std::move(e));
    return absl::OkStatus();
  }));
  return events;
}

absl::StatusOr<Store::PruneResult> SqliteStore::PruneReports(absl::Time cutoff, int keep_per_node,
                                                       int batch) {
  int64_t cutoff_ms = cutoff == absl::InfinitePast() ? INT64_MIN : absl::ToUnixMillis(cutoff);
  int64_t keep = keep_per_node > 0 ? keep_per_node : INT64_MAX;
  PruneResult total;
  while (true) {
    absl::MutexLock lock(&mu_);
    PLUMB_RETURN_IF_ERROR(db_->Exec("CREATE TEMP TABLE IF NOT EXISTS prune_ids (id TEXT PRIMARY KEY)"));
    PruneResult step;
    PLUMB_RETURN_IF_ERROR(db_->InTransaction([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
      std::unique_ptr<SqliteStatement> pick;
      // rn = 1 is each node's newest report: kept even when old, so `plumbctl node` can show a
      // long-offline node's last run.
      PLUMB_ASSIGN_OR_RETURN(pick, db_->Prepare(
          "INSERT INTO prune_ids SELECT id FROM (SELECT id, started_ms, ROW_NUMBER() OVER"
          " (PARTITION BY node ORDER BY started_ms DESC, rowid DESC) AS rn FROM reports)"
          " WHERE rn > 1 AND (started_ms < ?1 OR rn > ?2) LIMIT ?3"));
      PLUMB_RETURN_IF_ERROR(pick->BindInt64(1, cutoff_ms));
      PLUMB_RETURN_IF_ERROR(pick->BindInt64(2, keep));
      PLUMB_RETURN_IF_ERROR(pick->BindInt64(3, batch > 0 ? batch : 1000));
      PLUMB_RETURN_IF_ERROR(pick->Run());
      PLUMB_RETURN_IF_ERROR(db_->Exec(
          "DELETE FROM resource_events WHERE report_id IN (SELECT id FROM prune_ids)"));
      step.resource_events = db_->Changes();
      PLUMB_RETURN_IF_ERROR(db_->Exec("DELETE FROM reports WHERE id IN (SELECT id FROM prune_ids)"));
      step.reports = db_->Changes();
      return db_->Exec("DELETE FROM prune_ids");
    }));
    total.reports += step.reports;
    total.resource_events += step.resource_events;
    if (step.reports == 0) break;
  }
  return total;
}

absl::Status SqliteStore::DeleteNode(const std::string& name) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<SqliteStatement> stmt;
  PLUMB_ASSIGN_OR_RETURN(stmt, db_->Prepare("DELETE FROM nodes WHERE name = ?1"));
  PLUMB_RETURN_IF_ERROR(stmt->BindText(1, name));
  PLUMB_RETURN_IF_ERROR(stmt->Step().status());
  if (db_->Changes() == 0) return absl::NotFoundError(absl::StrCat("no node named ", name));
  return absl::OkStatus();
}

absl::StatusOr<std::map<v1::NodeStatus, int64_t>> SqliteStore::CountNodesByStatus() {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<SqliteStatement> stmt;
  PLUMB_ASSIGN_OR_RETURN(stmt, db_->Prepare("SELECT status, count(*) FROM nodes GROUP BY status"));
  std::map<v1::NodeStatus, int64_t> counts;
  PLUMB_RETURN_IF_ERROR(stmt->ForEachRow([&]() -> absl::Status {
    counts[static_cast<v1::NodeStatus>(stmt->ColumnInt64(0))] = stmt->ColumnInt64(1);
    return absl::OkStatus();
  }));
  return counts;
}

absl::Status SqliteStore::Ping() {
  absl::MutexLock lock(&mu_);
  return db_->QueryText("SELECT count(*) FROM env_serving").status();
}

}  // namespace plumb
