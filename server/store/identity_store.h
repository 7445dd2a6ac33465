#pragma once

// Enrolled nodes and the certificates issued to them, in the server's SQLite database, with an
// in-memory copy so that gRPC's threads can check a certificate (revoked?) and look up a
// node's bound labels without touching SQLite.

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/pki/pki.h"

namespace plumb {

class SqliteDb;

// An enrolled node as the server remembers it.
struct NodeIdentity {
  std::string name;
  std::string public_key_sha256;
  std::map<std::string, std::string> labels;  // bound at enrollment
  std::set<std::string> allowed_label_keys;   // keys its Hello may add ("*": any)
  // Counts the node's enrollments (set by RecordEnrollment): only certificates recorded for
  // the current generation are valid.
  int64_t generation = 0;
  absl::Time revoked = absl::InfinitePast();   // InfinitePast: not revoked
  bool is_revoked() const { return revoked != absl::InfinitePast(); }
};

// An operator certificate as the server remembers it (issued by `ca issue-operator`).
struct OperatorCert {
  std::string name;
  std::string serial_hex;
  std::string fingerprint;
  absl::Time issued;
  absl::Time not_after;
  absl::Time revoked = absl::InfinitePast();  // InfinitePast: not revoked
  bool is_revoked() const { return revoked != absl::InfinitePast(); }
};

// Answers "is this certificate revoked?" without blocking. Thread-safe.
class RevocationCheck {
 public:
  virtual ~RevocationCheck() = default;
  virtual bool IsRevoked(const CertInfo& cert) const = 0;
};

// Thread-safe. Writes go to SQLite under db_mu_ and then to memory; reads take only mu_,
// which is never held across SQLite, so gRPC's threads never wait for the database.
class IdentityStore : public RevocationCheck {
 public:
  // Opens the database at `path` (normally plumb.db), creates its tables and loads them.
  static absl::StatusOr<std::unique_ptr<IdentityStore>> Open(const std::string& path);
  ~IdentityStore() override;

  // Records a (re-)enrollment: the node's key, labels and allowed label keys, and its new
  // certificate, as a new generation (node.generation is ignored). Clears a previous
  // revocation of the node; every certificate of earlier generations stays invalid, whatever
  // its key.
  absl::Status RecordEnrollment(const NodeIdentity& node, const CertInfo& cert, absl::Time now);
  // Records a certificate renewed for an enrolled node whose identity the caller read at
  // `generation`. Checked and recorded under the lock revocations take, so a renewal cannot
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

  std::optional<NodeIdentity> Find(const std::string& node) const;
  // A certificate is revoked if it was listed as revoked (node or operator certificates), or
  // it is an agent certificate naming a node enrolled here that is revoked or that this store
  // did not record for the node's current generation (older enrollments, other keys, other
  // issuers). Agent certificates of names never enrolled here (an outside PKI) pass.
  bool IsRevoked(const CertInfo& cert) const override;

 private:
  explicit IdentityStore(std::unique_ptr<SqliteDb> db);
  absl::Status Load();
  absl::Status LoadCurrentCerts() ABSL_EXCLUSIVE_LOCKS_REQUIRED(db_mu_, mu_);
  absl::Status InsertCert(const std::string& node, int64_t generation, const CertInfo& cert,
                          absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(db_mu_);
  bool Enrolled(const std::string& node) const;

  absl::Mutex db_mu_;  // taken before mu_ when both are needed
  std::unique_ptr<SqliteDb> db_ ABSL_GUARDED_BY(db_mu_);
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, NodeIdentity> nodes_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> revoked_certs_ ABSL_GUARDED_BY(mu_);  // fingerprints
  // Per enrolled, unrevoked node: fingerprint -> not_after of the certificates recorded for
  // its current generation, the only ones IsRevoked lets through.
  absl::flat_hash_map<std::string, absl::flat_hash_map<std::string, absl::Time>> current_certs_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace plumb
