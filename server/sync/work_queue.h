#pragma once

// A FIFO of closures run by one worker thread. gRPC reactions hand their blocking work
// (SQLite, compiles) here so that they never block gRPC's threads. Work may also be posted to
// run after a delay (retries with backoff), without blocking the worker meanwhile.

#include <deque>
#include <functional>
#include <map>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace plumb {

// Thread-safe.
class WorkQueue {
 public:
  WorkQueue();
  // Runs what is queued, then joins. Delayed work not yet due is dropped.
  ~WorkQueue();

  void Post(std::function<void()> work);
  // Queues `work` once `delay` (real time) has passed, behind what is queued by then.
  void PostAfter(absl::Duration delay, std::function<void()> work);
  // Blocks until everything posted (not PostAfter) before the call has run, and what that
  // work posted in turn: until the queue is empty.
  void Drain();
  // Closures posted and not yet started (delayed ones not due are not counted).
  size_t queued() const;

 private:
  void Loop();
  // Moves delayed work that is due to the queue.
  void PromoteDue() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  absl::CondVar wake_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  std::multimap<absl::Time, std::function<void()>> delayed_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace plumb
