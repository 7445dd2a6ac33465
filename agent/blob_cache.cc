#include "agent/blob_cache.h"

#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "agent/state_files.h"
#include "common/digest.h"
#include "common/status_macros.h"

namespace plumb {

absl::StatusOr<std::unique_ptr<BlobCache>> BlobCache::Open(const std::string& dir) {
  PLUMB_RETURN_IF_ERROR(MakeStateDirs(dir));
  return std::unique_ptr<BlobCache>(new BlobCache(dir));
}

absl::StatusOr<std::string> BlobCache::Get(const std::string& digest) {
  if (!IsSha256Hex(digest)) return absl::InvalidArgumentError(absl::StrCat("bad digest ", digest));
  return ReadStateFile(PathFor(digest));
}

bool BlobCache::Has(const std::string& digest) const {
  struct stat st;
  return IsSha256Hex(digest) && stat(PathFor(digest).c_str(), &st) == 0;
}

absl::Status BlobCache::Put(const std::string& digest, const std::string& content) {
  if (!IsSha256Hex(digest)) return absl::InvalidArgumentError(absl::StrCat("bad digest ", digest));
  if (Sha256Hex(content) != digest) {
    return absl::DataLossError(absl::StrCat("blob content does not match digest ", digest));
  }
  return WriteStateFile(PathFor(digest), content);
}

}  // namespace plumb
