#pragma once

// Plumb's X.509 toolkit over OpenSSL (EVP/X509 C API): EC P-256 keys, CSRs, a self-signed CA,
// certificates for the server, agents and operators, and parsing what a peer presented. All
// values travel as PEM strings. The only place that calls OpenSSL's X509/EVP functions and
// converts OpenSSL errors to absl::Status.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace plumb {

// The role of a certificate, carried as its subject's OU.
inline constexpr char kRoleAgent[] = "agent";
inline constexpr char kRoleOperator[] = "operator";
inline constexpr char kRoleServer[] = "server";
inline constexpr char kRoleCa[] = "ca";

// What to put in a certificate. Thread-compatible value type.
struct CertSpec {
  std::string common_name;
  std::string role;  // kRole*: the subject's OU
  std::vector<std::string> sans;  // DNS names and IP addresses (server certificates)
  absl::Time not_before;
  absl::Duration lifetime = absl::Hours(24 * 365);
};

// What a certificate says, as Plumb uses it. Thread-compatible value type.
struct CertInfo {
  std::string common_name;
  std::string role;             // the OU, empty if none
  std::string serial_hex;       // lowercase hex
  std::string fingerprint;      // sha256 of the DER certificate, lowercase hex
  std::string public_key_sha256;  // sha256 of the DER SubjectPublicKeyInfo, lowercase hex
  absl::Time not_before;
  absl::Time not_after;
  bool is_ca = false;
  // Extended key usages: server certificates carry serverAuth, agent and operator certificates
  // clientAuth. False when the certificate has no extendedKeyUsage extension at all.
  bool server_auth = false;
  bool client_auth = false;
  std::vector<std::string> sans;
};

// What a certificate signing request asks for, after its self-signature checked out.
struct CsrInfo {
  std::string common_name;
  std::string public_key_pem;
  std::string public_key_sha256;
};

// A new EC P-256 private key as PKCS#8 PEM.
absl::StatusOr<std::string> GenerateKeyPem();

// A self-signed CA certificate for `key_pem` (CN = spec.common_name, OU = ca).
absl::StatusOr<std::string> MakeCaCertificate(absl::string_view key_pem, const CertSpec& spec);

// A CSR signed by `key_pem` with subject CN = `common_name`.
absl::StatusOr<std::string> MakeCsr(absl::string_view key_pem, absl::string_view common_name);

// Parses a PEM CSR and verifies its self-signature. InvalidArgument on anything malformed,
// unsigned or not an EC P-256 key.
absl::StatusOr<CsrInfo> ParseCsr(absl::string_view csr_pem);

// Issues a leaf certificate for `public_key_pem` as `spec` says, signed by the CA. The result
// is the leaf's PEM only. InvalidArgument for unusable inputs.
absl::StatusOr<std::string> IssueCertificate(absl::string_view ca_cert_pem,
                                             absl::string_view ca_key_pem,
                                             absl::string_view public_key_pem,
                                             const CertSpec& spec);

// Parses the first certificate of a PEM text.
absl::StatusOr<CertInfo> ParseCertificate(absl::string_view cert_pem);

// Splits a PEM chain into its certificates (each a PEM string), in order.
absl::StatusOr<std::vector<std::string>> SplitCertificates(absl::string_view chain_pem);

// OK if `cert_pem` is signed by `ca_cert_pem` and valid at `now`; PermissionDenied otherwise.
absl::Status VerifyIssuedBy(absl::string_view cert_pem, absl::string_view ca_cert_pem,
                            absl::Time now);

// The public key of a private key, as PEM (SubjectPublicKeyInfo).
absl::StatusOr<std::string> PublicKeyPem(absl::string_view key_pem);

// Normalises a fingerprint as users type it ("AB:CD:..", "sha256:abcd..") to 64 lowercase hex
// characters. InvalidArgument if it is not a sha256.
absl::StatusOr<std::string> NormalizeFingerprint(absl::string_view text);

// Compares two byte strings in time independent of where they differ.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b);

// `n` random bytes from OpenSSL's CSPRNG, as lowercase hex (2n characters).
absl::StatusOr<std::string> RandomHex(int n);

}  // namespace plumb
