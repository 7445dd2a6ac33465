#pragma once

// The metrics plumb-server exports, registered once in a MetricsRegistry (see
// docs/observability.md for each one's meaning). Components that update them hold a pointer;
// a null pointer means "no metrics" (unit tests that build a component alone).

#include <string>

#include "plumb/v1/types.pb.h"
#include "server/http/metrics.h"

namespace plumb {

// Pointers into the registry, valid while it lives. Thread-safe (the metrics are atomic).
struct ServerMetrics {
  explicit ServerMetrics(MetricsRegistry* registry);

  // Counts a stored report under its outcome and records its apply duration and queue lag
  // (`now_ms` - the run's start).
  void ReportReceived(const v1::Report& report, int64_t now_ms);
  // Counts a POST /hooks/git by result: "accepted", "unauthorized", "disabled".
  void WebhookRequest(const std::string& result);

  MetricsRegistry* const registry;
  Histogram* const compile_duration;
  Counter* const catalog_updates_sent;
  Histogram* const apply_duration;
  Histogram* const report_queue_lag;
};

// "failed", "changed", "would_change" or "unchanged": the label of a report's outcome.
std::string ReportOutcomeLabel(const v1::Report& report);

}  // namespace plumb
