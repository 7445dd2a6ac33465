#include "server/store/sqlite/sqlite_identity_table.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/sqlite/sqlite_db.h"

namespace plumb {
namespace {

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS enrolled_nodes (
  name TEXT PRIMARY KEY,
  public_key_sha256 TEXT NOT NULL,
  labels BLOB NOT NULL,
  enrolled_ms INTEGER NOT NULL,
  revoked_ms INTEGER NOT NULL DEFAULT 0,
  generation INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS node_certs (
  fingerprint TEXT PRIMARY KEY,
  node TEXT NOT NULL,
  serial TEXT NOT NULL,
  issued_ms INTEGER NOT NULL,
  not_after_ms INTEGER NOT NULL,
  revoked INTEGER NOT NULL DEFAULT 0,
  generation INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS node_certs_by_node ON node_certs (node);
CREATE TABLE IF NOT EXISTS operator_certs (
  fingerprint TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  serial TEXT NOT NULL,
  issued_ms INTEGER NOT NULL,
  not_after_ms INTEGER NOT NULL,
  revoked_ms INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS operator_certs_by_name ON operator_certs (name);
)sql";

// Databases made before a column existed get it with its default (generation 0: the
// certificates they recorded stay valid for the node's first generation).
absl::Status AddColumnIfMissing(SqliteDb* db, const std::string& table, const std::string& column,
                                const std::string& declaration) {
  PLUMB_ASSIGN_OR_RETURN(auto info, db->Prepare(absl::StrCat("PRAGMA table_info(", table, ")")));
  while (true) {
    PLUMB_ASSIGN_OR_RETURN(bool row, info->Step());
    if (!row) break;
    if (info->ColumnText(1) == column) return absl::OkStatus();
  }
  info.reset();
  return db->Exec(absl::StrCat("ALTER TABLE ", table, " ADD COLUMN ", column, " ", declaration));
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteIdentityTable>> SqliteIdentityTable::Open(
    const std::string& path) {
  PLUMB_ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> db, SqliteDb::Open(path));
  PLUMB_RETURN_IF_ERROR(db->Exec(kSchema));
  for (const char* table : {"enrolled_nodes", "node_certs"}) {
    PLUMB_RETURN_IF_ERROR(
        AddColumnIfMissing(db.get(), table, "generation", "INTEGER NOT NULL DEFAULT 0"));
  }
  return std::unique_ptr<SqliteIdentityTable>(new SqliteIdentityTable(std::move(db)));
}

SqliteIdentityTable::SqliteIdentityTable(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}
SqliteIdentityTable::~SqliteIdentityTable() = default;

absl::StatusOr<IdentityRows> SqliteIdentityTable::Read(int64_t since) {
  IdentityRows rows;
  rows.seq = 1;
  if (since > 0) return rows;  // nobody else writes this file's nodes
  absl::MutexLock lock(&mu_);
  PLUMB_ASSIGN_OR_RETURN(
      auto nodes,
      db_->Prepare(
          "SELECT name, public_key_sha256, labels, revoked_ms, generation FROM enrolled_nodes"));
  PLUMB_RETURN_IF_ERROR(nodes->ForEachRow([&]() -> absl::Status {
    NodeIdentity& n = rows.nodes.emplace_back();
    n.name = nodes->ColumnText(0);
    n.public_key_sha256 = nodes->ColumnText(1);
    DecodeIdentityLabels(nodes->ColumnBlob(2), &n);
    if (int64_t revoked_ms = nodes->ColumnInt64(3); revoked_ms != 0) {
      n.revoked = absl::FromUnixMillis(revoked_ms);
    }
    n.generation = nodes->ColumnInt64(4);
    return absl::OkStatus();
  }));
  PLUMB_ASSIGN_OR_RETURN(
      auto certs,
      db_->Prepare("SELECT node, fingerprint, not_after_ms, generation, revoked FROM node_certs"));
  PLUMB_RETURN_IF_ERROR(certs->ForEachRow([&]() -> absl::Status {
    rows.certs.push_back({certs->ColumnText(0), certs->ColumnText(1),
                          absl::FromUnixMillis(certs->ColumnInt64(2)), certs->ColumnInt64(3),
                          certs->ColumnInt64(4) != 0});
    return absl::OkStatus();
  }));
  PLUMB_ASSIGN_OR_RETURN(
      auto operators, db_->Prepare("SELECT fingerprint FROM operator_certs WHERE revoked_ms != 0"));
  PLUMB_RETURN_IF_ERROR(operators->ForEachRow([&]() -> absl::Status {
    rows.revoked_operator_certs.push_back(operators->ColumnText(0));
    return absl::OkStatus();
  }));
  return rows;
}

absl::StatusOr<SqliteIdentityTable::StoredNode> SqliteIdentityTable::NodeState(
    const std::string& node) {
  PLUMB_ASSIGN_OR_RETURN(auto stmt, db_->Prepare("SELECT generation, revoked_ms, public_key_sha256"
                                                 " FROM enrolled_nodes WHERE name = ?1"));
  PLUMB_RETURN_IF_ERROR(stmt->BindText(1, node));
  PLUMB_ASSIGN_OR_RETURN(bool row, stmt->Step());
  if (!row) return absl::NotFoundError(absl::StrCat("node \"", node, "\" is not enrolled"));
  return StoredNode{stmt->ColumnInt64(0), stmt->ColumnInt64(1), stmt->ColumnText(2)};
}

absl::Status SqliteIdentityTable::InsertCert(const std::string& node, int64_t generation,
                                             const CertInfo& cert, absl::Time now) {
  PLUMB_ASSIGN_OR_RETURN(
      auto stmt,
      db_->Prepare(
          "INSERT OR REPLACE INTO node_certs (fingerprint, node, serial, issued_ms, not_after_ms,"
          " generation) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
  PLUMB_RETURN_IF_ERROR(stmt->BindText(1, cert.fingerprint));
  PLUMB_RETURN_IF_ERROR(stmt->BindText(2, node));
  PLUMB_RETURN_IF_ERROR(stmt->BindText(3, cert.serial_hex));
  PLUMB_RETURN_IF_ERROR(stmt->BindInt64(4, absl::ToUnixMillis(now)));
  PLUMB_RETURN_IF_ERROR(stmt->BindInt64(5, absl::ToUnixMillis(cert.not_after)));
  PLUMB_RETURN_IF_ERROR(stmt->BindInt64(6, generation));
  return stmt->Run();
}

absl::StatusOr<int64_t> SqliteIdentityTable::RecordEnrollment(const NodeIdentity& node,
                                                              const CertInfo& cert,
                                                              absl::Time now) {
  absl::MutexLock lock(&mu_);
  int64_t generation = 1;
  PLUMB_RETURN_IF_ERROR(db_->InTransaction([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(
                                               mu_) -> absl::Status {
    auto previous = NodeState(node.name);
    if (previous.ok()) {
      if (previous->revoked_ms == 0 && previous->public_key_sha256 != node.public_key_sha256) {
        return NameTakenError(node.name);
      }
      generation = previous->generation + 1;
    } else if (!absl::IsNotFound(previous.status())) {
      return previous.status();
    }
    PLUMB_ASSIGN_OR_RETURN(
        auto stmt,
        db_->Prepare(
            "INSERT OR REPLACE INTO enrolled_nodes (name, public_key_sha256, labels, enrolled_ms,"
            " revoked_ms, generation) VALUES (?1, ?2, ?3, ?4, 0, ?5)"));
    PLUMB_RETURN_IF_ERROR(stmt->BindText(1, node.name));
    PLUMB_RETURN_IF_ERROR(stmt->BindText(2, node.public_key_sha256));
    PLUMB_RETURN_IF_ERROR(stmt->BindBlob(3, EncodeIdentityLabels(node)));
    PLUMB_RETURN_IF_ERROR(stmt->BindInt64(4, absl::ToUnixMillis(now)));
    PLUMB_RETURN_IF_ERROR(stmt->BindInt64(5, generation));
    PLUMB_RETURN_IF_ERROR(stmt->Run());
    return InsertCert(node.name, generation, cert, now);
  }));
  return generation;
}

absl::Status SqliteIdentityTable::RecordRenewal(const std::string& node, int64_t generation,
                                                const CertInfo& cert, absl::Time now) {
  absl::MutexLock lock(&mu_);
  return db_->InTransaction([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
    PLUMB_ASSIGN_OR_RETURN(auto state, NodeState(node));
    if (state.revoked_ms != 0 || state.generation != generation) {
      return absl::PermissionDeniedError(absl::StrCat(
          "node \"", node, "\" was ", state.revoked_ms != 0 ? "revoked" : "enrolled again",
          " while its certificate was being renewed; the renewed certificate is not valid"));
    }
    return InsertCert(node, generation, cert, now);
  });
}

absl::StatusOr<std::vector<std::string>> SqliteIdentityTable::Revoke(const std::string& node,
                                                                     absl::Time now) {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> fingerprints;
  PLUMB_RETURN_IF_ERROR(
      db_->InTransaction([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
        auto state = NodeState(node);
        if (absl::IsNotFound(state.status())) {
          return absl::NotFoundError(absl::StrCat("node \"", node, "\" was never enrolled"));
        }
        PLUMB_RETURN_IF_ERROR(state.status());
        PLUMB_ASSIGN_OR_RETURN(auto select,
                               db_->Prepare("SELECT fingerprint FROM node_certs WHERE node = ?1"));
        PLUMB_RETURN_IF_ERROR(select->BindText(1, node));
        PLUMB_RETURN_IF_ERROR(select->ForEachRow([&]() -> absl::Status {
          fingerprints.push_back(select->ColumnText(0));
          return absl::OkStatus();
        }));
        select.reset();
        PLUMB_ASSIGN_OR_RETURN(auto certs,
                               db_->Prepare("UPDATE node_certs SET revoked = 1 WHERE node = ?1"));
        PLUMB_RETURN_IF_ERROR(certs->BindText(1, node));
        PLUMB_RETURN_IF_ERROR(certs->Run());
        PLUMB_ASSIGN_OR_RETURN(
            auto nodes, db_->Prepare("UPDATE enrolled_nodes SET revoked_ms = ?2 WHERE name = ?1"));
        PLUMB_RETURN_IF_ERROR(nodes->BindText(1, node));
        PLUMB_RETURN_IF_ERROR(nodes->BindInt64(2, std::max<int64_t>(1, absl::ToUnixMillis(now))));
        return nodes->Run();
      }));
  return fingerprints;
}

absl::Status SqliteIdentityTable::RecordOperatorCert(const CertInfo& cert, absl::Time now) {
  absl::MutexLock lock(&mu_);
  PLUMB_ASSIGN_OR_RETURN(auto stmt,
                         db_->Prepare("INSERT OR REPLACE INTO operator_certs (fingerprint, name, "
                                      "serial, issued_ms, not_after_ms)"
                                      " VALUES (?1, ?2, ?3, ?4, ?5)"));
  PLUMB_RETURN_IF_ERROR(stmt->BindText(1, cert.fingerprint));
  PLUMB_RETURN_IF_ERROR(stmt->BindText(2, cert.common_name));
  PLUMB_RETURN_IF_ERROR(stmt->BindText(3, cert.serial_hex));
  PLUMB_RETURN_IF_ERROR(stmt->BindInt64(4, absl::ToUnixMillis(now)));
  PLUMB_RETURN_IF_ERROR(stmt->BindInt64(5, absl::ToUnixMillis(cert.not_after)));
  return stmt->Run();
}

absl::StatusOr<std::vector<std::string>> SqliteIdentityTable::RevokeOperator(
    const std::string& name, absl::Time now) {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> fingerprints;
  bool known = false;
  PLUMB_RETURN_IF_ERROR(
      db_->InTransaction([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::Status {
        PLUMB_ASSIGN_OR_RETURN(
            auto select,
            db_->Prepare("SELECT fingerprint, revoked_ms FROM operator_certs WHERE name = ?1"));
        PLUMB_RETURN_IF_ERROR(select->BindText(1, name));
        PLUMB_RETURN_IF_ERROR(select->ForEachRow([&]() -> absl::Status {
          known = true;
          if (select->ColumnInt64(1) == 0) fingerprints.push_back(select->ColumnText(0));
          return absl::OkStatus();
        }));
        PLUMB_ASSIGN_OR_RETURN(
            auto update,
            db_->Prepare(
                "UPDATE operator_certs SET revoked_ms = ?2 WHERE name = ?1 AND revoked_ms = 0"));
        PLUMB_RETURN_IF_ERROR(update->BindText(1, name));
        PLUMB_RETURN_IF_ERROR(update->BindInt64(2, std::max<int64_t>(1, absl::ToUnixMillis(now))));
        return update->Run();
      }));
  if (!known) {
    return absl::NotFoundError(
        absl::StrCat("no operator certificate was issued to \"", name,
                     "\" (plumb-server ca issue-operator NAME issues them)"));
  }
  return fingerprints;
}

absl::StatusOr<std::vector<OperatorCert>> SqliteIdentityTable::ListOperatorCerts() {
  absl::MutexLock lock(&mu_);
  PLUMB_ASSIGN_OR_RETURN(auto select, db_->Prepare("SELECT name, serial, fingerprint, issued_ms, "
                                                   "not_after_ms, revoked_ms FROM operator_certs"
                                                   " ORDER BY issued_ms DESC, name"));
  std::vector<OperatorCert> certs;
  PLUMB_RETURN_IF_ERROR(select->ForEachRow([&]() -> absl::Status {
    OperatorCert& c = certs.emplace_back();
    c.name = select->ColumnText(0);
    c.serial_hex = select->ColumnText(1);
    c.fingerprint = select->ColumnText(2);
    c.issued = absl::FromUnixMillis(select->ColumnInt64(3));
    c.not_after = absl::FromUnixMillis(select->ColumnInt64(4));
    if (int64_t revoked_ms = select->ColumnInt64(5); revoked_ms != 0) {
      c.revoked = absl::FromUnixMillis(revoked_ms);
    }
    return absl::OkStatus();
  }));
  return certs;
}

}  // namespace plumb
