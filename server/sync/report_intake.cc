#include "server/sync/report_intake.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/logging.h"
#include "server/fleet/sensitive_scrub.h"

namespace plumb {
namespace {

std::string TriggerLabel(v1::RunTrigger trigger) {
  switch (trigger) {
    case v1::CATALOG: return "catalog";
    case v1::INTERVAL: return "interval";
    case v1::DRIFT: return "drift";
    case v1::REQUEST: return "request";
    case v1::ROLLBACK: return "rollback";
    default: return "unknown";
  }
}

}  // namespace

int ScrubReport(const AgentSession& s, v1::Report* report) {
  bool known = false;
  int dropped = 0;
  for (const v1::Catalog* c : {s.sync().acked(), s.sync().inflight()}) {
    if (c == nullptr) continue;
    known = known || c->revision() == report->revision();
    dropped += ScrubSensitiveResults(*c, report);
  }
  if (known) return dropped;
  // A run of a catalog this stream was not sent (queued offline, from another server): which
  // of its resources were sensitive cannot be told, so none keeps a diff.
  for (v1::ResourceResult& r : *report->mutable_results()) {
    if (!r.diff().empty()) {
      r.clear_diff();
      ++dropped;
    }
  }
  return dropped;
}

bool ReportIntake::Take(const std::shared_ptr<AgentSession>& s, v1::Report report, int attempt) {
  report.set_node(s->sync().node());  // the stream's node, never what the message claims
  if (report.id().empty()) {
    s->Close(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "Report.id is empty"));
    return false;
  }
  // The agent should never send a sensitive resource's diff; if it does, it goes no further.
  int dropped = ScrubReport(*s, &report);
  if (dropped > 0) {
    LogWarning("dropped diffs from a report",
               {{"node", s->sync().node()}, {"diffs", dropped},
                {"why", "sensitive resources, or a run of a catalog this stream was not sent"}});
  }
  if (report.duration_us() < 0) report.set_duration_us(0);
  // The agent's clock is not the fleet's: a report from the future is stored as of now.
  int64_t now_ms = absl::ToUnixMillis(clock_->Now());
  report.set_started_unix_ms(std::clamp<int64_t>(report.started_unix_ms(), 0, now_ms));
  batch_.push_back(Taken{s, std::move(report), attempt});
  return batch_.size() == 1;
}

std::vector<ReportIntake::Refused> ReportIntake::Flush() {
  std::vector<Taken> batch = std::move(batch_);
  batch_.clear();
  std::vector<Refused> refused;
  if (batch.empty()) return refused;
  std::vector<const v1::Report*> reports;
  reports.reserve(batch.size());
  for (const Taken& t : batch) reports.push_back(&t.report);
  absl::StatusOr<std::vector<bool>> stored = store_->PutReports(reports);
  if (!stored.ok()) {
    for (Taken& t : batch) {
      refused.push_back(Refused{std::move(t.session), std::move(t.report), t.attempt,
                                stored.status()});
    }
    return refused;
  }
  for (size_t i = 0; i < batch.size(); ++i) Record(batch[i], (*stored)[i]);
  // The rows first, then the acknowledgements: an agent (or a test) that saw its ReportAck
  // and asks for the node sees this run.
  nodes_->Flush();
  for (const Taken& t : batch) {
    v1::ServerMessage ack;
    ack.mutable_report_ack()->set_report_id(t.report.id());
    t.session->Send(std::move(ack));
  }
  return refused;
}

void ReportIntake::Record(const Taken& taken, bool is_new) {
  const v1::Report& report = taken.report;
  const SyncState& s = taken.session->sync();
  v1::ReportSummary summary = Store::Summarize(report);
  if (is_new) {
    nodes_->Update(s.node(), [&](v1::Node* n) {
      if (!report.noop()) n->set_applied_revision(report.revision());
      n->set_status(StatusFromReport(report, n->desired_revision()));
      n->set_last_report_id(report.id());
      n->set_last_seen_unix_ms(absl::ToUnixMillis(clock_->Now()));
      if (n->status() != v1::NODE_FAILED) n->clear_last_error();
      if (!s.compile_error().empty()) {
        // A run of the last good catalog does not make the node current.
        n->set_status(v1::NODE_FAILED);
        n->set_last_error(s.compile_error());
      }
    });
    LogInfo("report stored", {{"node", s.node()}, {"report", report.id()},
                              {"rev", report.revision().substr(0, 12)}});
    Observe(report, summary);
  }
  if (!report.request_id().empty()) runs_->Deliver(report.request_id(), summary);
}

void ReportIntake::Observe(const v1::Report& report, const v1::ReportSummary& summary) {
  if (metrics_ != nullptr) metrics_->ReportReceived(report, absl::ToUnixMillis(clock_->Now()));
  if (events_ == nullptr) return;
  v1::Event finished = MakeEvent(v1::EVENT_RUN_FINISHED, report.node(), report.revision());
  finished.set_message(absl::StrCat(TriggerLabel(report.trigger()), report.noop() ? " noop" : "",
                                    " run: ", summary.changed(), " changed, ", summary.failed(),
                                    " failed, ", summary.would_change(), " would change, ",
                                    summary.unchanged(), " unchanged"));
  *finished.mutable_report() = summary;
  events_->Publish(finished);
  bool drift_run = report.trigger() == v1::INTERVAL || report.trigger() == v1::DRIFT;
  if (report.noop() || !drift_run || summary.changed() == 0) return;
  // Ids only: messages and diffs may describe contents, and events reach every watcher.
  constexpr size_t kMaxIds = 10;
  std::vector<std::string> ids;
  for (const v1::ResourceResult& r : report.results()) {
    if (r.outcome() == v1::CHANGED && ids.size() < kMaxIds) ids.push_back(r.id());
  }
  std::string more = summary.changed() > static_cast<int>(ids.size())
                         ? absl::StrCat(" and ", summary.changed() - ids.size(), " more")
                         : "";
  v1::Event drift = MakeEvent(v1::EVENT_DRIFT_REPAIRED, report.node(), report.revision(),
                              absl::StrCat("repaired ", absl::StrJoin(ids, ", "), more));
  *drift.mutable_report() = summary;
  events_->Publish(drift);
}

}  // namespace plumb
