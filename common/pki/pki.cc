// Keys, CSRs and certificate issuance. Parsing and verification are in pki_inspect.cc.

#include "common/pki/pki.h"

#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/digest.h"
#include "common/pki/pki_internal.h"
#include "common/status_macros.h"

namespace plumb {

using pki_internal::BioPtr;
using pki_internal::OpenSslError;
using pki_internal::PkeyPtr;
using pki_internal::ReqPtr;
using pki_internal::X509Ptr;

namespace pki_internal {

absl::Status OpenSslError(absl::StatusCode code, absl::string_view what) {
  std::string detail;
  unsigned long err;
  while ((err = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(err, buf, sizeof(buf));
    if (detail.empty()) detail = buf;
  }
  if (detail.empty()) return absl::Status(code, what);
  return absl::Status(code, absl::StrCat(what, " (", detail, ")"));
}

BioPtr ReadBio(absl::string_view pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

std::string BioString(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, n) : std::string();
}

absl::StatusOr<PkeyPtr> ReadPrivateKey(absl::string_view pem) {
  BioPtr bio = ReadBio(pem);
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) return OpenSslError(absl::StatusCode::kInvalidArgument, "not a PEM private key");
  return key;
}

absl::StatusOr<PkeyPtr> ReadPublicKey(absl::string_view pem) {
  BioPtr bio = ReadBio(pem);
  PkeyPtr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) return OpenSslError(absl::StatusCode::kInvalidArgument, "not a PEM public key");
  return key;
}

absl::StatusOr<X509Ptr> ReadCertificate(absl::string_view pem) {
  BioPtr bio = ReadBio(pem);
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) return OpenSslError(absl::StatusCode::kInvalidArgument, "not a PEM certificate");
  return cert;
}

absl::StatusOr<std::string> CertificatePem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509(bio.get(), cert) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot encode certificate");
  }
  return BioString(bio.get());
}

absl::StatusOr<std::string> PublicKeyPemOf(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PUBKEY(bio.get(), key) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot encode public key");
  }
  return BioString(bio.get());
}

absl::StatusOr<std::string> PublicKeySha256(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  int n = i2d_PUBKEY(key, &der);
  if (n <= 0) return OpenSslError(absl::StatusCode::kInternal, "cannot encode public key");
  std::string hex = Sha256Hex(absl::string_view(reinterpret_cast<char*>(der), n));
  OPENSSL_free(der);
  return hex;
}

absl::Status CheckP256(EVP_PKEY* key, absl::string_view what) {
  char group[64] = {0};
  size_t len = 0;
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC ||
      EVP_PKEY_get_group_name(key, group, sizeof(group), &len) != 1 ||
      std::string(group) != "prime256v1") {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(what, " must be an EC P-256 key"));
  }
  return absl::OkStatus();
}

}  // namespace pki_internal

namespace {

// Sets O=Plumb, OU=role, CN=common_name.
absl::Status SetName(X509_NAME* name, const std::string& cn, const std::string& role) {
  auto add = [&](const char* field, const std::string& value) {
    return X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                      reinterpret_cast<const unsigned char*>(value.c_str()), -1,
                                      -1, 0) == 1;
  };
  if (cn.empty() || cn.size() > 64) {
    return absl::InvalidArgumentError("common name must be 1 to 64 characters");
  }
  if (!add("O", "Plumb") || (!role.empty() && !add("OU", role)) || !add("CN", cn)) {
    return OpenSslError(absl::StatusCode::kInvalidArgument, absl::StrCat("bad name \"", cn, "\""));
  }
  return absl::OkStatus();
}

absl::Status AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) {
    return OpenSslError(absl::StatusCode::kInvalidArgument,
                        absl::StrCat("bad certificate extension ", OBJ_nid2sn(nid), "=", value));
  }
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (ok != 1) return OpenSslError(absl::StatusCode::kInternal, "cannot add extension");
  return absl::OkStatus();
}

