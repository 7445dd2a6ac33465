#pragma once

// Who may call what, decided once per call before any handler runs (gRPC's
// AuthMetadataProcessor on the server's TLS credentials):
//   AgentService.Enroll        anyone (the join token inside is the credential)
//   AgentService.*             an agent certificate (OU=agent) that is not revoked
//   FleetService.*, reflection an operator: a certificate with OU=operator, or a bearer token
//                              listed in operator_tokens; agent certificates are refused
//   grpc.health.v1.*           anyone
// Anything else is refused. Only with TLS: --insecure serves everyone (local development).

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/pki/pki.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/security/auth_metadata_processor.h"
#include "server/store/identity_store.h"

namespace plumb {

// Thread-safe (immutable; `revocations` is thread-safe).
class CallAuthorizer : public grpc::AuthMetadataProcessor {
 public:
  // `operator_token_hashes`: sha256 hex of the accepted bearer tokens. `revocations` is not
  // owned and must outlive the gRPC server.
  CallAuthorizer(std::vector<std::string> operator_token_hashes,
                 const RevocationCheck* revocations)
      : token_hashes_(std::move(operator_token_hashes)), revocations_(revocations) {}

  bool IsBlocking() const override { return false; }
  grpc::Status Process(const InputMetadata& auth_metadata, grpc::AuthContext* context,
                       OutputMetadata* consumed_auth_metadata,
                       OutputMetadata* response_metadata) override;

  // The decision for a call to `path` with the verified client certificate `cert` (null if
  // none) and the bearer token `bearer` (empty if none). UNAUTHENTICATED when a credential is
  // missing or wrong, PERMISSION_DENIED when the credential may not call `path`.
  grpc::Status Authorize(absl::string_view path, const CertInfo* cert,
                         absl::string_view bearer) const;

 private:
  bool TokenAccepted(absl::string_view token) const;

  const std::vector<std::string> token_hashes_;
  const RevocationCheck* const revocations_;
};

// The client certificate the TLS handshake verified, if the caller presented one.
std::optional<CertInfo> PeerCertificate(const grpc::AuthContext& context);

// The operator tokens of the server config as stored hashes: "sha256:<hex>" entries are taken
// as they are, anything else is hashed. InvalidArgument for empty or too short tokens.
absl::StatusOr<std::vector<std::string>> HashOperatorTokens(const std::vector<std::string>& tokens);

}  // namespace plumb
