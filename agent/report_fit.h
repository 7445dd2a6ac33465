#pragma once

// Cutting what the agent sends to the server's wire limits (common/wire_limits.h), so that the
// server never refuses a report it would then be sent again forever: a report the server
// cannot take would stay queued on the agent's disk and be re-sent on every reconnect.

#include <string>

#include "absl/strings/string_view.h"
#include "plumb/v1/types.pb.h"

namespace plumb {

// Makes `report` pass wire::CheckReport, changing nothing if it already does. In order:
// strings become valid UTF-8 (protobuf refuses anything else), over-long ids and messages are
// cut, over-long diffs dropped; then, while the report is over wire::kMaxReportBytes, diffs
// are dropped (largest first), then messages cut short (largest first), then results dropped
// (unchanged ones first, from the end). Whatever was dropped is said in `report.truncated`
// ("report truncated: 12 diffs dropped to fit 4 MiB"). Returns true if anything changed.
bool FitReport(v1::Report* report);

// `text` as valid UTF-8 of at most `max_bytes` bytes: invalid bytes become '?', and a cut
// ends on a character boundary with "…" (within `max_bytes`).
std::string FitText(absl::string_view text, size_t max_bytes);

}  // namespace plumb
