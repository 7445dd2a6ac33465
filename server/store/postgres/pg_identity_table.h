#pragma once

// Enrolled identities in PostgreSQL (enrolled_nodes, node_certs, operator_certs, identity_seq
// and plumb_ca, created by the store's migrations), shared by every replica on the database:
// a node enrolled through one is known to all, and a revocation through any holds on all.

#include <functional>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "server/store/identity_table.h"

namespace plumb {

class PgConn;

// Thread-safe: one connection of its own under the table's mutex. Every write first bumps
// identity_seq's one row and holds its lock until commit, so identity writes from all replicas
// are serialised (a renewal's generation check cannot interleave with a revocation elsewhere)
// and sequence numbers are visible in commit order (Read never skips one).
class PgIdentityTable : public IdentityTable {
 public:
  // Connects as PgStore::Open does and migrates the schema (idempotent).
  static absl::StatusOr<std::unique_ptr<PgIdentityTable>> Open(const std::string& url,
                                                               const std::string& password);
  ~PgIdentityTable() override;

  absl::StatusOr<IdentityRows> Read(int64_t since) override;
  bool shared() const override { return true; }
  absl::StatusOr<int64_t> RecordEnrollment(const NodeIdentity& node, const CertInfo& cert,
                                           absl::Time now) override;
  absl::Status RecordRenewal(const std::string& node, int64_t generation, const CertInfo& cert,
                             absl::Time now) override;
  absl::StatusOr<std::vector<std::string>> Revoke(const std::string& node,
                                                  absl::Time now) override;
  absl::Status RecordOperatorCert(const CertInfo& cert, absl::Time now) override;
  absl::StatusOr<std::vector<std::string>> RevokeOperator(const std::string& name,
                                                          absl::Time now) override;
  absl::StatusOr<std::vector<OperatorCert>> ListOperatorCerts() override;
  absl::Status AgreeOnCa(const std::string& fingerprint) override;

 private:
  explicit PgIdentityTable(std::unique_ptr<PgConn> conn);
  // Runs fn in a transaction that first takes identity_seq's row lock; fn gets the new seq.
  absl::Status InWrite(const std::function<absl::Status(int64_t seq)>& fn)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status InsertCert(const std::string& node, int64_t generation, const CertInfo& cert,
                          absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status ReadChanges(int64_t since, IdentityRows* rows) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::unique_ptr<PgConn> conn_ ABSL_GUARDED_BY(mu_);
};

}  // namespace plumb
