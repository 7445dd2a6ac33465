#pragma once

// Durable files under the agent's state_dir (0600, directories 0700): written atomically through
// common/secure_files.h, so a kill -9 at any moment leaves the old or the new version, never half.

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace plumb {

absl::Status WriteStateFile(const std::string& path, const std::string& content);
// NotFound if missing.
absl::StatusOr<std::string> ReadStateFile(const std::string& path);
// Creates `path` and its parents (mode 0700 for new ones).
absl::Status MakeStateDirs(const std::string& path);
// Names of regular files in `dir` that end with `suffix`, sorted.
absl::StatusOr<std::vector<std::string>> ListStateFiles(const std::string& dir,
                                                        const std::string& suffix);

}  // namespace plumb
