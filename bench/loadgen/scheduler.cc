#include "bench/loadgen/scheduler.h"

#include "absl/time/clock.h"

namespace plumb {
namespace bench {

Scheduler::Scheduler() : thread_([this] { Loop(); }) {}

Scheduler::~Scheduler() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void Scheduler::RunAt(absl::Time when, std::function<void()> work) {
  absl::MutexLock lock(&mu_);
  queue_.push(Entry{when, next_seq_++, std::move(work)});
}

void Scheduler::Loop() {
  mu_.Lock();
  while (!stopping_) {
    absl::Time deadline = queue_.empty() ? absl::Now() + absl::Milliseconds(100) : queue_.top().when;
    if (absl::Now() < deadline) {
      // Wakes early when something is queued (it may be due sooner) or we are stopping.
      size_t size = queue_.size();
      auto changed = [this, size]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || queue_.size() != size;
      };
      mu_.AwaitWithDeadline(absl::Condition(&changed), deadline);
      continue;
    }
    std::function<void()> work = std::move(const_cast<Entry&>(queue_.top()).work);
    queue_.pop();
    mu_.Unlock();
    work();
    mu_.Lock();
  }
  mu_.Unlock();
}

}  // namespace bench
}  // namespace plumb
