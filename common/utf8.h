#pragma once

// Well-formed UTF-8 (no overlong forms, surrogates or code points above U+10FFFF). Protobuf
// strings must be UTF-8: a repository's text or a report's diff that is not cannot travel.

#include <cstddef>

#include "absl/strings/string_view.h"

namespace plumb {

// Length of the well-formed UTF-8 sequence starting at text[i], or 0 if the byte there does
// not start one.
size_t Utf8SequenceAt(absl::string_view text, size_t i);

// The offset of the first byte that is not part of well-formed UTF-8, or npos.
size_t FirstInvalidUtf8(absl::string_view text);

}  // namespace plumb
