#include "server/store/identity_store.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "plumb/v1/agent.pb.h"
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

// Labels and allowed label keys share the `labels` column (a LabelSet).
std::string EncodeLabels(const NodeIdentity& node) {
  v1::LabelSet set;
  set.mutable_labels()->insert(node.labels.begin(), node.labels.end());
  for (const std::string& key : node.allowed_label_keys) set.add_allowed_keys(key);
  return set.SerializeAsString();
}

void DecodeLabels(const std::string& blob, NodeIdentity* node) {
  v1::LabelSet set;
  set.ParseFromString(blob);
  node->labels = {set.labels().begin(), set.labels().end()};
  node->allowed_label_keys = {set.allowed_keys().begin(), set.allowed_keys().end()};
}

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

absl::StatusOr<std::unique_ptr<IdentityStore>> IdentityStore::Open(const std::string& path) {
  PLUMB_ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> db, SqliteDb::Open(path));
  PLUMB_RETURN_IF_ERROR(db->Exec(kSchema));
  for (const char* table : {"enrolled_nodes", "node_certs"}) {
    PLUMB_RETURN_IF_ERROR(
        AddColumnIfMissing(db.get(), table, "generation", "INTEGER NOT NULL DEFAULT 0"));
  }
  std::unique_ptr<IdentityStore> store(new IdentityStore(std::move(db)));
  PLUMB_RETURN_IF_ERROR(store->Load());
  return store;
}

IdentityStore::IdentityStore(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}
IdentityStore::~IdentityStore() = default;

bool IdentityStore::Enrolled(const std::string& node) const {
  absl::MutexLock lock(&mu_);
  return nodes_.find(node) != nodes_.end();
}

absl::Status IdentityStore::Load() {
  absl::MutexLock db_lock(&db_mu_);
  absl::MutexLock lock(&mu_);
  PLUMB_ASSIGN_OR_RETURN(auto nodes, db_->Prepare(
      "SELECT name, public_key_sha256, labels, revoked_ms, generation FROM enrolled_nodes"));
  while (true) {
    PLUMB_ASSIGN_OR_RETURN(bool row, nodes->Step());
    if (!row) break;
    NodeIdentity n;
    n.name = nodes->ColumnText(0);
    n.public_key_sha256 = nodes->ColumnText(1);
    DecodeLabels(nodes->ColumnBlob(2), &n);
    int64_t revoked_ms = nodes->ColumnInt64(3);
    if (revoked_ms != 0) n.revoked = absl::FromUnixMillis(revoked_ms);
    n.generation = nodes->ColumnInt64(4);
    nodes_[n.name] = std::move(n);
  }
  PLUMB_RETURN_IF_ERROR(LoadCurrentCerts());
  PLUMB_ASSIGN_OR_RETURN(auto certs,
                         db_->Prepare("SELECT fingerprint FROM node_certs WHERE revoked != 0"));
  while (true) {
    PLUMB_ASSIGN_OR_RETURN(bool row, certs->Step());
    if (!row) break;
    revoked_certs_.insert(certs->ColumnText(0));
  }
  PLUMB_ASSIGN_OR_RETURN(
      auto operators, db_->Prepare("SELECT fingerprint FROM operator_certs WHERE revoked_ms != 0"));
  while (true) {
    PLUMB_ASSIGN_OR_RETURN(bool row, operators->Step());
    if (!row) break;
    revoked_certs_.insert(operators->ColumnText(0));
  }
  return absl::OkStatus();
}

absl::Status IdentityStore::LoadCurrentCerts() {
  PLUMB_ASSIGN_OR_RETURN(auto certs, db_->Prepare(
      "SELECT c.node, c.fingerprint, c.not_after_ms FROM node_certs c"
      " JOIN enrolled_nodes n ON n.name = c.node"
      " WHERE c.revoked = 0 AND n.revoked_ms = 0 AND c.generation = n.generation"));
  while (true) {
    PLUMB_ASSIGN_OR_RETURN(bool row, certs->Step());
    if (!row) break;
    current_certs_[certs->ColumnText(0)][certs->ColumnText(1)] =
        absl::FromUnixMillis(certs->ColumnInt64(2));
  }
  return absl::OkStatus();
}

