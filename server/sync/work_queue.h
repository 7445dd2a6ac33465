#pragma once

// A FIFO of closures run by one worker thread. gRPC reactions hand their blocking work
// (SQLite, compiles) here so that they never block gRPC's threads.

#include <deque>
#include <functional>
#include <thread>

#include "absl/synchronization/mutex.h"

namespace plumb {

// Thread-safe.
class WorkQueue {
 public:
  WorkQueue();
  ~WorkQueue();  // Runs what is queued, then joins.

  void Post(std::function<void()> work);
  // Blocks until everything posted before the call has run.
  void Drain();

 private:
  void Loop();

  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace plumb
