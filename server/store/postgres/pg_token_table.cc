#include "server/store/postgres/pg_token_table.h"

#include "common/status_macros.h"
#include "server/store/postgres/pg_conn.h"
#include "server/store/postgres/pg_schema.h"

namespace plumb {

absl::StatusOr<std::unique_ptr<PgTokenTable>> PgTokenTable::Open(const std::string& url,
                                                                 const std::string& password) {
  PLUMB_ASSIGN_OR_RETURN(std::unique_ptr<PgConn> conn, PgConn::Connect(url, password));
  PLUMB_RETURN_IF_ERROR(MigratePgSchema(*conn));
  return std::unique_ptr<PgTokenTable>(new PgTokenTable(std::move(conn)));
}

PgTokenTable::PgTokenTable(std::unique_ptr<PgConn> conn) : conn_(std::move(conn)) {}
PgTokenTable::~PgTokenTable() = default;

absl::Status PgTokenTable::Insert(const TokenRow& row) {
  absl::MutexLock lock(&mu_);
  PLUMB_RETURN_IF_ERROR(conn_->EnsureConnected());
  return conn_
      ->Query(
          "INSERT INTO join_tokens (hash, created_ms, expires_ms, uses_left, labels,"
          " node_glob) VALUES ($1, $2, $3, $4, $5, $6)",
          {PgParam::Text(row.hash), PgParam::Int(row.created_ms), PgParam::Int(row.expires_ms),
           PgParam::Int(row.uses_left), PgParam::Bytes(row.labels), PgParam::Text(row.node_glob)})
      .status();
}

absl::StatusOr<std::optional<TokenRow>> PgTokenTable::Find(const std::string& hash) {
  absl::MutexLock lock(&mu_);
  PLUMB_RETURN_IF_ERROR(conn_->EnsureConnected());
  PLUMB_ASSIGN_OR_RETURN(
      PgResult result,
      conn_->Query("SELECT created_ms, expires_ms, uses_left, labels, node_glob FROM join_tokens"
                   " WHERE hash = $1",
                   {PgParam::Text(hash)}));
  if (result.rows() == 0) return std::optional<TokenRow>();
  TokenRow row;
  row.hash = hash;
  row.created_ms = result.Int(0, 0);
  row.expires_ms = result.Int(0, 1);
  row.uses_left = result.Int(0, 2);
  row.labels = result.Bytes(0, 3);
  row.node_glob = result.Bytes(0, 4);
  return std::optional<TokenRow>(std::move(row));
}

absl::StatusOr<bool> PgTokenTable::ConsumeUse(const std::string& hash) {
  absl::MutexLock lock(&mu_);
  PLUMB_RETURN_IF_ERROR(conn_->EnsureConnected());
  // One statement: the row lock makes concurrent redemptions on other servers queue, and
  // `uses_left > 0` is re-checked after the wait.
  PLUMB_ASSIGN_OR_RETURN(PgResult result,
                         conn_->Query("UPDATE join_tokens SET uses_left = uses_left - 1"
                                      " WHERE hash = $1 AND uses_left > 0",
                                      {PgParam::Text(hash)}));
  return result.affected() == 1;
}

}  // namespace plumb
