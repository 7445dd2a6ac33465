#pragma once

// The `directory` resource: ensure present|absent, mode, owner, group, force.

#include "agent/host/filesystem.h"
#include "agent/providers/provider.h"
#include "agent/providers/resource_attributes.h"

namespace plumb {

// The attributes of a directory resource, typed.
struct DirectorySpec {
  bool present = true;
  bool force = false;  // replace a file in the way; remove a non-empty directory
  MetadataSpec metadata;
};
// Reads every attribute common/resource_types.cc declares for a directory.
absl::StatusOr<DirectorySpec> ParseDirectorySpec(AttributeReader& attrs);

// Manages directories under the root. Missing parents are created. A symlink in the way is
// replaced; a file in the way, or removing a non-empty directory, needs `force: true`.
// Thread-compatible.
class DirectoryProvider : public FilesystemProvider {
 public:
  explicit DirectoryProvider(Filesystem* fs) : FilesystemProvider(fs) {}

  absl::StatusOr<CheckResult> Check(const v1::Resource& resource) override;
  absl::StatusOr<ChangeResult> Apply(const v1::Resource& resource,
                                     const CheckResult& check) override;

};

}  // namespace plumb
