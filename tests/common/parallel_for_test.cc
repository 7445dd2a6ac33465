#include "common/parallel_for.h"

#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace plumb {
namespace {

TEST(ParallelForTest, CallsEveryIndexExactlyOnce) {
  std::vector<std::atomic<int>> calls(1000);
  ParallelFor(calls.size(), [&](size_t i) { calls[i].fetch_add(1); }, 4);
  for (size_t i = 0; i < calls.size(); ++i) EXPECT_EQ(calls[i].load(), 1) << i;
}

TEST(ParallelForTest, UsesSeveralThreadsWhenAsked) {
  // Each item waits until two distinct threads have arrived, so a single-threaded loop would
  // never finish the first item; the wait is bounded so a failure is a failed expectation.
  std::mutex mu;
  std::set<std::thread::id> seen;
  std::atomic<bool> two{false};
  ParallelFor(2, [&](size_t) {
    {
      std::lock_guard<std::mutex> lock(mu);
      seen.insert(std::this_thread::get_id());
      if (seen.size() >= 2) two = true;
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!two && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  }, 2);
  EXPECT_TRUE(two.load());
}

TEST(ParallelForTest, RunsInlineForOneItemOrOneThread) {
  std::thread::id caller = std::this_thread::get_id();
  std::vector<std::thread::id> ids(5);
  ParallelFor(ids.size(), [&](size_t i) { ids[i] = std::this_thread::get_id(); }, 1);
  for (const auto& id : ids) EXPECT_EQ(id, caller);
  ParallelFor(0, [&](size_t) { ADD_FAILURE() << "called for an empty range"; });
}

}  // namespace
}  // namespace plumb
