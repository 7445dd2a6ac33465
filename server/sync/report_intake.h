#pragma once

// Report intake, the hub's half of "nothing lost": takes the reports agents send, keeps out
// what the server must not hold (diffs of sensitive resources), stores every report taken since
// the last flush in one transaction (group commit: with synchronous=FULL one disk sync per
// batch, not per report), then updates the node rows, publishes run and drift events and
// metrics, and only then acknowledges each report, so an acknowledged report is durable and
// `plumbctl node` already shows it.

#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "common/clock.h"
#include "plumb/v1/agent.pb.h"
#include "server/fleet/event_bus.h"
#include "server/fleet/run_tracker.h"
#include "server/http/server_metrics.h"
#include "server/store/store.h"
#include "server/sync/agent_session.h"
#include "server/sync/node_book.h"

namespace plumb {

// Thread-compatible: used by the hub's worker thread only.
class ReportIntake {
 public:
  // Nothing is owned; all must outlive the intake. `events` and `metrics` may be null.
  ReportIntake(Store* store, NodeBook* nodes, RunTracker* runs, Clock* clock, EventBus* events,
               ServerMetrics* metrics)
      : store_(store), nodes_(nodes), runs_(runs), clock_(clock), events_(events),
        metrics_(metrics) {}

  // Takes `report` from `s`'s stream; `attempt` counts earlier failed attempts to store it.
  // Returns true when it starts a new batch: the caller must then have Flush() run (after the
  // work already queued, so that a burst of reports shares one transaction).
  bool Take(const std::shared_ptr<AgentSession>& s, v1::Report report, int attempt);

  // A report the store refused, to be taken again later (or given up on).
  struct Refused {
    std::shared_ptr<AgentSession> session;
    v1::Report report;
    int attempt = 0;
    absl::Status error;
  };
  // Stores the batch, then updates nodes, publishes, acknowledges. Returns the reports of a
  // batch the store refused (none of the batch was stored then).
  std::vector<Refused> Flush();

  size_t pending() const { return batch_.size(); }

 private:
  struct Taken {
    std::shared_ptr<AgentSession> session;
    v1::Report report;
    int attempt = 0;
  };
  // The report was stored (`is_new`: not a re-send): the node row, events, metrics, run tracker.
  void Record(const Taken& taken, bool is_new);
  void Observe(const v1::Report& report, const v1::ReportSummary& summary);

  Store* const store_;
  NodeBook* const nodes_;
  RunTracker* const runs_;
  Clock* const clock_;
  EventBus* const events_;
  ServerMetrics* const metrics_;
  std::vector<Taken> batch_;
};

// Clears diffs the server must not keep, using the catalogs `s` was sent (the one acknowledged
// and the one in flight): those of resources either marks sensitive, and every diff when the
// report is of a revision neither is (nobody can tell then). Returns how many were cleared.
int ScrubReport(const AgentSession& s, v1::Report* report);

}  // namespace plumb
