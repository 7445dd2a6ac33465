#pragma once

// Typed access to a resource's attributes (plumb.v1.Value) for providers, with errors that
// name the resource and attribute.

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/host/filesystem.h"
#include "plumb/v1/types.pb.h"

namespace plumb {

// "true"/"false" (also yes/no, 1/0); `fallback` when absent. InvalidArgument otherwise.
absl::StatusOr<bool> BoolAttribute(const v1::Resource& resource, const std::string& key,
                                   bool fallback);
// The attribute's value if it is one of `allowed`, else InvalidArgument; `fallback` if absent.
absl::StatusOr<std::string> EnumAttribute(const v1::Resource& resource, const std::string& key,
                                          const std::vector<std::string>& allowed,
                                          const std::string& fallback);
// A list attribute; a scalar counts as a one-element list (or, with `split_commas`, a
// comma-separated list). Empty when absent.
std::vector<std::string> ListAttribute(const v1::Resource& resource, const std::string& key,
                                       bool split_commas = false);
// A map attribute. Empty when absent or not a map.
std::map<std::string, std::string> MapAttribute(const v1::Resource& resource,
                                                const std::string& key);

// The mode/owner/group a file, directory or symlink resource asks for, as numbers.
struct DesiredMetadata {
  FileMetadata metadata;
  // Owners or groups that do not exist (yet: a user resource may create them later in the
  // run), e.g. `owner "www" does not exist`. Check reports them as a difference; Apply fails.
  std::vector<std::string> unresolved;
};
absl::StatusOr<DesiredMetadata> DesiredMetadataOf(const v1::Resource& resource, Filesystem* fs);

// What differs between `current` and `desired`: "mode 0600 -> 0644", "owner 1000 -> 0".
std::vector<std::string> MetadataChanges(const FileStat& current, const FileMetadata& desired);

}  // namespace plumb
