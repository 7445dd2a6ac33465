#include "server/http/http_handler_pool.h"

#include <unistd.h>

namespace plumb {

HttpHandlerPool::HttpHandlerPool(size_t threads, size_t max_queued, int wake_fd)
    : max_queued_(max_queued), wake_fd_(wake_fd) {
  for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { Work(); });
}

HttpHandlerPool::~HttpHandlerPool() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : threads_) t.join();
}

bool HttpHandlerPool::Submit(uint64_t connection, std::function<HttpResponse()> job) {
  absl::MutexLock lock(&mu_);
  if (jobs_.size() >= max_queued_) return false;
  jobs_.emplace_back(connection, std::move(job));
  return true;
}

std::vector<std::pair<uint64_t, HttpResponse>> HttpHandlerPool::TakeDone() {
  absl::MutexLock lock(&mu_);
  return std::exchange(done_, {});
}

void HttpHandlerPool::Work() {
  while (true) {
    std::pair<uint64_t, std::function<HttpResponse()>> job;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](HttpHandlerPool* p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->mu_) {
            return p->stopping_ || !p->jobs_.empty();
          },
          this));
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    HttpResponse response = job.second();
    {
      absl::MutexLock lock(&mu_);
      done_.emplace_back(job.first, std::move(response));
    }
    uint64_t one = 1;
    // A full eventfd counter (never in practice) still leaves it readable: the loop wakes.
    (void)!write(wake_fd_, &one, sizeof(one));
  }
}

}  // namespace plumb
