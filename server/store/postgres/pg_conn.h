#pragma once

// A thin wrapper over one PostgreSQL connection (libpq): connect, prepared statements,
// transactions. The only place that calls PQ* and converts PostgreSQL errors to absl::Status.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct pg_conn;
struct pg_result;

namespace plumb {

// One value bound to a $n parameter: text and integers go as text, bytes (serialized protos)
// as binary (bytea).
struct PgParam {
  static PgParam Text(std::string value) { return {std::move(value), false}; }
  static PgParam Int(int64_t value) { return {std::to_string(value), false}; }
  static PgParam Bytes(std::string value) { return {std::move(value), true}; }
  std::string value;
  bool binary = false;
};

// Builds a one-dimensional array parameter in PostgreSQL's text form (`{"a","b"}`), so that
// many rows go in one statement (`unnest($1::text[], ...)`): one round trip per batch instead
// of one per row. Text must be valid UTF-8 without NULs (as for any text parameter).
class PgArray {
 public:
  void AddText(const std::string& value);
  void AddInt(int64_t value);
  // bytea, hex-encoded.
  void AddBytes(const std::string& value);
  bool empty() const { return count_ == 0; }
  PgParam Param() const { return PgParam::Text(literal_ + "}"); }

 private:
  void Separator();
  std::string literal_ = "{";
  int count_ = 0;
};

// A query's rows, every column in binary format. Rows and columns are 0-based.
// Thread-compatible; owns its PGresult.
class PgResult {
 public:
  explicit PgResult(pg_result* result);
  int rows() const;
  // Raw bytes of a text or bytea column.
  std::string Bytes(int row, int column) const;
  // A boolean, int2, int4 or int8 column (false/NULL read as 0).
  int64_t Int(int row, int column) const;
  // Rows a command affected (INSERT/UPDATE/DELETE), 0 for other statements.
  int64_t affected() const;

 private:
  friend class PgConn;
  std::shared_ptr<pg_result> result_;
};

// A LISTEN notification: its channel and payload.
struct PgNotification {
  std::string channel;
  std::string payload;
};

// One connection. Thread-compatible: the owner serialises calls (PgStore holds its mutex).
class PgConn {
 public:
  // Connects with a libpq URL or key=value string (sslmode and friends pass through; the usual
  // PG* environment variables apply). A non-empty `password` overrides the URL's.
  static absl::StatusOr<std::unique_ptr<PgConn>> Connect(const std::string& url,
                                                         const std::string& password);
  ~PgConn();
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;

  // Runs one statement with $1.. parameters, as a prepared statement that is prepared on this
  // connection the first time the same SQL text runs. Unavailable when the connection is lost
  // (the next call reconnects), AlreadyExists on a unique violation, Internal otherwise.
  absl::StatusOr<PgResult> Query(const std::string& sql, const std::vector<PgParam>& params = {});
  // Runs a script of statements without parameters (migrations).
  absl::Status ExecScript(const std::string& sql);
  // BEGIN; fn(); COMMIT, or ROLLBACK when fn or the commit fails.
  absl::Status InTransaction(const std::function<absl::Status()>& fn);
  // Reconnects if the connection was lost; call between transactions.
  absl::Status EnsureConnected();
  // Whether the connection is up (as far as libpq knows).
  bool connected() const;
  // The connection's socket, to wait on for notifications (-1 when there is none).
  int socket() const;
  // Reads what the server sent and returns the payloads of the LISTEN notifications received
  // since the last call. Unavailable when the connection is lost.
  absl::StatusOr<std::vector<std::string>> ConsumeNotifications();
  // The same, with each notification's channel.
  absl::StatusOr<std::vector<PgNotification>> ConsumeNotices();

 private:
  explicit PgConn(pg_conn* conn) : conn_(conn) {}
  absl::Status Error(pg_result* result, const std::string& sql);
  absl::StatusOr<std::string> PreparedName(const std::string& sql);

  pg_conn* conn_;
  std::map<std::string, std::string> prepared_;  // SQL text -> statement name
};

}  // namespace plumb
