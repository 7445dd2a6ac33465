#pragma once

// Enrolled identities in the server's SQLite database (the enrolled_nodes, node_certs and
// operator_certs tables of plumb.db): the default, one server per file.

#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "server/store/identity_table.h"

namespace plumb {

class SqliteDb;

// Thread-safe: every method takes the table's mutex (its own SQLite connection). Writes are
// BEGIN IMMEDIATE transactions, so `ca issue-operator` in another process cannot interleave.
class SqliteIdentityTable : public IdentityTable {
 public:
  // Opens the database at `path`, creates the tables and adds columns older files lack.
  static absl::StatusOr<std::unique_ptr<SqliteIdentityTable>> Open(const std::string& path);
  ~SqliteIdentityTable() override;

  absl::StatusOr<IdentityRows> Read(int64_t since) override;
  bool shared() const override { return false; }
  absl::StatusOr<int64_t> RecordEnrollment(const NodeIdentity& node, const CertInfo& cert,
                                           absl::Time now) override;
  absl::Status RecordRenewal(const std::string& node, int64_t generation, const CertInfo& cert,
                             absl::Time now) override;
  absl::StatusOr<std::vector<std::string>> Revoke(const std::string& node, absl::Time now) override;
  absl::Status RecordOperatorCert(const CertInfo& cert, absl::Time now) override;
  absl::StatusOr<std::vector<std::string>> RevokeOperator(const std::string& name,
                                                          absl::Time now) override;
  absl::StatusOr<std::vector<OperatorCert>> ListOperatorCerts() override;
  absl::Status AgreeOnCa(const std::string&) override { return absl::OkStatus(); }

 private:
  explicit SqliteIdentityTable(std::unique_ptr<SqliteDb> db);
  absl::Status InsertCert(const std::string& node, int64_t generation, const CertInfo& cert,
                          absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // An enrolled_nodes row, as the writes check it.
  struct StoredNode {
    int64_t generation = 0;
    int64_t revoked_ms = 0;
    std::string public_key_sha256;
  };
  // NotFound if the node was never enrolled.
  absl::StatusOr<StoredNode> NodeState(const std::string& node) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::unique_ptr<SqliteDb> db_ ABSL_GUARDED_BY(mu_);
};

}  // namespace plumb