// "DNS:localhost,IP:127.0.0.1" from plain names and addresses.
std::string SanValue(const std::vector<std::string>& sans) {
  std::vector<std::string> parts;
  for (const std::string& san : sans) {
    unsigned char buf[16];
    bool ip = inet_pton(AF_INET, san.c_str(), buf) == 1 || inet_pton(AF_INET6, san.c_str(), buf) == 1;
    parts.push_back(absl::StrCat(ip ? "IP:" : "DNS:", san));
  }
  return absl::StrJoin(parts, ",");
}

// A certificate with version, random serial, validity, subject and key; unsigned.
absl::StatusOr<X509Ptr> NewCertificate(const CertSpec& spec, EVP_PKEY* key) {
  if (spec.lifetime <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("certificate lifetime must be positive");
  }
  X509Ptr cert(X509_new());
  std::unique_ptr<BIGNUM, decltype(&BN_free)> serial(BN_new(), BN_free);
  if (cert == nullptr || serial == nullptr || X509_set_version(cert.get(), 2) != 1 ||
      BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot create certificate");
  }
  time_t from = absl::ToTimeT(spec.not_before);
  time_t to = absl::ToTimeT(spec.not_before + spec.lifetime);
  if (ASN1_TIME_set(X509_getm_notBefore(cert.get()), from) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()), to) == nullptr ||
      X509_set_pubkey(cert.get(), key) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot set certificate validity or key");
  }
  PLUMB_RETURN_IF_ERROR(SetName(X509_get_subject_name(cert.get()), spec.common_name, spec.role));
  return cert;
}

absl::StatusOr<std::string> SignAndEncode(X509* cert, EVP_PKEY* signer) {
  if (X509_sign(cert, signer, EVP_sha256()) <= 0) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot sign certificate");
  }
  return pki_internal::CertificatePem(cert);
}

}  // namespace

absl::StatusOr<std::string> GenerateKeyPem() {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (key == nullptr) return OpenSslError(absl::StatusCode::kInternal, "cannot generate EC key");
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot encode EC key");
  }
  return pki_internal::BioString(bio.get());
}

absl::StatusOr<std::string> PublicKeyPem(absl::string_view key_pem) {
  PLUMB_ASSIGN_OR_RETURN(PkeyPtr key, pki_internal::ReadPrivateKey(key_pem));
  return pki_internal::PublicKeyPemOf(key.get());
}

absl::StatusOr<std::string> MakeCaCertificate(absl::string_view key_pem, const CertSpec& spec) {
  PLUMB_ASSIGN_OR_RETURN(PkeyPtr key, pki_internal::ReadPrivateKey(key_pem));
  CertSpec ca = spec;
  ca.role = kRoleCa;
  PLUMB_ASSIGN_OR_RETURN(X509Ptr cert, NewCertificate(ca, key.get()));
  X509* c = cert.get();
  if (X509_set_issuer_name(c, X509_get_subject_name(c)) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot set issuer");
  }
  PLUMB_RETURN_IF_ERROR(AddExtension(c, c, NID_basic_constraints, "critical,CA:TRUE,pathlen:0"));
  PLUMB_RETURN_IF_ERROR(AddExtension(c, c, NID_key_usage, "critical,keyCertSign,cRLSign"));
  PLUMB_RETURN_IF_ERROR(AddExtension(c, c, NID_subject_key_identifier, "hash"));
  return SignAndEncode(c, key.get());
}

absl::StatusOr<std::string> MakeCsr(absl::string_view key_pem, absl::string_view common_name) {
  PLUMB_ASSIGN_OR_RETURN(PkeyPtr key, pki_internal::ReadPrivateKey(key_pem));
  ReqPtr req(X509_REQ_new());
  if (req == nullptr || X509_REQ_set_version(req.get(), 0) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot create CSR");
  }
  PLUMB_RETURN_IF_ERROR(
      SetName(X509_REQ_get_subject_name(req.get()), std::string(common_name), ""));
  if (X509_REQ_set_pubkey(req.get(), key.get()) != 1 ||
      X509_REQ_sign(req.get(), key.get(), EVP_sha256()) <= 0) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot sign CSR");
  }
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509_REQ(bio.get(), req.get()) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot encode CSR");
  }
  return pki_internal::BioString(bio.get());
}

