// StreamHub's flow control: how many of a stream's messages may wait for the hub's worker
// (the reactor stops reading beyond that), and the retry of a report the store refused, on
// the same stream, with backoff. Apart from stream_hub.cc so the protocol stays readable.

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "server/sync/stream_hub.h"

namespace plumb {

void StreamHub::RetryReport(const std::shared_ptr<AgentSession>& s, v1::Report report, int attempt,
                            const absl::Status& error) {
  ++report_store_failures_;
  bool give_up = attempt + 1 >= kReportStoreAttempts;
  LogError("cannot store report", {{"node", s->sync().node()},
                                   {"report", report.id()},
                                   {"attempt", attempt + 1},
                                   {"retry", !give_up},
                                   {"error", error.message()}});
  if (give_up) {
    // Not acknowledged: the agent keeps it queued and re-sends it after reconnecting.
    s->Close(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          absl::StrCat("cannot store report ", report.id(), " (",
                                       kReportStoreAttempts, " attempts): ", error.message())));
    return;
  }
  absl::Duration delay = kReportRetryFirst;
  for (int i = 0; i < attempt && delay < kReportRetryMax; ++i) delay *= 2;
  // The retry holds one of the stream's message slots, so an agent whose reports cannot be
  // stored is not read ahead of them without bound.
  Enqueued(*s);
  PostAfter(std::min(delay, kReportRetryMax),
            [this, s, report = std::move(report), attempt]() mutable {
              absl::Cleanup handled = [this, &s] { Handled(*s); };
              if (s->closing()) return;  // the agent re-sends it after reconnecting
              HandleReport(s, std::move(report), attempt + 1);
            });
}

void StreamHub::Enqueued(AgentSession& s) {
  int depth = s.OnMessageQueued();
  ++queued_messages_;
  int max = max_stream_backlog_.load();
  while (depth > max && !max_stream_backlog_.compare_exchange_weak(max, depth)) {
  }
}

void StreamHub::Handled(AgentSession& s) {
  --queued_messages_;
  s.OnMessageHandled();
}

void StreamHub::PostAfter(absl::Duration delay, std::function<void()> work) {
  queue_.PostAfter(delay, [this, work = std::move(work)] {
    work();
    nodes_.Flush();
  });
}

}  // namespace plumb
