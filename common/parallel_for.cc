#include "common/parallel_for.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

namespace plumb {

void ParallelFor(size_t count, const std::function<void(size_t)>& fn, unsigned max_threads) {
  unsigned threads = max_threads != 0 ? max_threads : std::thread::hardware_concurrency();
  threads = static_cast<unsigned>(std::min<size_t>(std::max(threads, 1u), count));
  if (threads <= 1) {
    for (size_t i = 0; i < count; ++i) fn(i);
    return;
  }
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next.fetch_add(1); i < count; i = next.fetch_add(1)) fn(i);
  };
  std::vector<std::thread> helpers;
  helpers.reserve(threads - 1);
  for (unsigned t = 1; t < threads; ++t) helpers.emplace_back(work);
  work();
  for (std::thread& t : helpers) t.join();
}

}  // namespace plumb
