#pragma once

// Files written atomically (temp + fsync + rename + directory fsync) with an explicit mode, so a
// kill -9 or power cut leaves the old or the new version, and a private key is never readable by
// others, not even for a moment. Used for keys and certificates and for the agent's state files.

#include <sys/types.h>

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"

namespace plumb {

// Writes `content` to `path` with permissions `mode` (the temp file is created with it).
absl::Status WriteFileAtomically(const std::string& path, const std::string& content,
                                 mode_t mode);
// NotFound if missing; InvalidArgument if larger than 1 MiB (keys and certificates are small).
absl::StatusOr<std::string> ReadSmallFile(const std::string& path);
// NotFound if missing; InvalidArgument if larger than `max_bytes`.
absl::StatusOr<std::string> ReadFileUpTo(const std::string& path, size_t max_bytes);
// Creates `path` and its parents with `mode` (existing ones are left as they are).
absl::Status MakeDirectories(const std::string& path, mode_t mode);
bool FileExists(const std::string& path);

}  // namespace plumb
