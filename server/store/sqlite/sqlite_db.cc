#include "server/store/sqlite/sqlite_db.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace plumb {
namespace {

constexpr int kBusyTimeoutMs = 5000;

// SQLite's primary result code mapped to the nearest canonical code.
absl::StatusCode CodeFor(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_PROTOCOL:
      return absl::StatusCode::kUnavailable;
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
      return absl::StatusCode::kInvalidArgument;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::StatusCode::kDataLoss;
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
      return absl::StatusCode::kPermissionDenied;
    default:
      return absl::StatusCode::kInternal;
  }
}

}  // namespace

absl::Status SqliteDb::ToStatus(int rc, absl::string_view sql) const {
  if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE) return absl::OkStatus();
  const char* msg = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  return absl::Status(CodeFor(rc), absl::StrCat("sqlite ", path_, ": ", msg, " (code ", rc,
                                                ") in: ", sql));
}

absl::StatusOr<std::unique_ptr<SqliteDb>> SqliteDb::Open(const std::string& path) {
  // A new database is created 0640 whatever the umask (SQLite gives its -wal and -shm files
  // the database's mode): it holds the fleet's reports and token hashes.
  int created = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (created >= 0) {
    fchmod(created, 0640);
    close(created);
  }
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  // sqlite3_open_v2 hands back a handle even on failure (for the message); the wrapper owns it.
  std::unique_ptr<SqliteDb> db(new SqliteDb(raw, path));
  if (rc != SQLITE_OK) return db->ToStatus(rc, "open");
  sqlite3_extended_result_codes(raw, 1);
  rc = sqlite3_busy_timeout(raw, kBusyTimeoutMs);
  if (rc != SQLITE_OK) return db->ToStatus(rc, "busy_timeout");
  return db;
}

SqliteDb::~SqliteDb() {
  // Statements in use are finalized by their owners first; close_v2 tolerates stragglers.
  for (auto& [sql, stmt] : idle_) sqlite3_finalize(stmt);
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

absl::Status SqliteDb::Exec(absl::string_view sql) {
  std::string text(sql.data(), sql.size());
  return ToStatus(sqlite3_exec(db_, text.c_str(), nullptr, nullptr, nullptr), sql);
}

absl::StatusOr<std::unique_ptr<SqliteStatement>> SqliteDb::Prepare(absl::string_view sql) {
  std::string text(sql.data(), sql.size());
  auto idle = idle_.find(text);
  if (idle != idle_.end()) {
    sqlite3_stmt* stmt = idle->second;
    idle_.erase(idle);
    return std::unique_ptr<SqliteStatement>(new SqliteStatement(this, stmt, std::move(text)));
  }
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return ToStatus(rc, sql);
  }
  if (stmt == nullptr) return absl::InvalidArgumentError(absl::StrCat("empty SQL: ", sql));
  return std::unique_ptr<SqliteStatement>(new SqliteStatement(this, stmt, std::move(text)));
}

void SqliteDb::Release(sqlite3_stmt* stmt, std::string sql) {
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  if (idle_.size() >= kMaxIdleStatements || idle_.count(sql) > 0) {
    sqlite3_finalize(stmt);
    return;
  }
  idle_.emplace(std::move(sql), stmt);
}

absl::Status SqliteDb::InTransaction(const std::function<absl::Status()>& body) {
  absl::Status status = Exec("BEGIN IMMEDIATE");
  if (!status.ok()) return status;
  status = body();
  if (status.ok()) status = Exec("COMMIT");
  if (!status.ok()) Exec("ROLLBACK").IgnoreError();
  return status;
}

absl::StatusOr<std::string> SqliteDb::QueryText(absl::string_view sql) {
  std::unique_ptr<SqliteStatement> stmt;
  PLUMB_ASSIGN_OR_RETURN(stmt, Prepare(sql));
  bool row = false;
  PLUMB_ASSIGN_OR_RETURN(row, stmt->Step());
  if (!row) return absl::NotFoundError(absl::StrCat("no row from: ", sql));
  return stmt->ColumnText(0);
}

int64_t SqliteDb::Changes() const { return sqlite3_changes(db_); }

SqliteStatement::~SqliteStatement() { db_->Release(stmt_, std::move(sql_)); }

absl::Status SqliteStatement::Check(int rc, absl::string_view what) const {
  if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE) return absl::OkStatus();
  return db_->ToStatus(rc, absl::StrCat(what, " in ", sql_));
}

absl::Status SqliteStatement::CheckBind(int rc, int index) const {
  if (rc == SQLITE_OK) return absl::OkStatus();
  return Check(rc, absl::StrCat("bind ", index));
}

absl::Status SqliteStatement::BindText(int index, absl::string_view value) {
  return CheckBind(sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()),
                                     SQLITE_TRANSIENT),
                   index);
}

absl::Status SqliteStatement::BindTextNoCopy(int index, absl::string_view value) {
  return CheckBind(sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()),
                                     SQLITE_STATIC),
                   index);
}

absl::Status SqliteStatement::BindBlob(int index, absl::string_view value) {
  // A zero-length blob must still be a blob, not NULL: SQLite binds NULL for a null pointer.
  static const char kEmpty = 0;
  const char* data = value.empty() ? &kEmpty : value.data();
  return CheckBind(sqlite3_bind_blob(stmt_, index, data, static_cast<int>(value.size()),
                                     SQLITE_TRANSIENT),
                   index);
}

absl::Status SqliteStatement::BindInt64(int index, int64_t value) {
  return CheckBind(sqlite3_bind_int64(stmt_, index, value), index);
}

absl::Status SqliteStatement::ForEachRow(const std::function<absl::Status()>& row) {
  while (true) {
    absl::StatusOr<bool> more = Step();
    if (!more.ok()) return more.status();
    if (!*more) return absl::OkStatus();
    absl::Status status = row();
    if (!status.ok()) return status;
  }
}

absl::StatusOr<bool> SqliteStatement::Step() {
  if (sqlite3_stmt_busy(stmt_) == 0) ++db_->statements_run_;
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return db_->ToStatus(rc, sql_);
}

absl::Status SqliteStatement::Run() {
  while (true) {
    bool row = false;
    PLUMB_ASSIGN_OR_RETURN(row, Step());
    if (!row) return absl::OkStatus();
  }
}

absl::Status SqliteStatement::Reset() {
  sqlite3_clear_bindings(stmt_);
  return Check(sqlite3_reset(stmt_), "reset");
}

std::string SqliteStatement::ColumnText(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  if (text == nullptr) return "";
  return std::string(reinterpret_cast<const char*>(text), sqlite3_column_bytes(stmt_, column));
}

std::string SqliteStatement::ColumnBlob(int column) const {
  const void* blob = sqlite3_column_blob(stmt_, column);
  if (blob == nullptr) return "";
  return std::string(static_cast<const char*>(blob), sqlite3_column_bytes(stmt_, column));
}

int64_t SqliteStatement::ColumnInt64(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

bool SqliteStatement::ColumnIsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

}  // namespace plumb
