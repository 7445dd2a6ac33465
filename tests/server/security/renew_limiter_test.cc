// At most one certificate renewal per node and interval; other nodes are not affected.

#include "server/security/renew_limiter.h"

#include "gtest/gtest.h"
#include "tests/testing/fake_clock.h"

namespace plumb {
namespace {

TEST(RenewLimiterTest, OnePerNodePerMinute) {
  testing::ManualClock clock;
  RenewLimiter limiter(&clock);
  EXPECT_TRUE(limiter.Admit("web-1").ok());
  absl::Status again = limiter.Admit("web-1");
  EXPECT_TRUE(absl::IsResourceExhausted(again)) << again;
  EXPECT_NE(again.message().find("try again in 1m"), std::string::npos) << again;
  EXPECT_TRUE(limiter.Admit("web-2").ok()) << "another node has its own budget";
  clock.Advance(absl::Seconds(59));
  EXPECT_TRUE(absl::IsResourceExhausted(limiter.Admit("web-1")));
  clock.Advance(absl::Seconds(1));
  EXPECT_TRUE(limiter.Admit("web-1").ok());
}

TEST(RenewLimiterTest, ForgetsNodesWhoseIntervalPassed) {
  testing::ManualClock clock;
  RenewLimiter limiter(&clock);
  for (int i = 0; i < 5000; ++i) ASSERT_TRUE(limiter.Admit("n" + std::to_string(i)).ok());
  clock.Advance(absl::Minutes(2));
  // Pruning happens as the map grows; what matters is behaviour: old nodes may renew again.
  for (int i = 0; i < 5000; ++i) ASSERT_TRUE(limiter.Admit("n" + std::to_string(i)).ok());
}

}  // namespace
}  // namespace plumb
