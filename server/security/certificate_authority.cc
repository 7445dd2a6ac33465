#include "server/security/certificate_authority.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/secure_files.h"
#include "common/status_macros.h"

namespace plumb {
namespace {

constexpr absl::Duration kCaLifetime = absl::Hours(24 * 365 * 10);
constexpr absl::Duration kServerLifetime = absl::Hours(24 * 365 * 2);

bool ValidOperatorName(const std::string& name) {
  if (name.empty() || name.size() > 64 || name[0] == '.' || name[0] == '-') return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '-' && c != '_' && c != '.' && c != '@') return false;
  }
  return true;
}

}  // namespace

std::string FormatFingerprint(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    if (i > 0) out.push_back(':');
    out.append(absl::AsciiStrToUpper(hex.substr(i, 2)));
  }
  return out;
}

TlsFiles CertificateAuthority::ServerTlsFiles(const std::string& ca_dir) {
  return {CaCertPath(ca_dir), ca_dir + "/server.pem", ca_dir + "/server.key"};
}

absl::StatusOr<std::unique_ptr<CertificateAuthority>> CertificateAuthority::Init(
    const std::string& ca_dir, const std::vector<std::string>& sans, absl::Time now) {
  PLUMB_RETURN_IF_ERROR(MakeDirectories(ca_dir, 0700));
  if (!FileExists(CaKeyPath(ca_dir)) || !FileExists(CaCertPath(ca_dir))) {
    PLUMB_ASSIGN_OR_RETURN(std::string key, GenerateKeyPem());
    CertSpec spec;
    PLUMB_ASSIGN_OR_RETURN(std::string suffix, RandomHex(4));
    spec.common_name = absl::StrCat("Plumb CA ", suffix);
    spec.not_before = now - absl::Minutes(5);
    spec.lifetime = kCaLifetime;
    PLUMB_ASSIGN_OR_RETURN(std::string cert, MakeCaCertificate(key, spec));
    // Key first: a CA certificate without its key would be useless.
    PLUMB_RETURN_IF_ERROR(WriteFileAtomically(CaKeyPath(ca_dir), key, 0600));
    PLUMB_RETURN_IF_ERROR(WriteFileAtomically(CaCertPath(ca_dir), cert, 0644));
  }
  PLUMB_ASSIGN_OR_RETURN(std::unique_ptr<CertificateAuthority> ca, Load(ca_dir));
  TlsFiles files = ServerTlsFiles(ca_dir);
  PLUMB_ASSIGN_OR_RETURN(std::string key, GenerateKeyPem());
  PLUMB_ASSIGN_OR_RETURN(std::string pub, PublicKeyPem(key));
  CertSpec spec;
  spec.common_name = "plumb-server";
  spec.role = kRoleServer;
  spec.sans = sans;
  spec.not_before = now - absl::Minutes(5);
  spec.lifetime = kServerLifetime;
  PLUMB_ASSIGN_OR_RETURN(std::string leaf, ca->Issue(pub, spec));
  PLUMB_RETURN_IF_ERROR(WriteFileAtomically(files.key, key, 0600));
  PLUMB_RETURN_IF_ERROR(WriteFileAtomically(files.cert, leaf + ca->ca_pem(), 0644));
  return ca;
}

absl::StatusOr<std::unique_ptr<CertificateAuthority>> CertificateAuthority::Load(
    const std::string& ca_dir) {
  auto cert = ReadSmallFile(CaCertPath(ca_dir));
  auto key = ReadSmallFile(CaKeyPath(ca_dir));
  if (absl::IsNotFound(cert.status()) || absl::IsNotFound(key.status())) {
    return absl::NotFoundError(absl::StrCat("no built-in CA in ", ca_dir,
                                            " (run `plumb-server ca init`)"));
  }
  PLUMB_RETURN_IF_ERROR(cert.status());
  PLUMB_RETURN_IF_ERROR(key.status());
  PLUMB_ASSIGN_OR_RETURN(CertInfo info, ParseCertificate(*cert));
  if (!info.is_ca) {
    return absl::InvalidArgumentError(absl::StrCat(CaCertPath(ca_dir), " is not a CA certificate"));
  }
  return std::unique_ptr<CertificateAuthority>(
      new CertificateAuthority(*cert, *key, info.fingerprint));
}

absl::StatusOr<std::string> CertificateAuthority::Issue(const std::string& public_key_pem,
                                                        const CertSpec& spec) const {
  return IssueCertificate(ca_pem_, ca_key_, public_key_pem, spec);
}

absl::StatusOr<std::pair<std::string, std::string>> CertificateAuthority::IssueOperator(
    const std::string& name, const std::string& out_dir, absl::Duration lifetime,
    absl::Time now) const {
  if (!ValidOperatorName(name)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "operator name \"", name, "\" must be 1-64 letters, digits, '.', '-', '_' or '@'"));
  }
  PLUMB_RETURN_IF_ERROR(MakeDirectories(out_dir, 0700));
  PLUMB_ASSIGN_OR_RETURN(std::string key, GenerateKeyPem());
  PLUMB_ASSIGN_OR_RETURN(std::string pub, PublicKeyPem(key));
  CertSpec spec;
  spec.common_name = name;
  spec.role = kRoleOperator;
  spec.not_before = now - absl::Minutes(5);
  spec.lifetime = lifetime;
  PLUMB_ASSIGN_OR_RETURN(std::string cert, Issue(pub, spec));
  std::string key_path = absl::StrCat(out_dir, "/", name, ".key");
  std::string cert_path = absl::StrCat(out_dir, "/", name, ".pem");
  PLUMB_RETURN_IF_ERROR(WriteFileAtomically(key_path, key, 0600));
  PLUMB_RETURN_IF_ERROR(WriteFileAtomically(cert_path, cert, 0644));
  return std::make_pair(cert_path, key_path);
}

}  // namespace plumb
