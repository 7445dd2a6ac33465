#include "server/security/enrollment.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace plumb {

absl::Status CheckNodeName(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 64 && name[0] != '.' && name[0] != '-';
  for (char c : name) ok = ok && (absl::ascii_isalnum(c) || c == '.' || c == '-' || c == '_');
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "node name \"", name.substr(0, 80),
      "\" must be 1-64 letters, digits, '.', '-' or '_', not starting with '.' or '-'"));
}

Enrollment::Enrollment(const CertificateAuthority* ca, TokenStore* tokens,
                       IdentityStore* identities, Clock* clock, absl::Duration cert_lifetime,
                       std::function<void(const std::string&)> on_enrolled)
    : ca_(ca), tokens_(tokens), identities_(identities), clock_(clock),
      cert_lifetime_(cert_lifetime), on_enrolled_(std::move(on_enrolled)) {}

absl::StatusOr<v1::EnrollResponse> Enrollment::IssueFor(const NodeIdentity& node,
                                                        const CsrInfo& csr, CertInfo* issued) {
  CertSpec spec;
  spec.common_name = node.name;
  spec.role = kRoleAgent;
  // A little slack for clocks that run behind the server's.
  absl::Duration slack = std::min(absl::Minutes(5), cert_lifetime_ / 10);
  spec.not_before = clock_->Now() - slack;
  spec.lifetime = cert_lifetime_ + slack;
  PLUMB_ASSIGN_OR_RETURN(std::string cert, ca_->Issue(csr.public_key_pem, spec));
  PLUMB_ASSIGN_OR_RETURN(*issued, ParseCertificate(cert));
  v1::EnrollResponse response;
  response.set_cert_pem(cert);
  response.set_ca_pem(ca_->ca_pem());
  response.mutable_labels()->insert(node.labels.begin(), node.labels.end());
  for (const std::string& key : node.allowed_label_keys) response.add_allowed_label_keys(key);
  response.set_not_after_unix_ms(absl::ToUnixMillis(issued->not_after));
  return response;
}

absl::StatusOr<v1::EnrollResponse> Enrollment::Enroll(const v1::EnrollRequest& request) {
  if (ca_ == nullptr) {
    return absl::FailedPreconditionError(
        "this server has no built-in CA (its tls: files come from another PKI): issue the "
        "node's certificate with that PKI, or run `plumb-server ca init`");
  }
  PLUMB_RETURN_IF_ERROR(CheckNodeName(request.node()));
  auto csr = ParseCsr(request.csr_pem());
  if (!csr.ok()) return absl::InvalidArgumentError(absl::StrCat("bad CSR: ", csr.status().message()));
  if (csr->common_name != request.node()) {
    return absl::InvalidArgumentError(absl::StrCat("the CSR is for \"", csr->common_name,
                                                   "\", not for node \"", request.node(), "\""));
  }
  absl::MutexLock lock(&mu_);
  PLUMB_ASSIGN_OR_RETURN(TokenGrant grant,
                         tokens_->Redeem(request.token(), request.node(), false));
  std::optional<NodeIdentity> existing = identities_->Find(request.node());
  if (existing && !existing->is_revoked() &&
      existing->public_key_sha256 != csr->public_key_sha256) {
    return absl::AlreadyExistsError(absl::StrCat(
        "node \"", request.node(), "\" is already enrolled with another key; revoke it first "
        "(plumbctl node revoke ", request.node(), ") or enroll under another name"));
  }
  NodeIdentity identity{request.node(), csr->public_key_sha256, grant.labels,
                        grant.allowed_label_keys};
  CertInfo issued;
  PLUMB_ASSIGN_OR_RETURN(v1::EnrollResponse response, IssueFor(identity, *csr, &issued));
  PLUMB_RETURN_IF_ERROR(tokens_->Redeem(request.token(), request.node(), true).status());
  PLUMB_RETURN_IF_ERROR(identities_->RecordEnrollment(identity, issued, clock_->Now()));
  LogInfo("node enrolled", {{"node", request.node()}, {"serial", issued.serial_hex},
                            {"not_after", absl::FormatTime(issued.not_after)}});
  if (on_enrolled_) on_enrolled_(request.node());
  return response;
}

absl::StatusOr<v1::EnrollResponse> Enrollment::Renew(const CertInfo& current,
                                                     const v1::RenewRequest& request) {
  if (ca_ == nullptr) {
    return absl::FailedPreconditionError(
        "this server has no built-in CA: renew the certificate with the PKI that issued it");
  }
  auto csr = ParseCsr(request.csr_pem());
  if (!csr.ok()) return absl::InvalidArgumentError(absl::StrCat("bad CSR: ", csr.status().message()));
  absl::MutexLock lock(&mu_);
  std::optional<NodeIdentity> identity = identities_->Find(current.common_name);
  if (!identity || identity->is_revoked()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "node \"", current.common_name, "\" is not enrolled here (or was revoked)"));
  }
  if (csr->public_key_sha256 != identity->public_key_sha256 ||
      current.public_key_sha256 != identity->public_key_sha256) {
    return absl::PermissionDeniedError(
        "a renewal keeps the node's key; to change keys, revoke the node and enroll again");
  }
  CertInfo issued;
  PLUMB_ASSIGN_OR_RETURN(v1::EnrollResponse response, IssueFor(*identity, *csr, &issued));
  // Revocations do not take mu_: RecordRenewal re-checks the identity and records the new
  // certificate in one step, so a revocation that ran since the check above wins.
  absl::Status recorded =
      identities_->RecordRenewal(identity->name, identity->generation, issued, clock_->Now());
  if (!recorded.ok()) {
    LogWarning("renewal refused", {{"node", identity->name}, {"reason", recorded.message()}});
    return recorded;
  }
  LogInfo("certificate renewed", {{"node", identity->name}, {"serial", issued.serial_hex},
                                  {"not_after", absl::FormatTime(issued.not_after)}});
  return response;
}

}  // namespace plumb
