#pragma once

// A few threads that run the HTTP routes that may block (/metrics and /readyz take the store's
// lock, which a long write can hold) off the listener's loop thread, so that a slow store never
// delays /healthz. Finished responses are collected by the loop, woken through an eventfd.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/http/http_request.h"

namespace plumb {

// Thread-safe. The threads run from construction until destruction, which waits for the jobs
// that are running (not for queued ones).
class HttpHandlerPool {
 public:
  // `wake_fd` (an eventfd, owned by the caller and open for the pool's lifetime) is written
  // each time a response is done.
  HttpHandlerPool(size_t threads, size_t max_queued, int wake_fd);
  ~HttpHandlerPool();

  // Queues `job` for connection `connection`. Returns false (and drops the job) when
  // max_queued jobs wait already.
  bool Submit(uint64_t connection, std::function<HttpResponse()> job);

  // The responses finished since the last call, with their connection ids.
  std::vector<std::pair<uint64_t, HttpResponse>> TakeDone();

 private:
  void Work();

  const size_t max_queued_;
  const int wake_fd_;
  absl::Mutex mu_;
  std::deque<std::pair<uint64_t, std::function<HttpResponse()>>> jobs_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<uint64_t, HttpResponse>> done_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace plumb
