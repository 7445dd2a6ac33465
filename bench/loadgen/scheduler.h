#pragma once

// A single thread that runs closures at given times. The load generator uses it for the
// simulated agents' apply delay, so thousands of agents wait without a thread each.

#include <functional>
#include <queue>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace plumb {
namespace bench {

// Thread-safe. Closures run one at a time on the scheduler's thread, in time order; they must
// not block. Closures still queued at destruction are dropped, not run.
class Scheduler {
 public:
  Scheduler();
  ~Scheduler();  // stops and joins

  // Runs `work` at (or soon after) `when`.
  void RunAt(absl::Time when, std::function<void()> work);

 private:
  // One queued closure; `seq` keeps equal times in insertion order.
  struct Entry {
    absl::Time when;
    uint64_t seq;
    std::function<void()> work;
    bool operator>(const Entry& o) const {
      return when != o.when ? when > o.when : seq > o.seq;
    }
  };

  void Loop();

  absl::Mutex mu_;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> queue_ ABSL_GUARDED_BY(mu_);
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace bench
}  // namespace plumb
