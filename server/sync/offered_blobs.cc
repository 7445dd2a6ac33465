#include "server/sync/offered_blobs.h"

#include <algorithm>

namespace plumb {

OfferedBlobs::OfferedBlobs(const v1::Catalog& catalog, const CatalogBuilder& builder)
    : pinned_(builder.PinBlobs(catalog)) {
  for (const v1::Resource& r : catalog.resources()) {
    if (!r.content_digest().empty()) digests_.push_back(r.content_digest());
  }
  std::sort(digests_.begin(), digests_.end());
  digests_.erase(std::unique(digests_.begin(), digests_.end()), digests_.end());
  digests_.shrink_to_fit();
}

bool OfferedBlobs::Names(const std::string& digest) const {
  return std::binary_search(digests_.begin(), digests_.end(), digest);
}

}  // namespace plumb
