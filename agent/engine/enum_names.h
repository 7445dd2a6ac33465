#pragma once

// Names of the plumb.v1 enums the daemon logs on every run, without protobuf's descriptors:
// v1::RunTrigger_Name and ResourceOutcome_Name build the generated descriptor pool on first
// use, which keeps protobuf's descriptor code and the pool resident in a daemon that has no
// other use for reflection (docs/benchmarks.md, issue 18). Same strings as the _Name functions.

#include "absl/strings/string_view.h"
#include "plumb/v1/types.pb.h"

namespace plumb {

absl::string_view RunTriggerName(v1::RunTrigger trigger);
absl::string_view ResourceOutcomeName(v1::ResourceOutcome outcome);

}  // namespace plumb
