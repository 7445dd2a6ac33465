#include "server/store/identity_store.h"

#include "common/status_macros.h"
#include "server/store/sqlite/sqlite_identity_table.h"

namespace plumb {

absl::StatusOr<std::unique_ptr<IdentityStore>> IdentityStore::Open(const std::string& path) {
  PLUMB_ASSIGN_OR_RETURN(std::unique_ptr<SqliteIdentityTable> table,
                         SqliteIdentityTable::Open(path));
  return Open(std::unique_ptr<IdentityTable>(std::move(table)));
}

absl::StatusOr<std::unique_ptr<IdentityStore>> IdentityStore::Open(
    std::unique_ptr<IdentityTable> table) {
  std::unique_ptr<IdentityStore> store(new IdentityStore(std::move(table)));
  absl::MutexLock db_lock(&store->db_mu_);
  PLUMB_ASSIGN_OR_RETURN(IdentityRows rows, store->table_->Read(0));
  store->seq_ = rows.seq;
  absl::MutexLock lock(&store->mu_);
  store->Apply(rows);
  return store;
}

IdentityStore::IdentityStore(std::unique_ptr<IdentityTable> table)
    : table_(std::move(table)), shared_(table_->shared()) {}
IdentityStore::~IdentityStore() = default;

IdentityChanges IdentityStore::Apply(const IdentityRows& rows) {
  IdentityChanges changes;
  absl::flat_hash_map<std::string, std::vector<const NodeCertRow*>> certs_of;
  for (const NodeCertRow& cert : rows.certs) certs_of[cert.node].push_back(&cert);
  for (const NodeIdentity& node : rows.nodes) {
    auto before = nodes_.find(node.name);
    bool was_revoked = before != nodes_.end() && before->second.is_revoked();
    bool same_generation = before != nodes_.end() && before->second.generation == node.generation;
    if (node.is_revoked() && !was_revoked) changes.revoked.push_back(node.name);
    if (!node.is_revoked() && (was_revoked || !same_generation)) {
      changes.enrolled.push_back(node.name);
    }
    auto& current = current_certs_[node.name];
    current.clear();
    for (const NodeCertRow* cert : certs_of[node.name]) {
      if (cert->revoked) {
        revoked_certs_.insert(cert->fingerprint);
        continue;
      }
      revoked_certs_.erase(cert->fingerprint);  // recorded anew since it was revoked
      if (!node.is_revoked() && cert->generation == node.generation) {
        current[cert->fingerprint] = cert->not_after;
      }
    }
    if (node.is_revoked()) current_certs_.erase(node.name);
    nodes_[node.name] = node;
  }
  for (const std::string& fingerprint : rows.revoked_operator_certs) {
    changes.operators_revoked |= revoked_certs_.insert(fingerprint).second;
  }
  return changes;
}

absl::StatusOr<IdentityChanges> IdentityStore::Refresh() {
  absl::MutexLock db_lock(&db_mu_);
  PLUMB_ASSIGN_OR_RETURN(IdentityRows rows, table_->Read(seq_));
  seq_ = rows.seq;
  absl::MutexLock lock(&mu_);
  return Apply(rows);
}

absl::Status IdentityStore::AgreeOnCa(const std::string& fingerprint) {
  absl::MutexLock db_lock(&db_mu_);
  return table_->AgreeOnCa(fingerprint);
}

absl::Status IdentityStore::RecordEnrollment(const NodeIdentity& node, const CertInfo& cert,
                                             absl::Time now) {
  absl::MutexLock db_lock(&db_mu_);
  PLUMB_ASSIGN_OR_RETURN(int64_t generation, table_->RecordEnrollment(node, cert, now));
  NodeIdentity stored = node;
  stored.revoked = absl::InfinitePast();
  stored.generation = generation;
  absl::MutexLock lock(&mu_);
  nodes_[node.name] = std::move(stored);
  current_certs_[node.name] = {{cert.fingerprint, cert.not_after}};
  revoked_certs_.erase(cert.fingerprint);  // recorded anew (the same certificate again)
  return absl::OkStatus();
}

absl::Status IdentityStore::RecordRenewal(const std::string& node, int64_t generation,
                                          const CertInfo& cert, absl::Time now) {
  // db_mu_ first, so that memory is updated in the order the database committed.
  absl::MutexLock db_lock(&db_mu_);
  PLUMB_RETURN_IF_ERROR(table_->RecordRenewal(node, generation, cert, now));
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
  absl::MutexLock db_lock(&db_mu_);
  PLUMB_ASSIGN_OR_RETURN(std::vector<std::string> fingerprints, table_->Revoke(node, now));
  absl::MutexLock lock(&mu_);
  // A node enrolled through another server and not refreshed yet gets a partial entry here
  // (revoked, no key): enough for IsRevoked; the next Refresh brings the whole row.
  NodeIdentity& stored = nodes_[node];
  stored.name = node;
  stored.revoked = now;
  current_certs_.erase(node);
  revoked_certs_.insert(fingerprints.begin(), fingerprints.end());
  return static_cast<int>(fingerprints.size());
}

absl::Status IdentityStore::RecordOperatorCert(const CertInfo& cert, absl::Time now) {
  absl::MutexLock db_lock(&db_mu_);
  return table_->RecordOperatorCert(cert, now);
}

absl::StatusOr<int> IdentityStore::RevokeOperator(const std::string& name, absl::Time now) {
  absl::MutexLock db_lock(&db_mu_);
  PLUMB_ASSIGN_OR_RETURN(std::vector<std::string> fingerprints, table_->RevokeOperator(name, now));
  absl::MutexLock lock(&mu_);
  revoked_certs_.insert(fingerprints.begin(), fingerprints.end());
  return static_cast<int>(fingerprints.size());
}

absl::StatusOr<std::vector<OperatorCert>> IdentityStore::ListOperatorCerts() {
  absl::MutexLock db_lock(&db_mu_);
  return table_->ListOperatorCerts();
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
