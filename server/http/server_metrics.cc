#include "server/http/server_metrics.h"

#include <algorithm>

namespace plumb {
namespace {

constexpr char kReportsReceived[] = "plumb_reports_received_total";
constexpr char kReportsHelp[] =
    "Reports stored, by outcome (failed, changed, would_change, unchanged); re-sends not counted.";
constexpr char kWebhook[] = "plumb_webhook_requests_total";
constexpr char kWebhookHelp[] = "POST /hooks/git requests by result.";

// Report queue lag spans a quick round trip to a day-long outage (reports queue on disk).
std::vector<double> LagBuckets() {
  return {0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400};
}

}  // namespace

std::string ReportOutcomeLabel(const v1::Report& report) {
  bool changed = false, would_change = false;
  for (const v1::ResourceResult& r : report.results()) {
    if (r.outcome() == v1::FAILED) return "failed";
    changed = changed || r.outcome() == v1::CHANGED;
    would_change = would_change || r.outcome() == v1::WOULD_CHANGE;
  }
  if (changed) return "changed";
  if (would_change) return "would_change";
  return "unchanged";
}

ServerMetrics::ServerMetrics(MetricsRegistry* r)
    : registry(r),
      compile_duration(r->AddHistogram(
          "plumb_compile_duration_seconds",
          "Time to compile a newly fetched revision for every known node group.",
          DurationBuckets())),
      catalog_updates_sent(r->AddCounter("plumb_catalog_updates_sent_total",
                                         "CatalogUpdate messages sent to agents.")),
      apply_duration(r->AddHistogram("plumb_apply_duration_seconds",
                                     "Agent run duration, from each stored report.",
                                     DurationBuckets())),
      report_queue_lag(r->AddHistogram(
          "plumb_report_queue_lag_seconds",
          "Seconds from a run's start (agent clock) to the server storing its report.",
          LagBuckets())) {
  // Every outcome shows up (as 0) before the first report, so rate() works from the start.
  for (const char* outcome : {"failed", "changed", "would_change", "unchanged"}) {
    r->LabeledCounter(kReportsReceived, kReportsHelp, "outcome", outcome);
  }
  for (const char* result : {"accepted", "ignored", "unauthorized", "disabled"}) {
    r->LabeledCounter(kWebhook, kWebhookHelp, "result", result);
  }
}

void ServerMetrics::ReportReceived(const v1::Report& report, int64_t now_ms) {
  registry->LabeledCounter(kReportsReceived, kReportsHelp, "outcome", ReportOutcomeLabel(report))
      ->Increment();
  apply_duration->Observe(static_cast<double>(report.duration_us()) / 1e6);
  if (report.started_unix_ms() > 0) {
    // Agent clocks may run ahead of ours; a negative lag is clamped, not reported.
    double lag = std::max<int64_t>(0, now_ms - report.started_unix_ms()) / 1000.0;
    report_queue_lag->Observe(lag);
  }
}

void ServerMetrics::WebhookRequest(const std::string& result) {
  registry->LabeledCounter(kWebhook, kWebhookHelp, "result", result)->Increment();
}

}  // namespace plumb
