#pragma once

// Where enrolled identities are kept: the rows behind IdentityStore (which keeps the in-memory
// copy gRPC's threads read). SQLite (server/store/sqlite/, plumb.db) by default; PostgreSQL
// (server/store/postgres/) with store.url, so that every replica on the database shares the
// enrolled nodes, their certificates and the revocations (issue 16).

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/pki/pki.h"

namespace plumb {

// An enrolled node as the server remembers it.
struct NodeIdentity {
  std::string name;
  std::string public_key_sha256;
  std::map<std::string, std::string> labels;  // bound at enrollment
  std::set<std::string> allowed_label_keys;   // keys its Hello may add ("*": any)
  // Counts the node's enrollments (set by RecordEnrollment): only certificates recorded for
  // the current generation are valid.
  int64_t generation = 0;
  absl::Time revoked = absl::InfinitePast();  // InfinitePast: not revoked
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

// A certificate recorded for an enrolled node.
struct NodeCertRow {
  std::string node;
  std::string fingerprint;
  absl::Time not_after;
  int64_t generation = 0;
  bool revoked = false;
};

// What IdentityTable::Read returns: every row (since 0), or what changed since a previous Read.
struct IdentityRows {
  int64_t seq = 0;                  // pass to the next Read
  std::vector<NodeIdentity> nodes;  // whole rows: each replaces what memory held for the node
  std::vector<NodeCertRow> certs;   // every certificate of each node in `nodes`
  std::vector<std::string> revoked_operator_certs;  // fingerprints
};

// What RecordEnrollment returns for a name enrolled, unrevoked, with another key.
absl::Status NameTakenError(const std::string& node);

// The labels column: bound labels and allowed label keys as one v1.LabelSet.
std::string EncodeIdentityLabels(const NodeIdentity& node);
void DecodeIdentityLabels(const std::string& blob, NodeIdentity* node);

// Thread-safe in every implementation. Each write checks and writes in one database
// transaction, so that concurrent writers (other threads, other processes, other replicas)
// cannot interleave between the check and the write.
class IdentityTable {
 public:
  virtual ~IdentityTable() = default;

  // Every row when `since` is 0; else the nodes (with all their certificates) and revoked
  // operator certificates written since the Read that returned `since` as its seq. A table
  // that no other process writes (shared() false) returns nothing new for since > 0.
  virtual absl::StatusOr<IdentityRows> Read(int64_t since) = 0;
  // Whether other servers write the same rows (PostgreSQL): IdentityStore then polls Read.
  virtual bool shared() const = 0;

  // Records a (re-)enrollment as the node's next generation, clearing its revocation;
  // returns that generation (node.generation and node.revoked are ignored). AlreadyExists
  // (NameTakenError) if the node is enrolled, unrevoked, with another key: checked in the
  // write's transaction, so also against an enrollment through another server.
  virtual absl::StatusOr<int64_t> RecordEnrollment(const NodeIdentity& node, const CertInfo& cert,
                                                   absl::Time now) = 0;
  // Records a renewed certificate if the node is enrolled, unrevoked and still at
  // `generation` (checked in the same transaction). NotFound / PermissionDenied otherwise.
  virtual absl::Status RecordRenewal(const std::string& node, int64_t generation,
                                     const CertInfo& cert, absl::Time now) = 0;
  // Revokes the node and all its certificates; returns their fingerprints. NotFound if the
  // node was never enrolled.
  virtual absl::StatusOr<std::vector<std::string>> Revoke(const std::string& node,
                                                          absl::Time now) = 0;

  virtual absl::Status RecordOperatorCert(const CertInfo& cert, absl::Time now) = 0;
  // Revokes the operator's unrevoked certificates; returns their fingerprints. NotFound if no
  // certificate was ever recorded for `name`.
  virtual absl::StatusOr<std::vector<std::string>> RevokeOperator(const std::string& name,
                                                                  absl::Time now) = 0;
  // Newest first.
  virtual absl::StatusOr<std::vector<OperatorCert>> ListOperatorCerts() = 0;

  // Replicas must issue from one CA: records `fingerprint` (sha256 hex of the built-in CA's
  // certificate) if no CA is recorded yet, and returns FailedPrecondition naming both if a
  // different one is. A table no other server shares accepts any.
  virtual absl::Status AgreeOnCa(const std::string& fingerprint) = 0;
};

}  // namespace plumb
