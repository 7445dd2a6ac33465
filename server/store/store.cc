#include "server/store/store.h"

namespace plumb {

absl::StatusOr<bool> Store::PutReport(const v1::Report& report) {
  absl::StatusOr<std::vector<bool>> stored = PutReports({&report});
  if (!stored.ok()) return stored.status();
  return (*stored)[0];
}

v1::ReportSummary Store::Summarize(const v1::Report& report) {
  v1::ReportSummary summary;
  summary.set_id(report.id());
  summary.set_node(report.node());
  summary.set_revision(report.revision());
  summary.set_trigger(report.trigger());
  summary.set_noop(report.noop());
  summary.set_started_unix_ms(report.started_unix_ms());
  summary.set_duration_us(report.duration_us());
  for (const v1::ResourceResult& result : report.results()) {
    switch (result.outcome()) {
      case v1::UNCHANGED: summary.set_unchanged(summary.unchanged() + 1); break;
      case v1::CHANGED: summary.set_changed(summary.changed() + 1); break;
      case v1::WOULD_CHANGE: summary.set_would_change(summary.would_change() + 1); break;
      case v1::FAILED: summary.set_failed(summary.failed() + 1); break;
      case v1::SKIPPED: summary.set_skipped(summary.skipped() + 1); break;
      default: break;  // unspecified: counted nowhere
    }
  }
  return summary;
}

}  // namespace plumb
