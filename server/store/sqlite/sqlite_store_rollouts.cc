// The Store's rollout rows (server/rollout/): the controller's header row, one row per node
// outcome, and node pins.
// Split from sqlite_store.cc to keep each file small; same class, same lock, same connection.

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/sqlite/sqlite_db.h"
#include "server/store/sqlite/sqlite_store.h"
#include "server/store/stored_proto.h"

namespace plumb {

namespace {

// The header of line `environment`: the single line's row in rollout_state, a named line's in
// env_rollout_state.
absl::StatusOr<std::unique_ptr<SqliteStatement>> PrepareHeaderWrite(SqliteDb& db,
                                                                    const std::string& env) {
  PLUMB_ASSIGN_OR_RETURN(
      std::unique_ptr<SqliteStatement> stmt,
      db.Prepare(env.empty() ? "INSERT INTO rollout_state (id, proto) VALUES (1, ?2)"
                               " ON CONFLICT (id) DO UPDATE SET proto = excluded.proto"
                             : "INSERT INTO env_rollout_state (environment, proto) VALUES (?1, ?2)"
                               " ON CONFLICT (environment) DO UPDATE SET proto = excluded.proto"));
  if (!env.empty()) PLUMB_RETURN_IF_ERROR(stmt->BindText(1, env));
  return stmt;
}

}  // namespace

absl::Status SqliteStore::PutRolloutState(const std::string& environment,
                                          const v1::RolloutState& state) {
  absl::MutexLock lock(&mu_);
  return db_->InTransaction([&]() -> absl::Status {
    std::unique_ptr<SqliteStatement> stmt;
    PLUMB_ASSIGN_OR_RETURN(stmt, PrepareHeaderWrite(*db_, environment));
    PLUMB_RETURN_IF_ERROR(stmt->BindBlob(2, state.SerializeAsString()));
    PLUMB_RETURN_IF_ERROR(stmt->Run());
    stmt.reset();
    PLUMB_ASSIGN_OR_RETURN(stmt, db_->Prepare(
        "DELETE FROM rollout_nodes WHERE environment = ?1 AND rollout_id <> ?2"));
    PLUMB_RETURN_IF_ERROR(stmt->BindText(1, environment));
    PLUMB_RETURN_IF_ERROR(stmt->BindInt64(2, static_cast<int64_t>(state.id())));
    return stmt->Run();
  });
}

absl::Status SqliteStore::PutRolloutNodes(const std::string& environment, uint64_t rollout_id,
                                          const std::vector<RolloutNodeRow>& rows) {
  for (const RolloutNodeRow& row : rows) {
    if (row.node.empty()) return absl::InvalidArgumentError("rollout node row without a node");
  }
  if (rows.empty()) return absl::OkStatus();
  absl::MutexLock lock(&mu_);
  return db_->InTransaction([&]() -> absl::Status {
    std::unique_ptr<SqliteStatement> stmt;
    PLUMB_ASSIGN_OR_RETURN(stmt, db_->Prepare(
        "INSERT INTO rollout_nodes (environment, rollout_id, node, wave, outcome, error, unix_ms)"
        " VALUES (?7, ?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (environment, rollout_id, node)"
        " DO UPDATE SET wave = excluded.wave, outcome = excluded.outcome,"
        " error = excluded.error, unix_ms = excluded.unix_ms"
        // Newest wins (store.h): a higher outcome, or the same one noted later.
        " WHERE excluded.outcome > rollout_nodes.outcome OR"
        " (excluded.outcome = rollout_nodes.outcome AND"
        " excluded.unix_ms >= rollout_nodes.unix_ms)"));
    for (const RolloutNodeRow& row : rows) {
      PLUMB_RETURN_IF_ERROR(stmt->BindInt64(1, static_cast<int64_t>(rollout_id)));
      PLUMB_RETURN_IF_ERROR(stmt->BindText(2, row.node));
      PLUMB_RETURN_IF_ERROR(stmt->BindInt64(3, row.result.wave()));
      PLUMB_RETURN_IF_ERROR(stmt->BindInt64(4, row.result.outcome()));
      PLUMB_RETURN_IF_ERROR(stmt->BindText(5, row.result.error()));
      PLUMB_RETURN_IF_ERROR(stmt->BindInt64(6, row.result.unix_ms()));
      PLUMB_RETURN_IF_ERROR(stmt->BindText(7, environment));
      PLUMB_RETURN_IF_ERROR(stmt->Run());
      PLUMB_RETURN_IF_ERROR(stmt->Reset());
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<v1::RolloutState> SqliteStore::GetRolloutState(const std::string& environment) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<SqliteStatement> stmt;
  if (environment.empty()) {
    PLUMB_ASSIGN_OR_RETURN(stmt, db_->Prepare("SELECT proto FROM rollout_state WHERE id = 1"));
  } else {
    PLUMB_ASSIGN_OR_RETURN(
        stmt, db_->Prepare("SELECT proto FROM env_rollout_state WHERE environment = ?1"));
    PLUMB_RETURN_IF_ERROR(stmt->BindText(1, environment));
  }
  bool row = false;
  PLUMB_ASSIGN_OR_RETURN(row, stmt->Step());
  if (!row) return absl::NotFoundError("no rollout state stored");
  PLUMB_ASSIGN_OR_RETURN(v1::RolloutState state,
                         ParseStored<v1::RolloutState>(stmt->ColumnBlob(0), "rollout state"));
  stmt.reset();
  PLUMB_ASSIGN_OR_RETURN(stmt, db_->Prepare(
      "SELECT node, wave, outcome, error, unix_ms FROM rollout_nodes"
      " WHERE environment = ?2 AND rollout_id = ?1"));
  PLUMB_RETURN_IF_ERROR(stmt->BindInt64(1, static_cast<int64_t>(state.id())));
  PLUMB_RETURN_IF_ERROR(stmt->BindText(2, environment));
  auto* nodes = state.mutable_nodes();
  PLUMB_RETURN_IF_ERROR(stmt->ForEachRow([&]() -> absl::Status {
    v1::RolloutNodeResult& r = (*nodes)[stmt->ColumnText(0)];
    r.set_wave(static_cast<uint32_t>(stmt->ColumnInt64(1)));
    r.set_outcome(static_cast<v1::RolloutOutcome>(stmt->ColumnInt64(2)));
    r.set_error(stmt->ColumnText(3));
    r.set_unix_ms(stmt->ColumnInt64(4));
    return absl::OkStatus();
  }));
  return state;
}

absl::Status SqliteStore::PutPin(const v1::Pin& pin) {
  if (pin.node().empty()) return absl::InvalidArgumentError("pin without a node");
  absl::MutexLock lock(&mu_);
  std::unique_ptr<SqliteStatement> stmt;
  PLUMB_ASSIGN_OR_RETURN(stmt, db_->Prepare(
      "INSERT INTO pins (node, proto) VALUES (?1, ?2)"
      " ON CONFLICT (node) DO UPDATE SET proto = excluded.proto"));
  PLUMB_RETURN_IF_ERROR(stmt->BindText(1, pin.node()));
  PLUMB_RETURN_IF_ERROR(stmt->BindBlob(2, pin.SerializeAsString()));
  return stmt->Run();
}

absl::Status SqliteStore::DeletePin(const std::string& node) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<SqliteStatement> stmt;
  PLUMB_ASSIGN_OR_RETURN(stmt, db_->Prepare("DELETE FROM pins WHERE node = ?1"));
  PLUMB_RETURN_IF_ERROR(stmt->BindText(1, node));
  return stmt->Run();
}

absl::StatusOr<std::vector<v1::Pin>> SqliteStore::ListPins() {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<SqliteStatement> stmt;
  PLUMB_ASSIGN_OR_RETURN(stmt, db_->Prepare("SELECT proto FROM pins ORDER BY node"));
  std::vector<v1::Pin> pins;
  PLUMB_RETURN_IF_ERROR(stmt->ForEachRow([&]() -> absl::Status {
    PLUMB_ASSIGN_OR_RETURN(v1::Pin pin, ParseStored<v1::Pin>(stmt->ColumnBlob(0), "pin"));
    pins.push_back(std::move(pin));
    return absl::OkStatus();
  }));
  return pins;
}

}  // namespace plumb
