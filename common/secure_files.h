#pragma once

// Files that hold keys and certificates: written atomically (temp + fsync + rename) with an
// explicit mode, so a private key is never readable by others, not even for a moment.

#include <string>
#include <sys/types.h>

#include "absl/status/statusor.h"

namespace plumb {

// Writes `content` to `path` with permissions `mode` (the temp file is created with it).
absl::Status WriteFileAtomically(const std::string& path, const std::string& content,
                                 mode_t mode);
// NotFound if missing; InvalidArgument if larger than 1 MiB (keys and certificates are small).
absl::StatusOr<std::string> ReadSmallFile(const std::string& path);
// Creates `path` and its parents with `mode` (existing ones are left as they are).
absl::Status MakeDirectories(const std::string& path, mode_t mode);
bool FileExists(const std::string& path);

}  // namespace plumb
