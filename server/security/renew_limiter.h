#pragma once

// Rate limit of certificate renewals (AgentService.Renew) per node: each one signs a
// certificate and writes SQLite, so one host looping on Renew must not keep the CA busy.

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace plumb {

// Thread-safe. `clock` is not owned and must outlive the limiter.
class RenewLimiter {
 public:
  static constexpr absl::Duration kDefaultInterval = absl::Minutes(1);

  explicit RenewLimiter(Clock* clock, absl::Duration interval = kDefaultInterval)
      : clock_(clock), interval_(interval) {}

  // OK, and counts the attempt, if `node` made no attempt in the last `interval`; otherwise
  // ResourceExhausted saying when it may try again. Attempts are counted whatever their
  // outcome: the cost is in trying.
  absl::Status Admit(const std::string& node);

 private:
  Clock* const clock_;
  const absl::Duration interval_;
  absl::Mutex mu_;
  // Last admitted attempt per node; entries older than interval_ are pruned as it grows, so
  // it holds at most the nodes that renewed in the last interval.
  std::map<std::string, absl::Time> last_ ABSL_GUARDED_BY(mu_);
  size_t prune_at_ ABSL_GUARDED_BY(mu_) = 1024;
};

}  // namespace plumb
