#pragma once

// Tracks on-demand runs (FleetService.Run): which nodes were asked under a request id and
// the reports that answer it, so the caller can wait for every node's outcome.

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
  // Blocks until every asked node has reported or `timeout` passed; returns the reports
  // received so far (node -> summary) and stops tracking the request.
  std::map<std::string, v1::ReportSummary> Wait(const std::string& request_id,
                                                absl::Duration timeout);
  // Stops tracking without waiting.
  void End(const std::string& request_id);

 private:
  struct Pending {
    bool asked_known = false;
    std::set<std::string> asked;
    std::map<std::string, v1::ReportSummary> reports;
  };
  absl::Mutex mu_;
  std::map<std::string, Pending> pending_ ABSL_GUARDED_BY(mu_);
  uint64_t next_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace plumb
