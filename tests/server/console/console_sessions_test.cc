#include "server/console/console_sessions.h"

#include "gtest/gtest.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using testing::ManualClock;

TEST(ConsoleSessionsTest, CreatedSessionIsFoundUntilItExpires) {
  ManualClock clock;
  ConsoleSessions sessions(&clock, absl::Hours(1));
  auto s = sessions.Create("token");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->id.size(), 64u);
  EXPECT_NE(s->id, s->csrf);
  ASSERT_TRUE(sessions.Find(s->id).has_value());
  EXPECT_FALSE(sessions.Find("not-an-id").has_value());
  EXPECT_FALSE(sessions.Find("").has_value());
  clock.Advance(absl::Minutes(59));
  EXPECT_TRUE(sessions.Find(s->id).has_value());
  clock.Advance(absl::Minutes(1));
  EXPECT_FALSE(sessions.Find(s->id).has_value());
  EXPECT_EQ(sessions.size(), 0u);  // the expired one was dropped
}

TEST(ConsoleSessionsTest, RemoveSignsOut) {
  ManualClock clock;
  ConsoleSessions sessions(&clock, absl::Hours(1));
  auto s = sessions.Create("token");
  ASSERT_TRUE(s.ok());
  sessions.Remove(s->id);
  EXPECT_FALSE(sessions.Find(s->id).has_value());
}

TEST(ConsoleSessionsTest, TableIsBoundedDroppingTheSoonestToExpire) {
  ManualClock clock;
  ConsoleSessions sessions(&clock, absl::Hours(1), 3);
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    auto s = sessions.Create("token");
    ASSERT_TRUE(s.ok());
    ids.push_back(s->id);
    clock.Advance(absl::Seconds(1));
  }
  EXPECT_EQ(sessions.size(), 3u);
  EXPECT_FALSE(sessions.Find(ids[0]).has_value());
  EXPECT_FALSE(sessions.Find(ids[1]).has_value());
  EXPECT_TRUE(sessions.Find(ids[4]).has_value());
}

TEST(ConsoleSessionsTest, CsrfTokenMustMatchTheLiveSession) {
  ManualClock clock;
  ConsoleSessions sessions(&clock, absl::Hours(1));
  auto a = sessions.Create("token");
  auto b = sessions.Create("token");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(sessions.CheckCsrf(a->id, a->csrf));
  EXPECT_FALSE(sessions.CheckCsrf(a->id, b->csrf));
  EXPECT_FALSE(sessions.CheckCsrf(a->id, ""));
  EXPECT_FALSE(sessions.CheckCsrf("unknown", a->csrf));
  clock.Advance(absl::Hours(2));
  EXPECT_FALSE(sessions.CheckCsrf(a->id, a->csrf));
}

}  // namespace
}  // namespace plumb

namespace plumb {
namespace {

TEST(ConsoleSessionsTest, SessionsSurviveARestartThroughTheirFile) {
  testing::ManualClock clock;
  testing::TempDir dir;
  std::string file = dir.Sub("sessions");
  std::string id, csrf, gone;
  {
    ConsoleSessions sessions(&clock, absl::Hours(1), 10, file);
    ASSERT_TRUE(sessions.Load().ok());  // no file yet
    auto s = sessions.Create("alice smith");
    auto t = sessions.Create("token");
    ASSERT_TRUE(s.ok() && t.ok());
    id = s->id;
    csrf = s->csrf;
    gone = t->id;
    sessions.Remove(gone);
  }
  EXPECT_EQ(testing::ReadFileOrEmpty(file).find(id), std::string::npos);  // hashes only
  ConsoleSessions restarted(&clock, absl::Hours(1), 10, file);
  ASSERT_TRUE(restarted.Load().ok());
  auto found = restarted.Find(id);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->who, "alice smith");
  EXPECT_TRUE(restarted.CheckCsrf(id, csrf));
  EXPECT_FALSE(restarted.Find(gone).has_value());
  clock.Advance(absl::Hours(2));
  ConsoleSessions later(&clock, absl::Hours(1), 10, file);
  ASSERT_TRUE(later.Load().ok());
  EXPECT_EQ(later.size(), 0u);  // expired ones are not loaded
}

}  // namespace
}  // namespace plumb
