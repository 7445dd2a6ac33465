#pragma once

// Plumb's built-in CA under state_dir/ca: ca.key (0600) and ca.pem, the server's own
// certificate (server.pem holds the leaf and the CA, so that enrolling agents can check their
// fingerprint pin against it) and key. Issues agent certificates at enrollment and renewal,
// and operator certificates for `plumb-server ca issue-operator`.

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/grpc_credentials.h"
#include "common/pki/pki.h"

namespace plumb {

// Thread-safe: immutable after Load.
class CertificateAuthority {
 public:
  // The files of a CA directory.
  static std::string CaCertPath(const std::string& ca_dir) { return ca_dir + "/ca.pem"; }
  static std::string CaKeyPath(const std::string& ca_dir) { return ca_dir + "/ca.key"; }
  // What `tls:` defaults to when a built-in CA exists: ca.pem, server.pem, server.key.
  static TlsFiles ServerTlsFiles(const std::string& ca_dir);

  // Creates the CA (unless ca.key and ca.pem exist: then it is kept) and (re)issues the
  // server's certificate for `sans`. Returns the loaded CA.
  static absl::StatusOr<std::unique_ptr<CertificateAuthority>> Init(
      const std::string& ca_dir, const std::vector<std::string>& sans, absl::Time now);
  // NotFound if the directory holds no CA.
  static absl::StatusOr<std::unique_ptr<CertificateAuthority>> Load(const std::string& ca_dir);

  // A leaf certificate (PEM) for `public_key_pem` as `spec` says.
  absl::StatusOr<std::string> Issue(const std::string& public_key_pem, const CertSpec& spec) const;
  // Makes a key and an operator certificate for `name`; writes NAME.key (0600) and NAME.pem
  // into `out_dir`. Returns the two paths.
  absl::StatusOr<std::pair<std::string, std::string>> IssueOperator(
      const std::string& name, const std::string& out_dir, absl::Duration lifetime,
      absl::Time now) const;

  const std::string& ca_pem() const { return ca_pem_; }
  // The SHA-256 fingerprint of the CA certificate (what agents pin).
  const std::string& fingerprint() const { return fingerprint_; }

 private:
  CertificateAuthority(std::string ca_pem, std::string ca_key, std::string fingerprint)
      : ca_pem_(std::move(ca_pem)), ca_key_(std::move(ca_key)),
        fingerprint_(std::move(fingerprint)) {}

  const std::string ca_pem_;
  const std::string ca_key_;
  const std::string fingerprint_;
};

// "ab:cd:..." for people (uppercase pairs, as openssl x509 -fingerprint prints).
std::string FormatFingerprint(const std::string& hex);

}  // namespace plumb
