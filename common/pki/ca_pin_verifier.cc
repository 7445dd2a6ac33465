#include "common/pki/ca_pin_verifier.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/pki/pki.h"

namespace plumb {

absl::Status CheckChainAgainstPin(const std::string& chain_pem, const std::string& pin) {
  auto certs = SplitCertificates(chain_pem);
  if (!certs.ok()) {
    return absl::UnauthenticatedError("the server presented no certificate chain");
  }
  for (size_t i = 1; i < certs->size(); ++i) {
    auto info = ParseCertificate((*certs)[i]);
    if (!info.ok() || !info->is_ca || !ConstantTimeEquals(info->fingerprint, pin)) continue;
    // The CA certificate is public: anyone can put it in a chain. What proves the server is
    // that its own certificate was signed by that CA.
    absl::Status verified = VerifyIssuedBy((*certs)[0], (*certs)[i], absl::Now());
    if (!verified.ok()) {
      return absl::UnauthenticatedError(
          absl::StrCat("the server's certificate is not signed by the pinned CA: ",
                       verified.message()));
    }
    return absl::OkStatus();
  }
  return absl::UnauthenticatedError(absl::StrCat(
      "the server's certificate chain has no CA with fingerprint ", pin,
      " (check --ca-fingerprint; `plumb-server ca init` prints it)"));
}

bool CaPinVerifier::Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
                           std::function<void(grpc::Status)>, grpc::Status* sync_status) {
  grpc::string_ref chain = request->peer_cert_full_chain();
  absl::Status checked = CheckChainAgainstPin(std::string(chain.data(), chain.size()), pin_);
  *sync_status = checked.ok() ? grpc::Status::OK
                              : grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                                             std::string(checked.message()));
  return true;  // answered synchronously
}

}  // namespace plumb
