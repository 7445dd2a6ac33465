#include "agent/host/system_error.h"

#include <cerrno>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace plumb {

absl::Status ErrnoError(int err, absl::string_view context) {
  // std::generic_category().message() is thread-safe, unlike strerror().
  std::string message = absl::StrCat(context, ": ", std::generic_category().message(err));
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(message);
    case EEXIST:
      return absl::AlreadyExistsError(message);
    case ENOTDIR:
    case EISDIR:
    case ENOTEMPTY:
    case ELOOP:
      return absl::FailedPreconditionError(message);
    default:
      return absl::InternalError(message);
  }
}

}  // namespace plumb
