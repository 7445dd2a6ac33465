#pragma once

// A thin wrapper over one SQLite connection (libsqlite3): open, exec, prepared statements.
// The only place that calls sqlite3_* and converts SQLite errors to absl::Status.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

struct sqlite3;
struct sqlite3_stmt;

namespace plumb {

class SqliteDb;

// One prepared statement. Bind parameters are 1-based, columns 0-based (as in SQLite).
// Thread-compatible: used by one thread at a time, under its owner's lock; must not outlive
// the SqliteDb that prepared it.
class SqliteStatement {
 public:
  ~SqliteStatement();
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  absl::Status BindText(int index, absl::string_view value);
  // Binds `value` without copying it: its bytes must stay alive and unchanged until the
  // statement is reset, rebound or destroyed (for rows bound from a caller's protos).
  absl::Status BindTextNoCopy(int index, absl::string_view value);
  // Binds raw bytes (serialized protos) as a BLOB.
  absl::Status BindBlob(int index, absl::string_view value);
  absl::Status BindInt64(int index, int64_t value);

  // Advances to the next row: true when a row is available, false when done.
  absl::StatusOr<bool> Step();
  // Runs a statement that returns no rows to completion.
  absl::Status Run();
  // Clears bindings and rewinds, so the statement can run again.
  absl::Status Reset();
  // Steps through every row, calling `row` on each (read the columns there); stops at the
  // first error, of SQLite or of `row`.
  absl::Status ForEachRow(const std::function<absl::Status()>& row);

  std::string ColumnText(int column) const;
  std::string ColumnBlob(int column) const;
  int64_t ColumnInt64(int column) const;
  bool ColumnIsNull(int column) const;

 private:
  friend class SqliteDb;
  SqliteStatement(SqliteDb* db, sqlite3_stmt* stmt, std::string sql)
      : db_(db), stmt_(stmt), sql_(std::move(sql)) {}
  absl::Status Check(int rc, absl::string_view what) const;
  // Check() for a bind: the message is built only on failure (binds run per row).
  absl::Status CheckBind(int rc, int index) const;

  SqliteDb* db_;  // not owned; the SqliteDb outlives its statements
  sqlite3_stmt* stmt_;
  std::string sql_;
};

// One SQLite connection. Thread-compatible: the owner serializes calls (Store holds a mutex).
// Keeps finished statements for reuse, one per SQL text (up to kMaxIdleStatements texts): the
// store runs the same few statements for every agent, and preparing them anew each time was a
// fifth of the fan-out's cost (docs/benchmarks.md, finding 2).
class SqliteDb {
 public:
  // Opens or creates the database file at `path`, with a busy timeout.
  static absl::StatusOr<std::unique_ptr<SqliteDb>> Open(const std::string& path);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  // Runs one or more SQL statements that return no rows of interest.
  absl::Status Exec(absl::string_view sql);
  absl::StatusOr<std::unique_ptr<SqliteStatement>> Prepare(absl::string_view sql);
  // Runs `body` inside BEGIN IMMEDIATE ... COMMIT; rolls back and returns the error if `body`
  // or the commit fails.
  absl::Status InTransaction(const std::function<absl::Status()>& body);
  // Runs a one-row, one-column query (e.g. a PRAGMA) and returns the column as text.
  absl::StatusOr<std::string> QueryText(absl::string_view sql);
  // Rows changed by the last INSERT/UPDATE/DELETE on this connection.
  int64_t Changes() const;
  // Statements run so far through Prepare()d statements (each first Step() after a prepare or
  // reset counts one); Exec() is not counted. For tests and benchmarks of statement counts.
  int64_t statements_run() const { return statements_run_; }
  const std::string& path() const { return path_; }

  // Converts a SQLite result code to a Status naming `sql` and sqlite3_errmsg. OK for
  // SQLITE_OK, SQLITE_ROW and SQLITE_DONE.
  absl::Status ToStatus(int rc, absl::string_view sql) const;

 private:
  friend class SqliteStatement;
  static constexpr size_t kMaxIdleStatements = 64;

  SqliteDb(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  // A statement is done: reset and kept for the next Prepare of `sql`, or finalized.
  void Release(sqlite3_stmt* stmt, std::string sql);

  sqlite3* db_;
  std::string path_;
  std::map<std::string, sqlite3_stmt*> idle_;
  int64_t statements_run_ = 0;
};

}  // namespace plumb
