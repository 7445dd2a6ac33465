#pragma once

// Unified diffs of file contents for noop runs and change reports.

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace plumb {

// Returns a unified diff (`--- old_label`, `+++ new_label`, hunks with 3 lines of context)
// that turns `old_text` into `new_text`, or "" when they are equal. Content with a NUL byte
// gives a one-line "Binary files ... differ"; very large or very different inputs still give
// a correct (if coarse) diff; the output is cut at about `max_bytes` with a final marker line.
std::string UnifiedDiff(absl::string_view old_text, absl::string_view new_text,
                        absl::string_view old_label, absl::string_view new_label,
                        size_t max_bytes = 64 * 1024);

}  // namespace plumb
