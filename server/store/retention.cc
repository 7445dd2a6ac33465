#include "server/store/retention.h"

#include "common/logging.h"

namespace plumb {

RetentionPruner::RetentionPruner(Store* store, Clock* clock, RetentionPolicy policy,
                                 absl::Duration interval)
    : store_(store), clock_(clock), policy_(policy), interval_(interval) {}

RetentionPruner::~RetentionPruner() { Stop(); }

absl::StatusOr<Store::PruneResult> RetentionPruner::PruneOnce() {
  absl::Time cutoff = policy_.max_age > absl::ZeroDuration() ? clock_->Now() - policy_.max_age
                                                             : absl::InfinitePast();
  absl::StatusOr<Store::PruneResult> result =
      store_->PruneReports(cutoff, policy_.reports_per_node);
  if (!result.ok()) {
    LogWarning("retention pass failed", {{"error", result.status().message()}});
  } else if (result->reports > 0) {
    LogInfo("retention pruned reports", {{"reports", result->reports},
                                         {"resource_events", result->resource_events}});
  }
  return result;
}

void RetentionPruner::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void RetentionPruner::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void RetentionPruner::Loop() {
  while (true) {
    PruneOnce().IgnoreError();  // logged; the next pass retries
    absl::MutexLock lock(&mu_);
    auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
    // Wait on the mutex (not the clock) so Stop() wakes us at once.
    mu_.AwaitWithTimeout(absl::Condition(&stopping), interval_);
    if (stopping_) return;
  }
}

}  // namespace plumb
