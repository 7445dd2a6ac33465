#pragma once

// AgentService.Enroll and Renew, minus gRPC: checks a join token and a CSR, issues the node's
// certificate from the built-in CA (CN = node name, OU = agent) and records the node's key,
// labels and certificate. Renewal re-issues for the same key, authenticated by the current
// certificate (CallAuthorizer has checked it is an unrevoked agent certificate).

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/pki/pki.h"
#include "plumb/v1/agent.pb.h"
#include "server/security/certificate_authority.h"
#include "server/store/identity_store.h"
#include "server/store/token_store.h"

namespace plumb {

// Thread-safe: one enrollment or renewal at a time (they are rare).
class Enrollment {
 public:
  // Nothing owned; all must outlive this. `ca` may be null (tls: points at an outside PKI):
  // then every call fails with FailedPrecondition. `on_enrolled` runs after a node enrolled.
  Enrollment(const CertificateAuthority* ca, TokenStore* tokens, IdentityStore* identities,
             Clock* clock, absl::Duration cert_lifetime,
             std::function<void(const std::string& node)> on_enrolled = nullptr);

  // PermissionDenied for token problems (unknown, expired, used up, name outside the glob);
  // AlreadyExists when the name is enrolled with another key; InvalidArgument for a bad name
  // or CSR. Every message is meant for the person running `plumb-agent enroll`.
  absl::StatusOr<v1::EnrollResponse> Enroll(const v1::EnrollRequest& request);
  // `current` is the caller's verified certificate.
  absl::StatusOr<v1::EnrollResponse> Renew(const CertInfo& current, const v1::RenewRequest& request);

  absl::Duration cert_lifetime() const { return cert_lifetime_; }

 private:
  absl::StatusOr<v1::EnrollResponse> IssueFor(const NodeIdentity& node, const CsrInfo& csr,
                                              CertInfo* issued);

  const CertificateAuthority* const ca_;
  TokenStore* const tokens_;
  IdentityStore* const identities_;
  Clock* const clock_;
  const absl::Duration cert_lifetime_;
  const std::function<void(const std::string&)> on_enrolled_;
  absl::Mutex mu_;  // serialises enrollments: check-then-record must not interleave
};

// InvalidArgument unless `name` is a usable node name: 1-64 of [A-Za-z0-9._-], not starting
// with '.' or '-'.
absl::Status CheckNodeName(const std::string& name);

}  // namespace plumb
