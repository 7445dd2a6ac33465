#include "server/store/postgres/pg_conn.h"

#include <libpq-fe.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"

namespace plumb {
namespace {

// Type oids (pg_type.h, stable across releases).
constexpr Oid kBoolOid = 16;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;

std::string Shorten(const std::string& sql) {
  return sql.size() > 80 ? sql.substr(0, 77) + "..." : sql;
}

int64_t BigEndian(const char* bytes, int size) {
  uint64_t value = 0;
  for (int i = 0; i < size; ++i) value = (value << 8) | static_cast<unsigned char>(bytes[i]);
  // Sign-extend the narrower types.
  int shift = 64 - 8 * size;
  return static_cast<int64_t>(value << shift) >> shift;
}

}  // namespace

void PgArray::Separator() {
  if (count_++ > 0) literal_.push_back(',');
}

void PgArray::AddText(const std::string& value) {
  Separator();
  literal_.push_back('"');
  for (char c : value) {
    if (c == '"' || c == '\\') literal_.push_back('\\');
    literal_.push_back(c);
  }
  literal_.push_back('"');
}

void PgArray::AddInt(int64_t value) {
  Separator();
  literal_ += std::to_string(value);
}

void PgArray::AddBytes(const std::string& value) {
  static constexpr char kHex[] = "0123456789abcdef";
  Separator();
  // The opening quote, then bytea's hex prefix \x with its backslash escaped for the array.
  literal_ += "\"\\\\x";
  for (unsigned char c : value) {
    literal_.push_back(kHex[c >> 4]);
    literal_.push_back(kHex[c & 15]);
  }
  literal_.push_back('"');
}

PgResult::PgResult(pg_result* result) : result_(result, PQclear) {}

int PgResult::rows() const { return PQntuples(result_.get()); }

std::string PgResult::Bytes(int row, int column) const {
  return std::string(PQgetvalue(result_.get(), row, column),
                     PQgetlength(result_.get(), row, column));
}

int64_t PgResult::Int(int row, int column) const {
  if (PQgetisnull(result_.get(), row, column)) return 0;
  const char* value = PQgetvalue(result_.get(), row, column);
  switch (PQftype(result_.get(), column)) {
    case kBoolOid:
      return value[0] != 0;
    case kInt2Oid:
      return BigEndian(value, 2);
    case kInt4Oid:
      return BigEndian(value, 4);
    case kInt8Oid:
      return BigEndian(value, 8);
    default:
      return BigEndian(value, PQgetlength(result_.get(), row, column));
  }
}

int64_t PgResult::affected() const {
  const char* tuples = PQcmdTuples(result_.get());
  return tuples[0] == '\0' ? 0 : std::strtoll(tuples, nullptr, 10);
}

absl::StatusOr<std::unique_ptr<PgConn>> PgConn::Connect(const std::string& url,
                                                        const std::string& password) {
  // Keywords before `dbname` are defaults the URL (expanded from `dbname`) overrides; those
  // after it override the URL. The defaults bound how long a dead database host can hold the
  // store: connecting gives up after 10 s, and TCP keepalives notice a silent peer in about a
  // minute instead of the kernel's two hours.
  std::vector<const char*> keys;
  std::vector<const char*> values;
  if (getenv("PGCONNECT_TIMEOUT") == nullptr) {
    keys.push_back("connect_timeout");
    values.push_back("10");
  }
  for (const auto& [key, value] : {std::pair<const char*, const char*>{"keepalives_idle", "30"},
                                   {"keepalives_interval", "10"},
                                   {"keepalives_count", "3"}}) {
    keys.push_back(key);
    values.push_back(value);
  }
  keys.push_back("dbname");
  values.push_back(url.c_str());
  keys.push_back("fallback_application_name");
  values.push_back("plumb-server");
  if (!password.empty()) {
    keys.push_back("password");
    values.push_back(password.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  pg_conn* conn = PQconnectdbParams(keys.data(), values.data(), /*expand_dbname=*/1);
  if (conn == nullptr) return absl::ResourceExhaustedError("postgresql: out of memory");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message(absl::StripTrailingAsciiWhitespace(PQerrorMessage(conn)));
    PQfinish(conn);
    return absl::UnavailableError(absl::StrCat("postgresql: cannot connect: ", message));
  }
  // NOTICEs (e.g. "relation already exists, skipping" from idempotent migrations) are not
  // errors; libpq would print them to stderr.
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  return std::unique_ptr<PgConn>(new PgConn(conn));
}

PgConn::~PgConn() { PQfinish(conn_); }

absl::Status PgConn::EnsureConnected() {
  if (PQstatus(conn_) == CONNECTION_OK) return absl::OkStatus();
  PQreset(conn_);
  prepared_.clear();  // prepared statements die with the session
  if (PQstatus(conn_) != CONNECTION_OK) {
    return absl::UnavailableError(
        absl::StrCat("postgresql: cannot reconnect: ",
                     std::string(absl::StripTrailingAsciiWhitespace(PQerrorMessage(conn_)))));
  }
  return absl::OkStatus();
}

bool PgConn::connected() const { return PQstatus(conn_) == CONNECTION_OK; }

int PgConn::socket() const { return PQsocket(conn_); }

absl::StatusOr<std::vector<std::string>> PgConn::ConsumeNotifications() {
  absl::StatusOr<std::vector<PgNotification>> got = ConsumeNotices();
  if (!got.ok()) return got.status();
  std::vector<std::string> payloads;
  for (PgNotification& n : *got) payloads.push_back(std::move(n.payload));
  return payloads;
}

absl::StatusOr<std::vector<PgNotification>> PgConn::ConsumeNotices() {
  if (PQconsumeInput(conn_) == 0 || PQstatus(conn_) != CONNECTION_OK) {
    return absl::UnavailableError(
        absl::StrCat("postgresql: connection lost: ",
                     std::string(absl::StripTrailingAsciiWhitespace(PQerrorMessage(conn_)))));
  }
  std::vector<PgNotification> notices;
  while (PGnotify* n = PQnotifies(conn_)) {
    notices.push_back(
        {n->relname != nullptr ? n->relname : "", n->extra != nullptr ? n->extra : ""});
    PQfreemem(n);
  }
  return notices;
}

absl::Status PgConn::Error(pg_result* result, const std::string& sql) {
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  std::string message(absl::StripTrailingAsciiWhitespace(
      result != nullptr ? PQresultErrorMessage(result) : PQerrorMessage(conn_)));
  if (message.empty()) message = PQerrorMessage(conn_);
  std::string text = absl::StrCat("postgresql: ", message, " (in: ", Shorten(sql), ")");
  if (PQstatus(conn_) != CONNECTION_OK) return absl::UnavailableError(text);
  if (state != nullptr && std::strcmp(state, "23505") == 0) return absl::AlreadyExistsError(text);
  // 40001 serialization failure, 40P01 deadlock: the caller may retry.
  if (state != nullptr && state[0] == '4' && state[1] == '0') return absl::AbortedError(text);
  return absl::InternalError(text);
}

absl::StatusOr<std::string> PgConn::PreparedName(const std::string& sql) {
  auto it = prepared_.find(sql);
  if (it != prepared_.end()) return it->second;
  std::string name = absl::StrCat("plumb_", prepared_.size() + 1);
  PgResult result(PQprepare(conn_, name.c_str(), sql.c_str(), 0, nullptr));
  if (PQresultStatus(result.result_.get()) != PGRES_COMMAND_OK) {
    return Error(result.result_.get(), sql);
  }
  prepared_.emplace(sql, name);
  return name;
}

absl::StatusOr<PgResult> PgConn::Query(const std::string& sql, const std::vector<PgParam>& params) {
  std::string name;
  PLUMB_ASSIGN_OR_RETURN(name, PreparedName(sql));
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats;
  for (const PgParam& param : params) {
    values.push_back(param.value.data());
    lengths.push_back(static_cast<int>(param.value.size()));
    formats.push_back(param.binary ? 1 : 0);
  }
  PgResult result(PQexecPrepared(conn_, name.c_str(), static_cast<int>(params.size()),
                                 values.data(), lengths.data(), formats.data(),
                                 /*resultFormat=*/1));
  ExecStatusType status = PQresultStatus(result.result_.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return Error(result.result_.get(), sql);
  }
  return result;
}

absl::Status PgConn::ExecScript(const std::string& sql) {
  PgResult result(PQexec(conn_, sql.c_str()));
  ExecStatusType status = PQresultStatus(result.result_.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return Error(result.result_.get(), sql);
  }
  return absl::OkStatus();
}

absl::Status PgConn::InTransaction(const std::function<absl::Status()>& fn) {
  PLUMB_RETURN_IF_ERROR(ExecScript("BEGIN"));
  absl::Status status = fn();
  if (status.ok()) status = ExecScript("COMMIT");
  if (!status.ok()) {
    // After a failed COMMIT the transaction is already gone; ROLLBACK then only warns.
    ExecScript("ROLLBACK").IgnoreError();
  }
  return status;
}

}  // namespace plumb