absl::Status IdentityStore::InsertCert(const std::string& node, int64_t generation,
                                       const CertInfo& cert, absl::Time now) {
  PLUMB_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(
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

absl::Status IdentityStore::RecordEnrollment(const NodeIdentity& node, const CertInfo& cert,
                                             absl::Time now) {
  absl::MutexLock db_lock(&db_mu_);
  NodeIdentity stored = node;
  stored.revoked = absl::InfinitePast();
  // Under db_mu_, which every writer holds: no other enrollment can pick the same generation.
  std::optional<NodeIdentity> previous = Find(node.name);
  stored.generation = previous ? previous->generation + 1 : 1;
  PLUMB_RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  absl::Status status = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(db_mu_) -> absl::Status {
    PLUMB_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(
        "INSERT OR REPLACE INTO enrolled_nodes (name, public_key_sha256, labels, enrolled_ms,"
        " revoked_ms, generation) VALUES (?1, ?2, ?3, ?4, 0, ?5)"));
    PLUMB_RETURN_IF_ERROR(stmt->BindText(1, node.name));
    PLUMB_RETURN_IF_ERROR(stmt->BindText(2, node.public_key_sha256));
    PLUMB_RETURN_IF_ERROR(stmt->BindBlob(3, EncodeLabels(node)));
    PLUMB_RETURN_IF_ERROR(stmt->BindInt64(4, absl::ToUnixMillis(now)));
    PLUMB_RETURN_IF_ERROR(stmt->BindInt64(5, stored.generation));
    PLUMB_RETURN_IF_ERROR(stmt->Run());
    return InsertCert(node.name, stored.generation, cert, now);
  }();
  if (!status.ok()) {
    db_->Exec("ROLLBACK").IgnoreError();
    return status;
  }
  PLUMB_RETURN_IF_ERROR(db_->Exec("COMMIT"));
  absl::MutexLock lock(&mu_);
  nodes_[node.name] = std::move(stored);
  current_certs_[node.name] = {{cert.fingerprint, cert.not_after}};
  return absl::OkStatus();
}

absl::Status IdentityStore::RecordRenewal(const std::string& node, int64_t generation,
                                          const CertInfo& cert, absl::Time now) {
  // db_mu_ first: Revoke and RecordEnrollment hold it from their check to their update of the
  // in-memory state, so the check below and the insert are one step for them.
  absl::MutexLock db_lock(&db_mu_);
  std::optional<NodeIdentity> identity = Find(node);
  if (!identity) {
    return absl::NotFoundError(absl::StrCat("node \"", node, "\" is not enrolled"));
  }
  if (identity->is_revoked() || identity->generation != generation) {
    return absl::PermissionDeniedError(absl::StrCat(
        "node \"", node, "\" was ", identity->is_revoked() ? "revoked" : "enrolled again",
        " while its certificate was being renewed; the renewed certificate is not valid"));
  }
  PLUMB_RETURN_IF_ERROR(InsertCert(node, generation, cert, now));
  absl::MutexLock lock(&mu_);
  auto& current = current_certs_[node];
  // Expired certificates cannot pass TLS any more: forget them, so the map stays small.
  for (auto it = current.begin(); it != current.end();) {
    if (it->second < now) {
      current.erase(it++);
    } else {
      ++it;
    }
  }
  current[cert.fingerprint] = cert.not_after;
  return absl::OkStatus();
}

absl::StatusOr<int> IdentityStore::Revoke(const std::string& node, absl::Time now) {
  if (!Enrolled(node)) {
    return absl::NotFoundError(absl::StrCat("node \"", node, "\" was never enrolled"));
  }
  absl::MutexLock db_lock(&db_mu_);
  std::vector<std::string> fingerprints;
  PLUMB_ASSIGN_OR_RETURN(auto select,
                         db_->Prepare("SELECT fingerprint FROM node_certs WHERE node = ?1"));
  PLUMB_RETURN_IF_ERROR(select->BindText(1, node));
  while (true) {
    PLUMB_ASSIGN_OR_RETURN(bool row, select->Step());
    if (!row) break;
    fingerprints.push_back(select->ColumnText(0));
  }
  select.reset();
  PLUMB_RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  absl::Status status = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(db_mu_) -> absl::Status {
    PLUMB_ASSIGN_OR_RETURN(auto certs,
                           db_->Prepare("UPDATE node_certs SET revoked = 1 WHERE node = ?1"));
    PLUMB_RETURN_IF_ERROR(certs->BindText(1, node));
    PLUMB_RETURN_IF_ERROR(certs->Run());
    PLUMB_ASSIGN_OR_RETURN(auto nodes,
                           db_->Prepare("UPDATE enrolled_nodes SET revoked_ms = ?2 WHERE name = ?1"));
    PLUMB_RETURN_IF_ERROR(nodes->BindText(1, node));
    PLUMB_RETURN_IF_ERROR(nodes->BindInt64(2, absl::ToUnixMillis(now)));
    return nodes->Run();
  }();
  if (!status.ok()) {
    db_->Exec("ROLLBACK").IgnoreError();
    return status;
  }
  PLUMB_RETURN_IF_ERROR(db_->Exec("COMMIT"));
  absl::MutexLock lock(&mu_);
  nodes_[node].revoked = now;
  current_certs_.erase(node);
  revoked_certs_.insert(fingerprints.begin(), fingerprints.end());
  return static_cast<int>(fingerprints.size());
}

absl::Status IdentityStore::RecordOperatorCert(const CertInfo& cert, absl::Time now) {
  absl::MutexLock db_lock(&db_mu_);
  PLUMB_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(
      "INSERT OR REPLACE INTO operator_certs (fingerprint, name, serial, issued_ms, not_after_ms)"
      " VALUES (?1, ?2, ?3, ?4, ?5)"));
  PLUMB_RETURN_IF_ERROR(stmt->BindText(1, cert.fingerprint));
  PLUMB_RETURN_IF_ERROR(stmt->BindText(2, cert.common_name));
  PLUMB_RETURN_IF_ERROR(stmt->BindText(3, cert.serial_hex));
  PLUMB_RETURN_IF_ERROR(stmt->BindInt64(4, absl::ToUnixMillis(now)));
  PLUMB_RETURN_IF_ERROR(stmt->BindInt64(5, absl::ToUnixMillis(cert.not_after)));
  return stmt->Run();
}

