#include "agent/engine/enum_names.h"

namespace plumb {

absl::string_view RunTriggerName(v1::RunTrigger trigger) {
  switch (trigger) {
    case v1::CATALOG: return "CATALOG";
    case v1::INTERVAL: return "INTERVAL";
    case v1::DRIFT: return "DRIFT";
    case v1::REQUEST: return "REQUEST";
    case v1::ROLLBACK: return "ROLLBACK";
    case v1::RUN_TRIGGER_UNSPECIFIED: return "RUN_TRIGGER_UNSPECIFIED";
    default: return "";  // as RunTrigger_Name for a value the enum does not have
  }
}

absl::string_view ResourceOutcomeName(v1::ResourceOutcome outcome) {
  switch (outcome) {
    case v1::UNCHANGED: return "UNCHANGED";
    case v1::CHANGED: return "CHANGED";
    case v1::WOULD_CHANGE: return "WOULD_CHANGE";
    case v1::FAILED: return "FAILED";
    case v1::SKIPPED: return "SKIPPED";
    case v1::RESOURCE_OUTCOME_UNSPECIFIED: return "RESOURCE_OUTCOME_UNSPECIFIED";
    default: return "";
  }
}

}  // namespace plumb
