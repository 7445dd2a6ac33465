#pragma once

// Internals of common/pki/pki.cc and common/pki/pki_inspect.cc: owning handles for OpenSSL objects,
// PEM <-> object conversion, and the one conversion of OpenSSL's error queue to absl::Status.
// Not for use outside the PKI wrapper.

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace plumb {
namespace pki_internal {

// Deleters so that std::unique_ptr owns OpenSSL objects.
struct BioFree { void operator()(BIO* p) const { BIO_free_all(p); } };
struct PkeyFree { void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); } };
struct X509Free { void operator()(X509* p) const { X509_free(p); } };
struct ReqFree { void operator()(X509_REQ* p) const { X509_REQ_free(p); } };

using BioPtr = std::unique_ptr<BIO, BioFree>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using ReqPtr = std::unique_ptr<X509_REQ, ReqFree>;

// The OpenSSL error queue (emptied) appended to `what`, as `code`.
absl::Status OpenSslError(absl::StatusCode code, absl::string_view what);

// A read-only memory BIO over `pem` (which must outlive it).
BioPtr ReadBio(absl::string_view pem);
// The contents of a memory BIO.
std::string BioString(BIO* bio);

absl::StatusOr<PkeyPtr> ReadPrivateKey(absl::string_view pem);
absl::StatusOr<PkeyPtr> ReadPublicKey(absl::string_view pem);
absl::StatusOr<X509Ptr> ReadCertificate(absl::string_view pem);
absl::StatusOr<std::string> CertificatePem(X509* cert);
absl::StatusOr<std::string> PublicKeyPemOf(EVP_PKEY* key);
// sha256 (hex) of the DER SubjectPublicKeyInfo.
absl::StatusOr<std::string> PublicKeySha256(EVP_PKEY* key);
// InvalidArgument unless `key` is an EC key on P-256.
absl::Status CheckP256(EVP_PKEY* key, absl::string_view what);

}  // namespace pki_internal
}  // namespace plumb
