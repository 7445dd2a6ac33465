#pragma once

// Trust on first contact, by pin: an agent enrolling with `--ca-fingerprint SHA256` has no CA
// file yet, so it accepts the server when the chain the server presents contains a CA
// certificate with that SHA-256 fingerprint and the server's leaf certificate verifies against
// that CA. Plugged into gRPC as a custom certificate verifier (grpc_credentials.cc).

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "grpcpp/security/tls_certificate_verifier.h"

namespace plumb {

// OK if `chain_pem` (leaf first) holds a CA whose certificate fingerprint is `pin` (lowercase
// hex), the leaf verifies against it at `now`, and the leaf is a server certificate (role
// server, extended key usage serverAuth): an agent's or operator's certificate from the same CA
// does not pass. Unauthenticated naming what did not match.
absl::Status CheckChainAgainstPin(const std::string& chain_pem, const std::string& pin,
                                  absl::Time now);

// The gRPC verifier around CheckChainAgainstPin. Thread-safe (immutable).
class CaPinVerifier : public grpc::experimental::ExternalCertificateVerifier {
 public:
  explicit CaPinVerifier(std::string pin) : pin_(std::move(pin)) {}

  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)> callback, grpc::Status* sync_status) override;
  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest*) override {}

 private:
  const std::string pin_;
};

}  // namespace plumb
