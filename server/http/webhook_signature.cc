#include "server/http/webhook_signature.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"

namespace plumb {

std::string WebhookSignature(absl::string_view secret, absl::string_view body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &mac_len);
  return "sha256=" + absl::BytesToHexString(
                         absl::string_view(reinterpret_cast<const char*>(mac), mac_len));
}

bool VerifyWebhookSignature(absl::string_view secret, absl::string_view body,
                            absl::string_view header) {
  if (secret.empty()) return false;
  std::string expected = WebhookSignature(secret, body);
  std::string given = absl::AsciiStrToLower(absl::StripAsciiWhitespace(header));
  // The length is public (always 71); only the content comparison must not leak timing.
  if (given.size() != expected.size()) return false;
  return CRYPTO_memcmp(given.data(), expected.data(), expected.size()) == 0;
}

}  // namespace plumb
