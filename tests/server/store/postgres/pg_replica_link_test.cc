// Replicas' link on a real throwaway PostgreSQL: a message reaches every other replica once and
// in order (never its sender), also without its NOTIFY (the poll) and across lost sessions
// (queued, then sent), and a node
// is connected (as PgStore reads it) while a replica with a current heartbeat holds it: it goes
// offline when that replica stops or its heartbeat expires.

#include "server/store/postgres/pg_replica_link.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
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

// The messages one replica received. Thread-safe.
class Inbox {
 public:
  std::function<void(const ReplicaMessage&)> Callback() {
    return [this](const ReplicaMessage& m) {
      absl::MutexLock lock(&mu_);
      got_.push_back(m.origin + "/" + m.kind + "/" + m.ref + "/" + m.payload);
    };
  }
  std::vector<std::string> got() {
    absl::MutexLock lock(&mu_);
    return got_;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::string> got_ ABSL_GUARDED_BY(mu_);
};

PgReplicaLinkOptions Fast() {
  PgReplicaLinkOptions o;
  o.heartbeat = absl::Milliseconds(100);
  o.expiry = absl::Milliseconds(500);
  o.flush = absl::Milliseconds(10);
  o.poll = absl::Milliseconds(200);
  return o;
}

std::unique_ptr<PgReplicaLink> Link(const std::string& url, const std::string& id,
                                    PgReplicaLinkOptions options = Fast()) {
  auto got = PgReplicaLink::Open(url, "", id, options);
  EXPECT_TRUE(got.ok()) << got.status();
  return got.ok() ? std::move(*got) : nullptr;
}

TEST(PgReplicaLinkTest, MessagesReachEveryOtherReplicaOnceInOrder) {
  std::string url = PgCluster::Shared().NewDatabaseUrl();
  ASSERT_TRUE(PgStore::Open(url).ok());  // the schema
  auto a = Link(url, "a"), b = Link(url, "b"), c = Link(url, "c");
  Inbox in_a, in_b, in_c;
  a->Start(in_a.Callback());
  b->Start(in_b.Callback());
  c->Start(in_c.Callback());
  ASSERT_TRUE(WaitFor([&] { return a->OtherLiveReplicas() == 2; }));
  for (int i = 0; i < 50; ++i) a->Send("event", "", std::to_string(i));
  b->Send("run", "run-1", "x");
  std::vector<std::string> from_a;
  for (int i = 0; i < 50; ++i) from_a.push_back("a/event//" + std::to_string(i));
  auto only_a = [](std::vector<std::string> all) {
    std::vector<std::string> out;
    for (const std::string& s : all) {
      if (s[0] == 'a') out.push_back(s);
    }
    return out;
  };
  // b's message reaches a on its own schedule: wait for every inbox, not just two.
  EXPECT_TRUE(WaitFor([&] {
    return in_b.got().size() == 50 && in_c.got().size() == 51 && in_a.got().size() == 1;
  }));
  EXPECT_EQ(in_b.got(), from_a);
  EXPECT_EQ(only_a(in_c.got()), from_a);
  EXPECT_EQ(in_a.got(), std::vector<std::string>{"b/run/run-1/x"});
  // Nothing more arrives (no echo, no second delivery at the next poll): a negative check, so
  // it waits out two poll intervals rather than for a condition.
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_EQ(in_b.got().size(), 50u);
  EXPECT_EQ(in_a.got().size(), 1u);
}

TEST(PgReplicaLinkTest, RowsWithoutANotificationArriveAtThePoll) {
  std::string url = PgCluster::Shared().NewDatabaseUrl();
  ASSERT_TRUE(PgStore::Open(url).ok());
  auto b = Link(url, "b");
  Inbox in_b;
  b->Start(in_b.Callback());
  auto admin = PgConn::Connect(url, "");
  ASSERT_TRUE(admin.ok());
  // b's first turn reads where the log starts, then writes its heartbeat.
  ASSERT_TRUE(WaitFor([&] {
    auto got = (*admin)->Query("SELECT count(*) FROM replica_heartbeats WHERE replica = 'b'");
    return got.ok() && got->Int(0, 0) == 1;
  }));
  // A row whose NOTIFY b never heard (sent while its listener was reconnecting, say).
  ASSERT_TRUE((*admin)
                  ->ExecScript("INSERT INTO replica_messages (origin, kind, ref, payload)"
                               " VALUES ('a', 'event', '', 'x')")
                  .ok());
  EXPECT_TRUE(WaitFor([&] { return in_b.got() == std::vector<std::string>{"a/event//x"}; }));
}

TEST(PgReplicaLinkTest, MessagesQueuedWhileTheSessionIsLostAreSentAfter) {
  std::string url = PgCluster::Shared().NewDatabaseUrl();
  ASSERT_TRUE(PgStore::Open(url).ok());
  auto a = Link(url, "a"), b = Link(url, "b");
  Inbox in_a, in_b;
  a->Start(in_a.Callback());
  b->Start(in_b.Callback());
  ASSERT_TRUE(WaitFor([&] { return a->OtherLiveReplicas() == 1; }));
  auto admin = PgConn::Connect(url, "");
  ASSERT_TRUE(admin.ok());
  // Every session of the database but the admin's ends: a's and b's links and listeners.
  ASSERT_TRUE((*admin)
                  ->Query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE"
                          " datname = current_database() AND pid <> pg_backend_pid()")
                  .ok());
  for (int i = 0; i < 5; ++i) a->Send("event", "", std::to_string(i));
  EXPECT_TRUE(WaitFor([&] { return in_b.got().size() == 5; }));
  EXPECT_EQ(in_b.got().front(), "a/event//0");
  EXPECT_EQ(in_b.got().back(), "a/event//4");
  EXPECT_TRUE(in_a.got().empty());
}

