#include "common/pki/ca_pin_verifier.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/pki/pki.h"

namespace plumb {

namespace {

// The pinned CA also signs every agent's and operator's certificate: a host holding one of
// those (with its key) could otherwise pose as the server to an enrolling agent. Only a
// certificate with the server role and the serverAuth usage proves the server.
absl::Status CheckServerCertificate(const std::string& leaf_pem) {
  auto leaf = ParseCertificate(leaf_pem);
  if (!leaf.ok()) {
    return absl::UnauthenticatedError(
        absl::StrCat("the server's certificate cannot be read: ", leaf.status().message()));
  }
  if (leaf->role != kRoleServer || !leaf->server_auth) {
    return absl::UnauthenticatedError(absl::StrCat(
        "the peer presented a certificate of the pinned CA that is not a server certificate "
        "(role \"", leaf->role, "\", CN \"", leaf->common_name, "\"",
        leaf->server_auth ? "" : ", no serverAuth usage",
        "): it may be another agent or an operator, not the Plumb server"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckChainAgainstPin(const std::string& chain_pem, const std::string& pin,
                                  absl::Time now) {
  auto certs = SplitCertificates(chain_pem);
  if (!certs.ok()) {
    return absl::UnauthenticatedError("the server presented no certificate chain");
  }
  for (size_t i = 1; i < certs->size(); ++i) {
    auto info = ParseCertificate((*certs)[i]);
    if (!info.ok() || !info->is_ca || !ConstantTimeEquals(info->fingerprint, pin)) continue;
    // The CA certificate is public: anyone can put it in a chain. What proves the server is
    // that its own certificate was signed by that CA.
    absl::Status verified = VerifyIssuedBy((*certs)[0], (*certs)[i], now);
    if (!verified.ok()) {
      return absl::UnauthenticatedError(
          absl::StrCat("the server's certificate is not signed by the pinned CA: ",
                       verified.message()));
    }
    return CheckServerCertificate((*certs)[0]);
  }
  return absl::UnauthenticatedError(absl::StrCat(
      "the server's certificate chain has no CA with fingerprint ", pin,
      " (check --ca-fingerprint; `plumb-server ca init` prints it)"));
}

bool CaPinVerifier::Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
                           std::function<void(grpc::Status)>, grpc::Status* sync_status) {
  grpc::string_ref chain = request->peer_cert_full_chain();
  absl::Status checked =
      CheckChainAgainstPin(std::string(chain.data(), chain.size()), pin_, absl::Now());
  *sync_status = checked.ok() ? grpc::Status::OK
                              : grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                                             std::string(checked.message()));
  return true;  // answered synchronously
}

}  // namespace plumb
