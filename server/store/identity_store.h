#pragma once

// Enrolled nodes and the certificates issued to them, kept in an IdentityTable (the server's
// SQLite database, or PostgreSQL with store.url), with an in-memory copy so that gRPC's threads
// can check a certificate (revoked?) and look up a node's bound labels without touching the
// database. With a table other servers share, Refresh() brings in what they wrote.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/pki/pki.h"
#include "server/store/identity_table.h"

namespace plumb {

// Answers "is this certificate revoked?" without blocking. Thread-safe.
class RevocationCheck {
 public:
  virtual ~RevocationCheck() = default;
  virtual bool IsRevoked(const CertInfo& cert) const = 0;
};

// What Refresh() learned of nodes: those revoked and those (re-)enrolled by another server
// since the previous Refresh.
struct IdentityChanges {
  std::vector<std::string> revoked;
  std::vector<std::string> enrolled;
  bool operators_revoked = false;  // some operator certificate was revoked elsewhere
};

// Thread-safe. Writes go to the table under db_mu_ and then to memory; reads take only mu_,
// which is never held across the database, so gRPC's threads never wait for it.
class IdentityStore : public RevocationCheck {
 public:
  // Over SQLite: opens the database at `path` (normally plumb.db), creates its tables and
  // loads them.
  static absl::StatusOr<std::unique_ptr<IdentityStore>> Open(const std::string& path);
  // Over any table (PgIdentityTable with store.url): loads it.
  static absl::StatusOr<std::unique_ptr<IdentityStore>> Open(std::unique_ptr<IdentityTable> table);
  ~IdentityStore() override;

  // Records a (re-)enrollment: the node's key, labels and allowed label keys, and its new
  // certificate, as a new generation (node.generation is ignored). Clears a previous
  // revocation of the node; every certificate of earlier generations stays invalid, whatever
  // its key.
  absl::Status RecordEnrollment(const NodeIdentity& node, const CertInfo& cert, absl::Time now);
  // Records a certificate renewed for an enrolled node whose identity the caller read at
  // `generation`. Checked and recorded in one database transaction that revocations and
  // enrollments (of any server on the database) are serialised with, so a renewal cannot
  // outlive a revocation or re-enrollment that ran meanwhile: PermissionDenied if the node is
  // revoked or enrolled again since; NotFound if it is not enrolled.
  absl::Status RecordRenewal(const std::string& node, int64_t generation, const CertInfo& cert,
                             absl::Time now);
  // Revokes the node and every certificate issued to it; returns how many certificates.
  // NotFound if no node of that name was ever enrolled.
  absl::StatusOr<int> Revoke(const std::string& node, absl::Time now);

  // Records an operator certificate (`plumb-server ca issue-operator`, possibly while a server
  // runs on the same database: the running server learns of it when it is revoked).
  absl::Status RecordOperatorCert(const CertInfo& cert, absl::Time now);
  // Revokes every recorded certificate of operator `name` (also those issued by other
  // processes since this one loaded); returns how many were newly revoked. NotFound if no
  // certificate was ever issued to `name`.
  absl::StatusOr<int> RevokeOperator(const std::string& name, absl::Time now);
  // Every recorded operator certificate, newest first (read from the database).
  absl::StatusOr<std::vector<OperatorCert>> ListOperatorCerts();

  // Whether other servers write the same table (then poll Refresh).
  bool shared() const { return shared_; }
  // Applies what other servers wrote since the last Refresh (or Open) to memory and returns
  // which nodes that revoked or enrolled. Unavailable when the database cannot be reached
  // (memory stays as it was; the next Refresh catches up).
  absl::StatusOr<IdentityChanges> Refresh();
  // See IdentityTable::AgreeOnCa.
  absl::Status AgreeOnCa(const std::string& fingerprint);

  std::optional<NodeIdentity> Find(const std::string& node) const;
  // A certificate is revoked if it was listed as revoked (node or operator certificates), or
  // it is an agent certificate naming a node enrolled here that is revoked or that this store
  // did not record for the node's current generation (older enrollments, other keys, other
  // issuers). Agent certificates of names never enrolled here (an outside PKI) pass.
  bool IsRevoked(const CertInfo& cert) const override;

 private:
  explicit IdentityStore(std::unique_ptr<IdentityTable> table);
  // Replaces memory's view of the nodes in `rows` (and adds their revoked certificates).
  IdentityChanges Apply(const IdentityRows& rows) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex db_mu_;  // taken before mu_ when both are needed
  const std::unique_ptr<IdentityTable> table_;  // calls under db_mu_, to keep memory in order
  const bool shared_;
  int64_t seq_ ABSL_GUARDED_BY(db_mu_) = 0;  // what the last Read returned
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, NodeIdentity> nodes_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> revoked_certs_ ABSL_GUARDED_BY(mu_);  // fingerprints
  // Per enrolled, unrevoked node: fingerprint -> not_after of the certificates recorded for
  // its current generation, the only ones IsRevoked lets through.
  absl::flat_hash_map<std::string, absl::flat_hash_map<std::string, absl::Time>> current_certs_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace plumb
