#pragma once

// Retention: keeps the database bounded for a fleet that reports every few minutes for years.
// A pass deletes reports (with their resource events) older than max_age or beyond each node's
// newest reports_per_node; it runs at startup and then every interval.

#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "server/store/store.h"

namespace plumb {

// Server config `retention: {reports_per_node: 500, max_age: 30d}`. Zero disables a limit.
struct RetentionPolicy {
  int reports_per_node = 500;
  absl::Duration max_age = absl::Hours(24 * 30);
};

// Thread-safe. `store` and `clock` are not owned and must outlive the pruner.
class RetentionPruner {
 public:
  RetentionPruner(Store* store, Clock* clock, RetentionPolicy policy,
                  absl::Duration interval = absl::Minutes(10));
  ~RetentionPruner();  // Stops the loop.

  // One pass now, with the cutoff taken from the clock. Returns what was deleted.
  absl::StatusOr<Store::PruneResult> PruneOnce();

  // Runs PruneOnce at once and then every interval on a thread of its own, until Stop().
  void Start();
  void Stop();

 private:
  void Loop();

  Store* const store_;
  Clock* const clock_;
  const RetentionPolicy policy_;
  const absl::Duration interval_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace plumb