TEST(PgReplicaLinkTest, ANodeIsConnectedWhileALiveReplicaHoldsIt) {
  std::string url = PgCluster::Shared().NewDatabaseUrl();
  auto store = PgStore::Open(url);
  ASSERT_TRUE(store.ok()) << store.status();
  (*store)->EnablePresence();
  v1::Node node;
  node.set_name("web-1");
  node.set_connected(true);  // as a replica that died would have left it
  ASSERT_TRUE((*store)->PutNodes({node}).ok());
  auto connected = [&] {
    auto n = (*store)->GetNode("web-1");
    auto all = (*store)->ListNodes({}, v1::NODE_STATUS_UNSPECIFIED);
    EXPECT_TRUE(n.ok() && all.ok() && all->size() == 1);
    EXPECT_EQ(n->connected(), (*all)[0].connected());
    return n->connected();
  };
  EXPECT_FALSE(connected());  // nobody holds it
  auto a = Link(url, "a"), b = Link(url, "b");
  a->Start([](const ReplicaMessage&) {});
  b->Start([](const ReplicaMessage&) {});
  a->SetHolding("web-1", true);
  EXPECT_TRUE(WaitFor([&] { return connected(); }));
  auto admin = PgConn::Connect(url, "");
  ASSERT_TRUE(admin.ok());
  auto rows = [&](const std::string& replica) -> int64_t {
    auto got = (*admin)->Query("SELECT count(*) FROM node_streams WHERE replica = $1",
                               {PgParam::Text(replica)});
    return got.ok() ? got->Int(0, 0) : -1;
  };
  b->SetHolding("web-1", true);  // it reconnected to b before a noticed
  ASSERT_TRUE(WaitFor([&] { return rows("b") == 1; }));
  a->SetHolding("web-1", false);  // a lets go of its old stream
  ASSERT_TRUE(WaitFor([&] { return rows("a") == 0; }));
  EXPECT_TRUE(connected());
  // b stops beating without saying goodbye (its host died): the node is offline after the expiry.
  b->Stop();  // a clean stop deletes b's rows: put back what a killed b leaves
  ASSERT_TRUE(
      (*admin)
          ->ExecScript("INSERT INTO node_streams VALUES ('web-1', 'b');"
                       " INSERT INTO replica_heartbeats VALUES ('b', now() + interval '5 s')")
          .ok());
  EXPECT_TRUE(connected());
  EXPECT_TRUE(WaitFor([&] { return !connected(); }));
}

}  // namespace
}  // namespace plumb
