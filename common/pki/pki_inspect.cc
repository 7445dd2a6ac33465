// Reading certificates: fields Plumb relies on, chains, verification against a CA.

#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <ctime>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/digest.h"
#include "common/pki/pki.h"
#include "common/pki/pki_internal.h"
#include "common/status_macros.h"

namespace plumb {

using pki_internal::BioPtr;
using pki_internal::OpenSslError;
using pki_internal::X509Ptr;

namespace {

std::string NameField(X509_NAME* name, int nid) {
  int idx = X509_NAME_get_index_by_NID(name, nid, -1);
  if (idx < 0) return "";
  unsigned char* utf8 = nullptr;
  int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx)));
  std::string out = n >= 0 ? std::string(reinterpret_cast<char*>(utf8), n) : "";
  OPENSSL_free(utf8);
  return out;
}

absl::Time AsnTime(const ASN1_TIME* t) {
  struct tm tm = {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return absl::InfinitePast();
  return absl::FromTimeT(timegm(&tm));
}

std::vector<std::string> Sans(X509* cert) {
  std::vector<std::string> out;
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
    if (gn->type == GEN_DNS) {
      const ASN1_IA5STRING* s = gn->d.dNSName;
      out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), ASN1_STRING_length(s));
    } else if (gn->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = gn->d.iPAddress;
      char buf[INET6_ADDRSTRLEN] = {0};
      int len = ASN1_STRING_length(ip);
      int family = len == 4 ? AF_INET : len == 16 ? AF_INET6 : -1;
      if (family != -1 && inet_ntop(family, ASN1_STRING_get0_data(ip), buf, sizeof(buf))) {
        out.emplace_back(buf);
      }
    }
  }
  GENERAL_NAMES_free(names);
  return out;
}

}  // namespace

absl::StatusOr<CertInfo> ParseCertificate(absl::string_view cert_pem) {
  PLUMB_ASSIGN_OR_RETURN(X509Ptr cert, pki_internal::ReadCertificate(cert_pem));
  CertInfo info;
  X509_NAME* subject = X509_get_subject_name(cert.get());
  info.common_name = NameField(subject, NID_commonName);
  info.role = NameField(subject, NID_organizationalUnitName);
  BIGNUM* serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert.get()), nullptr);
  if (serial != nullptr) {
    char* hex = BN_bn2hex(serial);
    info.serial_hex = absl::AsciiStrToLower(hex);
    OPENSSL_free(hex);
    BN_free(serial);
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert.get(), EVP_sha256(), md, &len) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot hash certificate");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned int i = 0; i < len; ++i) {
    info.fingerprint.push_back(kHex[md[i] >> 4]);
    info.fingerprint.push_back(kHex[md[i] & 0xf]);
  }
  EVP_PKEY* key = X509_get0_pubkey(cert.get());
  if (key == nullptr) return OpenSslError(absl::StatusCode::kInvalidArgument, "certificate has no key");
  PLUMB_ASSIGN_OR_RETURN(info.public_key_sha256, pki_internal::PublicKeySha256(key));
  info.not_before = AsnTime(X509_get0_notBefore(cert.get()));
  info.not_after = AsnTime(X509_get0_notAfter(cert.get()));
  info.is_ca = X509_check_ca(cert.get()) > 0;
  // X509_get_extended_key_usage answers "anything" when the extension is absent: ask whether
  // it is present first, so that only an explicit serverAuth counts.
  if ((X509_get_extension_flags(cert.get()) & EXFLAG_XKUSAGE) != 0) {
    uint32_t xku = X509_get_extended_key_usage(cert.get());
    info.server_auth = (xku & XKU_SSL_SERVER) != 0;
    info.client_auth = (xku & XKU_SSL_CLIENT) != 0;
  }
  info.sans = Sans(cert.get());
  return info;
}

absl::StatusOr<std::vector<std::string>> SplitCertificates(absl::string_view chain_pem) {
  std::vector<std::string> out;
  BioPtr bio = pki_internal::ReadBio(chain_pem);
  while (true) {
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (cert == nullptr) break;
    PLUMB_ASSIGN_OR_RETURN(std::string pem, pki_internal::CertificatePem(cert.get()));
    out.push_back(std::move(pem));
  }
  ERR_clear_error();  // the loop ends on "no start line"
  if (out.empty()) return absl::InvalidArgumentError("no PEM certificate found");
  return out;
}

absl::Status VerifyIssuedBy(absl::string_view cert_pem, absl::string_view ca_cert_pem,
                            absl::Time now) {
  PLUMB_ASSIGN_OR_RETURN(X509Ptr cert, pki_internal::ReadCertificate(cert_pem));
  PLUMB_ASSIGN_OR_RETURN(X509Ptr ca, pki_internal::ReadCertificate(ca_cert_pem));
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), X509_STORE_free);
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(),
                                                                      X509_STORE_CTX_free);
  if (store == nullptr || ctx == nullptr || X509_STORE_add_cert(store.get(), ca.get()) != 1 ||
      X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "cannot set up verification");
  }
  X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx.get()), absl::ToTimeT(now));
  if (X509_verify_cert(ctx.get()) != 1) {
    int err = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    return absl::PermissionDeniedError(
        absl::StrCat("certificate does not verify: ", X509_verify_cert_error_string(err)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> NormalizeFingerprint(absl::string_view text) {
  std::string s(absl::StripAsciiWhitespace(text));
  s = absl::AsciiStrToLower(s);
  if (absl::StartsWith(s, "sha256:")) s = s.substr(7);
  s = absl::StrReplaceAll(s, {{":", ""}});
  if (!IsSha256Hex(s)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "CA fingerprint must be a SHA-256 (64 hex digits, colons allowed), got \"", text, "\""));
  }
  return s;
}

bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace plumb
