#pragma once

// The `symlink` resource: target, ensure present|absent, force.

#include "agent/host/filesystem.h"
#include "agent/providers/provider.h"
#include "agent/providers/resource_attributes.h"

namespace plumb {

// The attributes of a symlink resource, typed.
struct SymlinkSpec {
  bool present = true;
  bool force = false;  // replace a real directory in the way
  std::string target;
};
// Reads every attribute common/resource_types.cc declares for a symlink. InvalidArgument
// when a present symlink has no target.
absl::StatusOr<SymlinkSpec> ParseSymlinkSpec(AttributeReader& attrs);

// Manages symlinks under the root. The target is stored as given and never followed. A link
// with a wrong target or a file in the way is replaced atomically; a real directory in the
// way is replaced only with `force: true`. Thread-compatible.
class SymlinkProvider : public FilesystemProvider {
 public:
  explicit SymlinkProvider(Filesystem* fs) : FilesystemProvider(fs) {}

  absl::StatusOr<CheckResult> Check(const v1::Resource& resource) override;
  absl::StatusOr<ChangeResult> Apply(const v1::Resource& resource,
                                     const CheckResult& check) override;

};

}  // namespace plumb