absl::StatusOr<CsrInfo> ParseCsr(absl::string_view csr_pem) {
  if (csr_pem.size() > 16 * 1024) return absl::InvalidArgumentError("CSR is too large");
  BioPtr bio = pki_internal::ReadBio(csr_pem);
  ReqPtr req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  if (req == nullptr) return OpenSslError(absl::StatusCode::kInvalidArgument, "not a PEM CSR");
  EVP_PKEY* key = X509_REQ_get0_pubkey(req.get());
  if (key == nullptr) return OpenSslError(absl::StatusCode::kInvalidArgument, "CSR has no key");
  PLUMB_RETURN_IF_ERROR(pki_internal::CheckP256(key, "the CSR's key"));
  if (X509_REQ_verify(req.get(), key) != 1) {
    return OpenSslError(absl::StatusCode::kInvalidArgument, "CSR signature does not verify");
  }
  CsrInfo info;
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (idx >= 0) {
    unsigned char* utf8 = nullptr;
    int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx)));
    if (n >= 0) info.common_name.assign(reinterpret_cast<char*>(utf8), n);
    OPENSSL_free(utf8);
  }
  PLUMB_ASSIGN_OR_RETURN(info.public_key_pem, pki_internal::PublicKeyPemOf(key));
  PLUMB_ASSIGN_OR_RETURN(info.public_key_sha256, pki_internal::PublicKeySha256(key));
  return info;
}

absl::StatusOr<std::string> IssueCertificate(absl::string_view ca_cert_pem,
                                             absl::string_view ca_key_pem,
                                             absl::string_view public_key_pem,
                                             const CertSpec& spec) {
  PLUMB_ASSIGN_OR_RETURN(X509Ptr ca, pki_internal::ReadCertificate(ca_cert_pem));
  PLUMB_ASSIGN_OR_RETURN(PkeyPtr ca_key, pki_internal::ReadPrivateKey(ca_key_pem));
  PLUMB_ASSIGN_OR_RETURN(PkeyPtr key, pki_internal::ReadPublicKey(public_key_pem));
  PLUMB_RETURN_IF_ERROR(pki_internal::CheckP256(key.get(), "the certificate's key"));
  PLUMB_ASSIGN_OR_RETURN(X509Ptr cert, NewCertificate(spec, key.get()));
  X509* c = cert.get();
  if (X509_set_issuer_name(c, X509_get_subject_name(ca.get())) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot set issuer");
  }
  // A leaf never outlives its CA: verifiers would reject the tail of its lifetime anyway.
  time_t issued = absl::ToTimeT(spec.not_before);
  if (X509_cmp_time(X509_get0_notAfter(ca.get()), &issued) < 0) {
    return absl::FailedPreconditionError("the CA certificate has expired");
  }
  if (ASN1_TIME_compare(X509_get0_notAfter(c), X509_get0_notAfter(ca.get())) > 0 &&
      X509_set1_notAfter(c, X509_get0_notAfter(ca.get())) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot clamp validity");
  }
  bool server = spec.role == kRoleServer;
  PLUMB_RETURN_IF_ERROR(AddExtension(c, ca.get(), NID_basic_constraints, "critical,CA:FALSE"));
  PLUMB_RETURN_IF_ERROR(AddExtension(c, ca.get(), NID_key_usage, "critical,digitalSignature"));
  PLUMB_RETURN_IF_ERROR(
      AddExtension(c, ca.get(), NID_ext_key_usage, server ? "serverAuth" : "clientAuth"));
  PLUMB_RETURN_IF_ERROR(AddExtension(c, ca.get(), NID_subject_key_identifier, "hash"));
  PLUMB_RETURN_IF_ERROR(AddExtension(c, ca.get(), NID_authority_key_identifier, "keyid"));
  if (!spec.sans.empty()) {
    PLUMB_RETURN_IF_ERROR(AddExtension(c, ca.get(), NID_subject_alt_name, SanValue(spec.sans)));
  }
  return SignAndEncode(c, ca_key.get());
}

absl::StatusOr<std::string> RandomHex(int n) {
  std::string bytes(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&bytes[0]), n) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "no randomness");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xf]);
  }
  return out;
}

}  // namespace plumb
