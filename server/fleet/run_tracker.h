#pragma once

// Tracks on-demand runs (FleetService.Run): which nodes were asked under a request id and
// the reports that answer it, so the caller can wait for every node's outcome.

#include <deque>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "plumb/v1/fleet.pb.h"

namespace plumb {

// Thread-safe.
class RunTracker {
 public:
  // Starts tracking a new request; returns its id.
  std::string Begin();
  // The nodes the request was actually sent to.
  void SetAsked(const std::string& request_id, const std::vector<std::string>& nodes);
  // Records a report; ignored unless it answers a tracked request.
  void Deliver(const std::string& request_id, const v1::ReportSummary& summary);
  // Like Deliver, but never forwards (a report another replica forwarded: no loops).
  void DeliverForwarded(const std::string& request_id, const v1::ReportSummary& summary);
  // Blocks until every asked node has reported or `timeout` passed; returns the reports
  // received so far (node -> summary) and stops tracking the request.
  std::map<std::string, v1::ReportSummary> Wait(const std::string& request_id,
                                                absl::Duration timeout);
  // Stops tracking without waiting.
  void End(const std::string& request_id);

  // Replicas (server/fleet/replica_relay.h). The request was also sent to `replicas` other
  // replicas, each answering once with the nodes it asked (Answer).
  void ExpectAnswers(const std::string& request_id, int replicas);
  void Answer(const std::string& request_id, const std::vector<std::string>& nodes);
  // Waits until every expected answer came (or `timeout` passed); returns every node asked
  // so far, here and on the other replicas.
  std::vector<std::string> WaitAsked(const std::string& request_id, absl::Duration timeout);
  // A request another replica tracks: reports answering it go to the forward function (set
  // once, before any) instead. The last kMaxRemote such requests are remembered.
  void TrackRemote(const std::string& request_id);
  void set_forward(std::function<void(const std::string&, const v1::ReportSummary&)> forward);
  static constexpr size_t kMaxRemote = 4096;

 private:
  struct Pending {
    bool asked_known = false;
    std::set<std::string> asked;
    std::map<std::string, v1::ReportSummary> reports;
    int answers_expected = 0;
    int answers = 0;
  };
  absl::Mutex mu_;
  std::map<std::string, Pending> pending_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> remote_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> remote_order_ ABSL_GUARDED_BY(mu_);
  std::function<void(const std::string&, const v1::ReportSummary&)> forward_ ABSL_GUARDED_BY(mu_);
  uint64_t next_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace plumb
