#pragma once

// SHA-256 digests as lowercase hex, the currency of resource versions and blob names.

#include <string>
#include "absl/strings/string_view.h"

namespace plumb {

std::string Sha256Hex(absl::string_view data);

// True if `text` is 64 lowercase hex characters.
bool IsSha256Hex(absl::string_view text);

}  // namespace plumb
