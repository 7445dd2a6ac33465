#pragma once

// File contents by sha256 digest under state_dir/blobs. Content is verified against its
// digest before it is stored, so a cached blob is always what the catalog named.

#include <string>

#include "absl/status/statusor.h"
#include "agent/engine/apply_engine.h"

namespace plumb {

// Thread-safe (files are written atomically; reads need no lock).
class BlobCache : public BlobSource {
 public:
  static absl::StatusOr<std::unique_ptr<BlobCache>> Open(const std::string& dir);

  absl::StatusOr<std::string> Get(const std::string& digest) override;
  bool Has(const std::string& digest) const;
  // DataLoss if sha256(content) != digest.
  absl::Status Put(const std::string& digest, const std::string& content);

 private:
  explicit BlobCache(std::string dir) : dir_(std::move(dir)) {}
  std::string PathFor(const std::string& digest) const { return dir_ + "/" + digest; }
  const std::string dir_;
};

}  // namespace plumb
