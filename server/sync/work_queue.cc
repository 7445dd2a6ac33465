#include "server/sync/work_queue.h"

#include "absl/synchronization/notification.h"

namespace plumb {

WorkQueue::WorkQueue() : thread_([this] { Loop(); }) {}

WorkQueue::~WorkQueue() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    wake_.Signal();
  }
  thread_.join();
}

void WorkQueue::Post(std::function<void()> work) {
  absl::MutexLock lock(&mu_);
  queue_.push_back(std::move(work));
  wake_.Signal();
}

void WorkQueue::PostAfter(absl::Duration delay, std::function<void()> work) {
  absl::MutexLock lock(&mu_);
  delayed_.emplace(absl::Now() + delay, std::move(work));
  wake_.Signal();  // the worker may be waiting for a later deadline
}

void WorkQueue::Drain() {
  // Work that queued work posts (a report batch's flush) is drained too: until a marker finds
  // nothing behind it.
  while (true) {
    absl::Notification done;
    bool idle = false;
    Post([this, &done, &idle] {
      {
        absl::MutexLock lock(&mu_);
        idle = queue_.empty();
      }
      done.Notify();
    });
    done.WaitForNotification();
    if (idle) return;
  }
}

size_t WorkQueue::queued() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

void WorkQueue::PromoteDue() {
  absl::Time now = absl::Now();
  while (!delayed_.empty() && delayed_.begin()->first <= now) {
    queue_.push_back(std::move(delayed_.begin()->second));
    delayed_.erase(delayed_.begin());
  }
}

void WorkQueue::Loop() {
  while (true) {
    std::function<void()> work;
    {
      absl::MutexLock lock(&mu_);
      while (true) {
        PromoteDue();
        if (!queue_.empty()) break;
        if (stopping_) return;  // drained; delayed work not yet due is dropped
        if (delayed_.empty()) {
          wake_.Wait(&mu_);
        } else {
          wake_.WaitWithDeadline(&mu_, delayed_.begin()->first);
        }
      }
      work = std::move(queue_.front());
      queue_.pop_front();
    }
    work();
  }
}

}  // namespace plumb
