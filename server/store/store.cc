#include "server/store/store.h"

#include <algorithm>

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

absl::StatusOr<Store::NodePage> Store::ListNodesPage(const NodePageQuery& query) {
  absl::StatusOr<std::vector<v1::Node>> all = ListNodes(query.selector, query.status);
  if (!all.ok()) return all.status();
  std::vector<v1::Node> nodes;
  for (v1::Node& node : *all) {
    if (node.name().find(query.name_contains) != std::string::npos) nodes.push_back(std::move(node));
  }
  bool by_status = query.sort == "status";
  std::stable_sort(nodes.begin(), nodes.end(), [&](const v1::Node& a, const v1::Node& b) {
    if (by_status && a.status() != b.status()) {
      return query.descending ? a.status() > b.status() : a.status() < b.status();
    }
    return query.descending ? a.name() > b.name() : a.name() < b.name();
  });
  NodePage page;
  page.total = static_cast<int64_t>(nodes.size());
  int64_t limit = std::clamp<int64_t>(query.limit, 1, 500);
  for (int64_t i = std::max<int64_t>(query.offset, 0); i < page.total && limit > 0; ++i, --limit) {
    page.nodes.push_back(std::move(nodes[static_cast<size_t>(i)]));
  }
  return page;
}

}  // namespace plumb
