// The Store's rollout rows (server/rollout/): the controller's state, one row, and node pins.
// Split from sqlite_store.cc to keep each file small; same class, same lock, same connection.

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/sqlite/sqlite_db.h"
#include "server/store/sqlite/sqlite_store.h"
#include "server/store/stored_proto.h"

namespace plumb {

absl::Status SqliteStore::PutRolloutState(const v1::RolloutState& state) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<SqliteStatement> stmt;
  PLUMB_ASSIGN_OR_RETURN(stmt, db_->Prepare(
      "INSERT INTO rollout_state (id, proto) VALUES (1, ?1)"
      " ON CONFLICT (id) DO UPDATE SET proto = excluded.proto"));
  PLUMB_RETURN_IF_ERROR(stmt->BindBlob(1, state.SerializeAsString()));
  return stmt->Run();
}

absl::StatusOr<v1::RolloutState> SqliteStore::GetRolloutState() {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<SqliteStatement> stmt;
  PLUMB_ASSIGN_OR_RETURN(stmt, db_->Prepare("SELECT proto FROM rollout_state WHERE id = 1"));
  bool row = false;
  PLUMB_ASSIGN_OR_RETURN(row, stmt->Step());
  if (!row) return absl::NotFoundError("no rollout state stored");
  return ParseStored<v1::RolloutState>(stmt->ColumnBlob(0), "rollout state");
}

absl::Status SqliteStore::PutEnvironmentRolloutState(const std::string& environment,
                                                     const v1::RolloutState& state) {
  if (environment.empty()) return absl::InvalidArgumentError("the single line: PutRolloutState");
  absl::MutexLock lock(&mu_);
  std::unique_ptr<SqliteStatement> stmt;
  PLUMB_ASSIGN_OR_RETURN(stmt, db_->Prepare(
      "INSERT INTO env_rollout_state (environment, proto) VALUES (?1, ?2)"
      " ON CONFLICT (environment) DO UPDATE SET proto = excluded.proto"));
  PLUMB_RETURN_IF_ERROR(stmt->BindText(1, environment));
  PLUMB_RETURN_IF_ERROR(stmt->BindBlob(2, state.SerializeAsString()));
  return stmt->Run();
}

absl::StatusOr<v1::RolloutState> SqliteStore::GetEnvironmentRolloutState(
    const std::string& environment) {
  if (environment.empty()) return absl::InvalidArgumentError("the single line: GetRolloutState");
  absl::MutexLock lock(&mu_);
  std::unique_ptr<SqliteStatement> stmt;
  PLUMB_ASSIGN_OR_RETURN(
      stmt, db_->Prepare("SELECT proto FROM env_rollout_state WHERE environment = ?1"));
  PLUMB_RETURN_IF_ERROR(stmt->BindText(1, environment));
  bool row = false;
  PLUMB_ASSIGN_OR_RETURN(row, stmt->Step());
  if (!row) return absl::NotFoundError("no rollout state stored");
  return ParseStored<v1::RolloutState>(stmt->ColumnBlob(0), "rollout state");
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
