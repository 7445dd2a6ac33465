#pragma once

// The file contents one catalog names, as the hub offers it to agents: which digests GetBlob
// may serve them, and the contents themselves, pinned (CatalogBuilder::PinBlobs) so that they
// stay fetchable while an agent applies the catalog even after the builder's cache dropped its
// group. One per catalog, shared by every session offered it: agents of one group cost a
// pointer each, not a copy of the catalog's digests.

#include <memory>
#include <string>
#include <vector>

#include "plumb/v1/types.pb.h"
#include "server/sync/catalog_builder.h"

namespace plumb {

// Immutable once built: thread-safe.
class OfferedBlobs {
 public:
  // The contents `catalog` (just returned by `builder`'s Build) names.
  OfferedBlobs(const v1::Catalog& catalog, const CatalogBuilder& builder);

  // True if the catalog names `digest`.
  bool Names(const std::string& digest) const;
  // How many distinct digests it names, and how many of their contents are pinned.
  size_t size() const { return digests_.size(); }
  size_t pinned() const { return pinned_.size(); }

 private:
  std::vector<std::string> digests_;  // sorted, unique
  std::vector<std::shared_ptr<const std::string>> pinned_;
};

}  // namespace plumb
