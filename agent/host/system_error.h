#pragma once

// Turns errno values from system calls into absl::Status with a message saying what failed.

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"

namespace plumb {

// `context`: "<what>", e.g. "open /etc/motd". ENOENT is NotFound, EACCES/EPERM
// PermissionDenied, EEXIST AlreadyExists, ENOTDIR/EISDIR/ENOTEMPTY/ELOOP FailedPrecondition,
// anything else Internal.
absl::Status ErrnoError(int err, absl::string_view context);

}  // namespace plumb
