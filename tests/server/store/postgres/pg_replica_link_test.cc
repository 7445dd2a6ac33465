// Replicas' link on a real throwaway PostgreSQL: a message reaches every other replica once and
// in order (never its sender), also without its NOTIFY (the poll) and across lost sessions
// (queued, then sent), and a node is connected (as PgStore reads it) while a replica with a
// current heartbeat holds it: it goes offline when that replica stops or its heartbeat expires;
// its status follows (offline then, online again as soon as another replica holds it).

#include "server/store/postgres/pg_replica_link.h"

#include <map>
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

v1::Node Row(const std::string& name, v1::NodeStatus status, bool connected) {
  v1::Node node;
  node.set_name(name);
  node.set_status(status);
  node.set_connected(connected);
  return node;
}

// A node's status follows its presence like `connected`: a replica's late disconnect does not
// make a node offline while another live replica holds it, the nodes of a replica that died read
// offline once its heartbeat expires, and a node another replica takes up reads online at once,
// with no row written. Before, status was whatever the row's last writer said.
TEST(PgReplicaLinkTest, ANodesStatusFollowsTheReplicasThatHoldIt) {
  std::string url = PgCluster::Shared().NewDatabaseUrl();
  auto opened = PgStore::Open(url);
  ASSERT_TRUE(opened.ok()) << opened.status();
  PgStore& store = **opened;
  store.EnablePresence();
  auto admin = PgConn::Connect(url, "");
  ASSERT_TRUE(admin.ok());
  auto rows = [&](const std::string& replica) -> int64_t {
    auto got = (*admin)->Query("SELECT count(*) FROM node_streams WHERE replica = $1",
                               {PgParam::Text(replica)});
    return got.ok() ? got->Int(0, 0) : -1;
  };
  auto status = [&](const std::string& node) {
    auto n = store.GetNode(node);
    EXPECT_TRUE(n.ok()) << n.status();
    return n.ok() ? n->status() : v1::NODE_STATUS_UNSPECIFIED;
  };
  auto named = [&](v1::NodeStatus filter) {
    std::vector<std::string> names;
    auto got = store.ListNodes({}, filter);
    EXPECT_TRUE(got.ok()) << got.status();
    if (got.ok()) {
      for (const v1::Node& n : *got) names.push_back(n.name());
    }
    return names;
  };
  auto a = Link(url, "a"), b = Link(url, "b");
  a->Start([](const ReplicaMessage&) {});
  b->Start([](const ReplicaMessage&) {});

  // web-1 moves from a to b; b writes its connect before a writes its disconnect.
  a->SetHolding("web-1", true);
  ASSERT_TRUE(store.PutNodes({Row("web-1", v1::NODE_CONVERGED, true)}).ok());
  b->SetHolding("web-1", true);
  ASSERT_TRUE(store.PutNodes({Row("web-1", v1::NODE_CONVERGED, true)}).ok());
  ASSERT_TRUE(WaitFor([&] { return rows("b") == 1; }));
  a->SetHolding("web-1", false);
  ASSERT_TRUE(store.PutNodes({Row("web-1", v1::NODE_OFFLINE, false)}).ok());
  ASSERT_TRUE(WaitFor([&] { return rows("a") == 0; }));
  EXPECT_EQ(status("web-1"), v1::NODE_CONVERGED);
  EXPECT_EQ(named(v1::NODE_CONVERGED), std::vector<std::string>{"web-1"});
  EXPECT_TRUE(named(v1::NODE_OFFLINE).empty());

  // web-2 on b (connected as b wrote it); web-3 ran once and left; web-4 is revoked.
  b->SetHolding("web-2", true);
  ASSERT_TRUE(store.PutNodes({Row("web-2", v1::NODE_FAILED, true),
                              Row("web-3", v1::NODE_CONVERGED, false),
                              Row("web-4", v1::NODE_REVOKED, true)})
                  .ok());
  ASSERT_TRUE(WaitFor([&] { return rows("b") == 2; }));
  EXPECT_EQ(status("web-2"), v1::NODE_FAILED);
  // b dies: a clean stop deletes its rows, so put back what a killed b leaves.
  b->Stop();
  ASSERT_TRUE((*admin)
                  ->ExecScript("INSERT INTO node_streams VALUES ('web-1', 'b'), ('web-2', 'b');"
                               " INSERT INTO replica_heartbeats VALUES ('b', now() + interval"
                               " '2 s')")
                  .ok());
  EXPECT_EQ(status("web-2"), v1::NODE_FAILED);
  EXPECT_TRUE(WaitFor([&] { return status("web-2") == v1::NODE_OFFLINE; }));
  EXPECT_EQ(status("web-1"), v1::NODE_OFFLINE);
  EXPECT_EQ(status("web-3"), v1::NODE_CONVERGED);
  EXPECT_EQ(status("web-4"), v1::NODE_REVOKED);
  EXPECT_EQ(named(v1::NODE_OFFLINE), (std::vector<std::string>{"web-1", "web-2"}));
  auto counts = store.CountNodesByStatus();
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ(*counts, (std::map<v1::NodeStatus, int64_t>{
                         {v1::NODE_CONVERGED, 1}, {v1::NODE_OFFLINE, 2}, {v1::NODE_REVOKED, 1}}));

  // Both reconnect to a: online as soon as a holds them, before any row is written.
  a->SetHolding("web-1", true);
  a->SetHolding("web-2", true);
  EXPECT_TRUE(WaitFor([&] { return status("web-2") == v1::NODE_FAILED; }));
  EXPECT_TRUE(WaitFor([&] { return status("web-1") == v1::NODE_CONVERGED; }));
  EXPECT_TRUE(store.GetNode("web-1")->connected());
}

}  // namespace
}  // namespace plumb
