#pragma once

// The `file` resource: content (by digest from a BlobSource), ensure present|absent, mode,
// owner, group. Writes are atomic and happen only when content or metadata differ.

#include "agent/engine/apply_engine.h"
#include "agent/host/filesystem.h"
#include "agent/providers/provider.h"
#include "agent/providers/resource_attributes.h"

namespace plumb {

// The attributes of a file resource, typed.
struct FileSpec {
  bool present = true;
  MetadataSpec metadata;
  bool sensitive = false;
  std::string content_digest;  // what content, source or template compiled to; "" unmanaged
};
// Reads every attribute common/resource_types.cc declares for a file.
absl::StatusOr<FileSpec> ParseFileSpec(AttributeReader& attrs);

// Manages regular files under the root. A file resource with no content_digest manages only
// existence and metadata (an empty file is created if missing). Refuses to replace a
// directory; replaces a symlink at the path (the link, never its target). Thread-compatible.
class FileProvider : public Provider {
 public:
  // `fs` and `blobs` are not owned and must outlive the provider.
  FileProvider(Filesystem* fs, BlobSource* blobs) : fs_(fs), blobs_(blobs) {}

  absl::StatusOr<CheckResult> Check(const v1::Resource& resource) override;
  absl::StatusOr<ChangeResult> Apply(const v1::Resource& resource,
                                     const CheckResult& check) override;

 private:
  absl::StatusOr<std::string> FetchContent(const v1::Resource& resource);
  absl::StatusOr<CheckResult> CheckAbsent(const v1::Resource& resource, const FileStat& stat);

  Filesystem* fs_;
  BlobSource* blobs_;
};

}  // namespace plumb
