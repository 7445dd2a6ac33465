// The notification dispatcher on a real throwaway PostgreSQL: channels reach their own
// callbacks, a lost session is re-opened and LISTENs again (callbacks told they may have missed
// notifications), and the poll fallback ticks without any notification.

#include "server/store/postgres/pg_notifications.h"

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "server/store/postgres/pg_conn.h"
#include "tests/testing/pg_cluster.h"
#include "tests/testing/wait_for.h"

namespace plumb {
namespace {

using testing::PgCluster;
using testing::WaitFor;

// What one callback received. Thread-safe.
class Received {
 public:
  PgNotificationDispatcher::Callback Callback() {
    return [this](const std::string& payload, bool missed) {
      absl::MutexLock lock(&mu_);
      if (missed) {
        ++missed_;
      } else {
        payloads_.push_back(payload);
      }
    };
  }
  std::vector<std::string> payloads() {
    absl::MutexLock lock(&mu_);
    return payloads_;
  }
  int missed() {
    absl::MutexLock lock(&mu_);
    return missed_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> payloads_ ABSL_GUARDED_BY(mu_);
  int missed_ ABSL_GUARDED_BY(mu_) = 0;
};

std::unique_ptr<PgConn> Admin(const std::string& url) {
  auto conn = PgConn::Connect(url, "");
  EXPECT_TRUE(conn.ok()) << conn.status();
  return conn.ok() ? std::move(*conn) : nullptr;
}

void Notify(PgConn& conn, const std::string& channel, const std::string& payload) {
  ASSERT_TRUE(
      conn.Query("SELECT pg_notify($1, $2)", {PgParam::Text(channel), PgParam::Text(payload)})
          .ok());
}

TEST(PgNotificationDispatcherTest, EachChannelReachesItsCallbacksInOrder) {
  std::string url = PgCluster::Shared().NewDatabaseUrl();
  auto d = PgNotificationDispatcher::Open(url, "", absl::Minutes(1));
  ASSERT_TRUE(d.ok()) << d.status();
  Received red, blue;
  ASSERT_TRUE((*d)->Subscribe("red", red.Callback()).ok());
  ASSERT_TRUE((*d)->Subscribe("blue", blue.Callback()).ok());
  (*d)->Start();
  ASSERT_TRUE(WaitFor([&] { return red.missed() == 1; }));  // listening now
  auto admin = Admin(url);
  Notify(*admin, "red", "1");
  Notify(*admin, "blue", "x");
  Notify(*admin, "red", "2");
  Notify(*admin, "green", "nobody");
  EXPECT_TRUE(WaitFor([&] { return red.payloads().size() == 2 && blue.payloads().size() == 1; }));
  EXPECT_EQ(red.payloads(), (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(blue.payloads(), (std::vector<std::string>{"x"}));
  (*d)->Stop();
}

TEST(PgNotificationDispatcherTest, ReconnectsListensAgainAndSaysItMayHaveMissedSome) {
  std::string url = PgCluster::Shared().NewDatabaseUrl();
  auto d = PgNotificationDispatcher::Open(url, "", absl::Minutes(1), absl::Milliseconds(50));
  ASSERT_TRUE(d.ok()) << d.status();
  Received got;
  ASSERT_TRUE((*d)->Subscribe("plumb_test", got.Callback()).ok());
  (*d)->Start();
  ASSERT_TRUE(WaitFor([&] { return got.missed() == 1; }));
  auto admin = Admin(url);
  // The database ends the dispatcher's session (a restart, a network cut, an operator).
  ASSERT_TRUE(admin
                  ->Query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE"
                          " query LIKE 'LISTEN%' AND pid <> pg_backend_pid()")
                  .ok());
  EXPECT_TRUE(WaitFor([&] { return (*d)->sessions() == 2 && got.missed() == 2; }));
  Notify(*admin, "plumb_test", "after");
  EXPECT_TRUE(WaitFor([&] { return got.payloads() == std::vector<std::string>{"after"}; }));
}

TEST(PgNotificationDispatcherTest, PollTicksWithoutNotifications) {
  std::string url = PgCluster::Shared().NewDatabaseUrl();
  auto d = PgNotificationDispatcher::Open(url, "", absl::Milliseconds(50));
  ASSERT_TRUE(d.ok()) << d.status();
  Received got;
  ASSERT_TRUE((*d)->Subscribe("quiet", got.Callback()).ok());
  (*d)->Start();
  EXPECT_TRUE(WaitFor([&] { return got.missed() >= 4; }));
  EXPECT_TRUE(got.payloads().empty());
}

TEST(PgNotificationDispatcherTest, RefusesChannelsThatAreNotPlainNames) {
  std::string url = PgCluster::Shared().NewDatabaseUrl();
  auto d = PgNotificationDispatcher::Open(url, "");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_FALSE((*d)->Subscribe("a; DROP TABLE nodes", [](const std::string&, bool) {}).ok());
  EXPECT_FALSE((*d)->Subscribe("Upper", [](const std::string&, bool) {}).ok());
  EXPECT_FALSE((*d)->Subscribe("", [](const std::string&, bool) {}).ok());
  EXPECT_TRUE((*d)->Subscribe("plumb_ok_1", [](const std::string&, bool) {}).ok());
  (*d)->Start();
  (*d)->Stop();  // at once, though the poll interval is seconds
}

}  // namespace
}  // namespace plumb