absl::StatusOr<int> IdentityStore::RevokeOperator(const std::string& name, absl::Time now) {
  absl::MutexLock db_lock(&db_mu_);
  PLUMB_RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  std::vector<std::string> fingerprints;
  bool known = false;
  absl::Status status = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(db_mu_) -> absl::Status {
    PLUMB_ASSIGN_OR_RETURN(auto select, db_->Prepare(
        "SELECT fingerprint, revoked_ms FROM operator_certs WHERE name = ?1"));
    PLUMB_RETURN_IF_ERROR(select->BindText(1, name));
    while (true) {
      PLUMB_ASSIGN_OR_RETURN(bool row, select->Step());
      if (!row) break;
      known = true;
      if (select->ColumnInt64(1) == 0) fingerprints.push_back(select->ColumnText(0));
    }
    PLUMB_ASSIGN_OR_RETURN(auto update, db_->Prepare(
        "UPDATE operator_certs SET revoked_ms = ?2 WHERE name = ?1 AND revoked_ms = 0"));
    PLUMB_RETURN_IF_ERROR(update->BindText(1, name));
    PLUMB_RETURN_IF_ERROR(update->BindInt64(2, std::max<int64_t>(1, absl::ToUnixMillis(now))));
    return update->Run();
  }();
  if (!status.ok()) {
    db_->Exec("ROLLBACK").IgnoreError();
    return status;
  }
  PLUMB_RETURN_IF_ERROR(db_->Exec("COMMIT"));
  if (!known) {
    return absl::NotFoundError(absl::StrCat(
        "no operator certificate was issued to \"", name,
        "\" (plumb-server ca issue-operator NAME issues them)"));
  }
  absl::MutexLock lock(&mu_);
  revoked_certs_.insert(fingerprints.begin(), fingerprints.end());
  return static_cast<int>(fingerprints.size());
}

absl::StatusOr<std::vector<OperatorCert>> IdentityStore::ListOperatorCerts() {
  absl::MutexLock db_lock(&db_mu_);
  PLUMB_ASSIGN_OR_RETURN(auto select, db_->Prepare(
      "SELECT name, serial, fingerprint, issued_ms, not_after_ms, revoked_ms FROM operator_certs"
      " ORDER BY issued_ms DESC, name"));
  std::vector<OperatorCert> certs;
  while (true) {
    PLUMB_ASSIGN_OR_RETURN(bool row, select->Step());
    if (!row) break;
    OperatorCert c;
    c.name = select->ColumnText(0);
    c.serial_hex = select->ColumnText(1);
    c.fingerprint = select->ColumnText(2);
    c.issued = absl::FromUnixMillis(select->ColumnInt64(3));
    c.not_after = absl::FromUnixMillis(select->ColumnInt64(4));
    if (int64_t revoked_ms = select->ColumnInt64(5); revoked_ms != 0) {
      c.revoked = absl::FromUnixMillis(revoked_ms);
    }
    certs.push_back(std::move(c));
  }
  return certs;
}

std::optional<NodeIdentity> IdentityStore::Find(const std::string& node) const {
  absl::MutexLock lock(&mu_);
  auto it = nodes_.find(node);
  if (it == nodes_.end()) return std::nullopt;
  return it->second;
}

bool IdentityStore::IsRevoked(const CertInfo& cert) const {
  absl::MutexLock lock(&mu_);
  if (revoked_certs_.contains(cert.fingerprint)) return true;
  if (cert.role != kRoleAgent) return false;
  if (nodes_.find(cert.common_name) == nodes_.end()) return false;  // not enrolled here
  // The node's name belongs to its enrolled identity: only certificates recorded for its
  // current generation speak for it (none while it is revoked).
  auto current = current_certs_.find(cert.common_name);
  return current == current_certs_.end() || !current->second.contains(cert.fingerprint);
}

}  // namespace plumb
