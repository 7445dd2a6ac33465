#include "server/store/sqlite/sqlite_token_table.h"

#include "common/status_macros.h"
#include "server/store/sqlite/sqlite_db.h"

namespace plumb {
namespace {

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS join_tokens (
  hash TEXT PRIMARY KEY,
  created_ms INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL,
  uses_left INTEGER NOT NULL,
  labels BLOB NOT NULL,
  node_glob TEXT NOT NULL
);
)sql";

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteTokenTable>> SqliteTokenTable::Open(const std::string& path) {
  PLUMB_ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> db, SqliteDb::Open(path));
  PLUMB_RETURN_IF_ERROR(db->Exec(kSchema));
  return std::unique_ptr<SqliteTokenTable>(new SqliteTokenTable(std::move(db)));
}

SqliteTokenTable::SqliteTokenTable(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}
SqliteTokenTable::~SqliteTokenTable() = default;

absl::Status SqliteTokenTable::Insert(const TokenRow& row) {
  absl::MutexLock lock(&mu_);
  PLUMB_ASSIGN_OR_RETURN(
      auto stmt,
      db_->Prepare(
          "INSERT INTO join_tokens (hash, created_ms, expires_ms, uses_left, labels, node_glob)"
          " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
  PLUMB_RETURN_IF_ERROR(stmt->BindText(1, row.hash));
  PLUMB_RETURN_IF_ERROR(stmt->BindInt64(2, row.created_ms));
  PLUMB_RETURN_IF_ERROR(stmt->BindInt64(3, row.expires_ms));
  PLUMB_RETURN_IF_ERROR(stmt->BindInt64(4, row.uses_left));
  PLUMB_RETURN_IF_ERROR(stmt->BindBlob(5, row.labels));
  PLUMB_RETURN_IF_ERROR(stmt->BindText(6, row.node_glob));
  return stmt->Run();
}

absl::StatusOr<std::optional<TokenRow>> SqliteTokenTable::Find(const std::string& hash) {
  absl::MutexLock lock(&mu_);
  PLUMB_ASSIGN_OR_RETURN(
      auto stmt,
      db_->Prepare("SELECT created_ms, expires_ms, uses_left, labels, node_glob FROM join_tokens"
                   " WHERE hash = ?1"));
  PLUMB_RETURN_IF_ERROR(stmt->BindText(1, hash));
  PLUMB_ASSIGN_OR_RETURN(bool found, stmt->Step());
  if (!found) return std::optional<TokenRow>();
  TokenRow row;
  row.hash = hash;
  row.created_ms = stmt->ColumnInt64(0);
  row.expires_ms = stmt->ColumnInt64(1);
  row.uses_left = stmt->ColumnInt64(2);
  row.labels = stmt->ColumnBlob(3);
  row.node_glob = stmt->ColumnText(4);
  return std::optional<TokenRow>(std::move(row));
}

absl::StatusOr<bool> SqliteTokenTable::ConsumeUse(const std::string& hash) {
  absl::MutexLock lock(&mu_);
  PLUMB_ASSIGN_OR_RETURN(
      auto update,
      db_->Prepare(
          "UPDATE join_tokens SET uses_left = uses_left - 1 WHERE hash = ?1 AND uses_left > 0"));
  PLUMB_RETURN_IF_ERROR(update->BindText(1, hash));
  PLUMB_RETURN_IF_ERROR(update->Run());
  return db_->Changes() == 1;
}

}  // namespace plumb
