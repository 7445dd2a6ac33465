#pragma once

// File contents by sha256 digest under state_dir/blobs. Content is verified against its
// digest before it is stored, so a cached blob is always what the catalog named.

#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "agent/engine/apply_engine.h"

namespace plumb {

// Thread-safe (files are written atomically; reads need no lock). A Get racing a Retain that
// drops its digest may find the blob gone (NotFound).
class BlobCache : public BlobSource {
 public:
  static absl::StatusOr<std::unique_ptr<BlobCache>> Open(const std::string& dir);

  absl::StatusOr<std::string> Get(const std::string& digest) override;
  bool Has(const std::string& digest) const;
  // DataLoss if sha256(content) != digest.
  absl::Status Put(const std::string& digest, const std::string& content);
  // Deletes every cached blob not in `keep` (and temp files other processes left behind), so
  // content no catalog names any more, a rotated secret say, does not stay on disk. Returns
  // how many files went; the first error if some could not be deleted (the others still go).
  absl::StatusOr<int> Retain(const std::set<std::string>& keep);

 private:
  explicit BlobCache(std::string dir) : dir_(std::move(dir)) {}
  std::string PathFor(const std::string& digest) const { return dir_ + "/" + digest; }
  const std::string dir_;
};

}  // namespace plumb
