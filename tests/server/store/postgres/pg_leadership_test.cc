// Leadership among replicas on one PostgreSQL: one leader at a time through the advisory lock,
// another takes over when the leader's session ends (stopped or killed), and followers hear of
// a new serving revision through LISTEN/NOTIFY.

#include "server/store/postgres/pg_leadership.h"

#include <atomic>
#include <memory>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "server/store/postgres/pg_conn.h"
#include "server/store/postgres/pg_store.h"
#include "tests/testing/pg_cluster.h"
#include "tests/testing/wait_for.h"

namespace plumb {
namespace {

using testing::PgCluster;
using testing::WaitFor;

std::unique_ptr<PgLeadership> Open(const std::string& url) {
  auto got = PgLeadership::Open(url, "", absl::Milliseconds(100));
  EXPECT_TRUE(got.ok()) << got.status();
  return got.ok() ? std::move(*got) : nullptr;
}

TEST(PgLeadershipTest, OneLeaderAndTakeoverWhenItStops) {
  std::string url = PgCluster::Shared().NewDatabaseUrl();
  auto a = Open(url);
  auto b = Open(url);
  std::atomic<int> b_changes{0};
  a->Start([] {});
  EXPECT_TRUE(a->IsLeader());  // the first to start leads from its start
  b->Start([&] { ++b_changes; });
  EXPECT_FALSE(b->IsLeader());
  a->Stop();
  EXPECT_TRUE(WaitFor([&] { return b->IsLeader(); }));
  EXPECT_FALSE(a->IsLeader());
  EXPECT_TRUE(WaitFor([&] { return b_changes.load() >= 1; }));  // its poller is woken
}

TEST(PgLeadershipTest, KilledLeaderSessionHandsOverAndNeverTwoLeaders) {
  std::string url = PgCluster::Shared().NewDatabaseUrl();
  auto a = Open(url);
  auto b = Open(url);
  a->Start([] {});
  b->Start([] {});
  ASSERT_TRUE(a->IsLeader());
  auto admin = PgConn::Connect(url, "");
  ASSERT_TRUE(admin.ok());
  auto holder = [&]() -> int64_t {  // the backend pid holding the lock, 0 if none
    auto got = (*admin)->Query("SELECT pid FROM pg_locks WHERE locktype = 'advisory'");
    return got.ok() && got->rows() == 1 ? got->Int(0, 0) : 0;
  };
  int64_t killed = holder();
  ASSERT_NE(killed, 0);
  // What the database sees when the leader's host dies: its session ends.
  ASSERT_TRUE((*admin)->Query("SELECT pg_terminate_backend($1::int)", {PgParam::Int(killed)}).ok());
  // A new session holds the lock (either replica may win it), and its replica knows it.
  EXPECT_TRUE(WaitFor([&] {
    int64_t now = holder();
    return now != 0 && now != killed && (a->IsLeader() || b->IsLeader());
  }));
  EXPECT_FALSE(a->IsLeader() && b->IsLeader());
}

TEST(PgLeadershipTest, AReplicaStartsWhileAnotherLeads) {
  std::string url = PgCluster::Shared().NewDatabaseUrl();
  auto leader = Open(url);
  leader->Start([] {});
  ASSERT_TRUE(leader->IsLeader());
  // Start-up migrations take their own advisory lock: not the leader's (that would hang here).
  auto store = PgStore::Open(url);
  EXPECT_TRUE(store.ok()) << store.status();
}

TEST(PgLeadershipTest, FollowerHearsOfNewServingRevision) {
  std::string url = PgCluster::Shared().NewDatabaseUrl();
  auto store = PgStore::Open(url);
  ASSERT_TRUE(store.ok()) << store.status();
  auto leader = Open(url);
  auto follower = Open(url);
  leader->Start([] {});
  std::atomic<int> changes{0};
  follower->Start([&] { ++changes; });
  ASSERT_FALSE(follower->IsLeader());
  v1::Revision rev;
  rev.set_sha("0123456789abcdef0123456789abcdef01234567");
  rev.set_status(v1::REVISION_OK);
  ASSERT_TRUE((*store)->PutRevision(rev).ok());
  ASSERT_TRUE((*store)->SetServingRevision(rev.sha()).ok());
  EXPECT_TRUE(WaitFor([&] { return changes.load() >= 1; }));
}

TEST(PgLeadershipTest, AFollowerAsksTheLeaderToFetch) {
  std::string url = PgCluster::Shared().NewDatabaseUrl();
  auto leader = Open(url);
  auto follower = Open(url);
  std::atomic<int> leader_changes{0};
  leader->Start([&] { ++leader_changes; });
  follower->Start([] {});
  ASSERT_TRUE(leader->IsLeader());
  int before = leader_changes.load();
  follower->RequestLeaderSync();  // a webhook reached the follower
  EXPECT_TRUE(WaitFor([&] { return leader_changes.load() > before; }));
}

}  // namespace
}  // namespace plumb
