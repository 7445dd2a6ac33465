#include "common/digest.h"

#include <openssl/evp.h>

namespace plumb {

std::string Sha256Hex(absl::string_view data) {
  // Fetched once: EVP_sha256() makes OpenSSL 3 look the algorithm up, under a lock, on every
  // digest, which was a quarter of sealing a catalog (docs/benchmarks.md, finding 3).
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, sha256 != nullptr ? sha256 : EVP_sha256(),
             nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 0xf]);
  }
  return out;
}

bool IsSha256Hex(absl::string_view text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace plumb
