// RolloutController across replicas (rollout_replicas.cc, issue 16): two controllers on one
// PostgreSQL database, a leader and a follower. The follower's agents' outcomes advance the
// leader's waves (read from the rows on the leader's tick), a halt the leader decides stops the
// follower serving the target, only the leader writes the header, a follower refuses
// operator actions (FleetService forwards them: rollout_forwarding_test) and takes up a revision
// only once the leader stored its rollout, and the stored reads run on the controller's reader
// thread, never holding up the thread that ticks (the hub's).

#include <memory>
#include <string>
#include <vector>

#include <atomic>
#include <thread>

#include "gtest/gtest.h"
#include "server/rollout/rollout_controller.h"
#include "server/store/forwarding_store.h"
#include "server/store/postgres/pg_store.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/pg_cluster.h"
#include "tests/testing/wait_for.h"

namespace plumb {
namespace {

using ::plumb::testing::ManualClock;
using ::plumb::testing::PgCluster;
using ::plumb::testing::WaitFor;

// canary: n0 and n2 (no bake); then everyone else. No failure tolerated: halt.
v1::RolloutPolicy TwoWaves() {
  v1::RolloutPolicy p;
  v1::RolloutWave* canary = p.add_waves();
  canary->set_name("canary");
  canary->add_nodes("n0");
  canary->add_nodes("n2");
  p.add_waves()->set_percent(100);
  p.set_max_failed_count(0);
  p.set_on_failure(v1::RolloutPolicy::ON_FAILURE_HALT);
  return p;
}

v1::Report RunOf(const std::string& node, const std::string& rev, bool ok) {
  v1::Report r;
  r.set_id("report-" + node + "-" + rev);
  r.set_node(node);
  r.set_revision(rev);
  v1::ResourceResult* res = r.add_results();
  res->set_id("file:/etc/motd");
  res->set_outcome(ok ? v1::CHANGED : v1::FAILED);
  res->set_message(ok ? "" : "disk full");
  return r;
}

RolloutNode N(const std::string& name) { return {name, {}}; }

class RolloutReplicasTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string url = PgCluster::Shared().NewDatabaseUrl();
    auto a = PgStore::Open(url);
    ASSERT_TRUE(a.ok()) << a.status();
    auto b = PgStore::Open(url);
    ASSERT_TRUE(b.ok()) << b.status();
    store_a_ = std::move(*a);
    store_b_ = std::move(*b);
    // n1 is connected to the leader (A); n0 and n2 to the follower (B): presence as stored.
    std::vector<v1::Node> nodes;
    for (const char* name : {"n0", "n1", "n2"}) {
      v1::Node n;
      n.set_name(name);
      n.set_status(v1::NODE_CONVERGED);
      n.set_connected(true);
      nodes.push_back(n);
    }
    ASSERT_TRUE(store_a_->PutNodes(nodes).ok());
    leader_ = std::make_unique<RolloutController>(store_a_.get(), &clock_);
    follower_ = std::make_unique<RolloutController>(store_b_.get(), &clock_);
    leader_->SetReplicated([] { return true; }, "");
    follower_->SetReplicated([] { return false; }, "");
    policy_ = TwoWaves();
    ASSERT_EQ(leader_->OnNewRevision("new", "old", &policy_), "old");
    ASSERT_TRUE(follower_->Restore().ok());  // RevisionPoller::Follow takes up the revision
  }
  // The leader's and the follower's ticks past the refresh interval: one asks for a read of
  // the stored rollout (made on the controller's reader thread), the next ones take it once
  // it is done. A read asked for earlier is taken first, so the one judged on is fresh. True
  // if any of the ticks changed a decision.
  bool TickWithRead(RolloutController& c, const std::vector<RolloutNode>& online) {
    bool changed = false;
    EXPECT_TRUE(WaitFor([&] {
      changed |= c.Tick(online);
      return !c.read_pending();
    }));
    clock_.Advance(RolloutController::kRefreshEvery);
    uint64_t taken = c.reads_taken();
    changed |= c.Tick(online);
    EXPECT_TRUE(WaitFor([&] {
      changed |= c.Tick(online);
      // Taken; or none asked for (a rollout the controller no longer re-reads).
      return c.reads_taken() > taken || !c.read_pending();
    }));
    return changed;
  }
  bool TickLeader() { return TickWithRead(*leader_, {N("n1")}); }
  bool TickFollower() { return TickWithRead(*follower_, {N("n0"), N("n2")}); }
  uint32_t StoredWave() {
    auto stored = store_a_->GetRolloutState();
    EXPECT_TRUE(stored.ok()) << stored.status();
    return stored.ok() ? stored->wave() : 99;
  }
  // The follower's agent `node` is served the target and reports a run of it.
  void FollowerRuns(const std::string& node, bool ok) {
    ASSERT_EQ(follower_->Decide(N(node)).revision, "new");
    follower_->OnServed(N(node), "new");
    follower_->OnReport(N(node), RunOf(node, "new", ok));
    ASSERT_TRUE(follower_->Flush().ok());
  }

  ManualClock clock_;
  std::unique_ptr<Store> store_a_, store_b_;
  std::unique_ptr<RolloutController> leader_, follower_;
  v1::RolloutPolicy policy_;
};

TEST_F(RolloutReplicasTest, AFollowersOutcomesAdvanceTheLeadersWave) {
  EXPECT_EQ(leader_->Decide(N("n1")).revision, "old");  // wave 2 waits for the canary
  // The canary nodes are connected to B: the leader waits for them, though it holds none.
  EXPECT_FALSE(TickLeader());
  FollowerRuns("n0", true);
  EXPECT_FALSE(TickLeader());  // n2 has not reported
  FollowerRuns("n2", true);
  EXPECT_FALSE(TickFollower());  // a follower judges no wave and writes no header
  EXPECT_EQ(StoredWave(), 0u);
  EXPECT_TRUE(TickLeader());
  EXPECT_EQ(StoredWave(), 1u);
  EXPECT_EQ(leader_->Decide(N("n1")).revision, "new");
  v1::RolloutStatus status = leader_->Status({});
  EXPECT_EQ(status.wave(), 1u);
  EXPECT_TRUE(TickFollower());  // takes the leader's header
  EXPECT_EQ(follower_->Status({}).wave(), 1u);
}

TEST_F(RolloutReplicasTest, TheLeaderJudgesOnlyOnAFreshReadOfEveryReplica) {
  // Before its read is done, the canary wave is not judged on A's nodes (none) alone.
  EXPECT_FALSE(leader_->Tick({N("n1")}));
  EXPECT_FALSE(TickLeader());  // read: the canary nodes are connected to B
  // Within kRefreshEvery no read, so no judgement.
  EXPECT_FALSE(leader_->Tick({N("n1")}));
  EXPECT_EQ(StoredWave(), 0u);
  EXPECT_EQ(leader_->Decide(N("n1")).revision, "old");
}

// A store whose rollout reads wait until the test opens the gate: a database slow to answer.
class GatedStore : public ForwardingStore {
 public:
  explicit GatedStore(Store* inner) : ForwardingStore(inner) {}
  using Store::GetRolloutState;
  absl::StatusOr<v1::RolloutState> GetRolloutState(const std::string& e) override {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&open_));
    return inner()->GetRolloutState(e);
  }
  void Set(bool open) {
    absl::MutexLock lock(&mu_);
    open_ = open;
  }

 private:
  absl::Mutex mu_;
  bool open_ ABSL_GUARDED_BY(mu_) = true;
};

TEST_F(RolloutReplicasTest, TheStoredReadNeverHoldsUpTheTickingThread) {
  // Tick runs on the hub's worker, which serves every agent: a slow database must not stall it.
  GatedStore gated(store_b_.get());
  RolloutController follower(&gated, &clock_);
  follower.SetReplicated([] { return false; }, "");
  ASSERT_TRUE(follower.Restore().ok());
  ASSERT_TRUE(leader_->Pause().ok());
  gated.Set(false);
  clock_.Advance(RolloutController::kRefreshEvery);
  std::atomic<int> ticks{0};
  std::thread hub([&] {
    for (int i = 0; i < 3; ++i) {
      follower.Tick({N("n0")});
      ++ticks;
    }
  });
  EXPECT_TRUE(WaitFor([&] { return ticks.load() == 3; }, absl::Seconds(5)));
  EXPECT_EQ(follower.Status({}).phase(), v1::ROLLOUT_PROGRESSING);  // not read yet
  gated.Set(true);
  hub.join();
  EXPECT_TRUE(WaitFor([&] {
    follower.Tick({N("n0")});
    return follower.Status({}).phase() == v1::ROLLOUT_PAUSED;
  }));
}

TEST_F(RolloutReplicasTest, AHaltTheLeaderDecidesStopsTheFollowerServingTheTarget) {
  FollowerRuns("n0", false);
  EXPECT_EQ(follower_->Decide(N("n2")).revision, "new");  // the follower decides no halt
  EXPECT_FALSE(TickFollower());
  EXPECT_EQ(follower_->Decide(N("n2")).revision, "new");
  EXPECT_TRUE(TickLeader());
  EXPECT_EQ(leader_->Status({}).phase(), v1::ROLLOUT_HALTED);
  uint64_t epoch = follower_->epoch();
  EXPECT_TRUE(TickFollower());
  EXPECT_GT(follower_->epoch(), epoch);  // the hub re-offers catalogs
  EXPECT_EQ(follower_->Status({}).phase(), v1::ROLLOUT_HALTED);
  EXPECT_EQ(follower_->Decide(N("n2")).revision, "old");
  EXPECT_EQ(follower_->Decide(N("n0")).revision, "new");  // got it before the halt: keeps it
  EXPECT_FALSE(TickFollower());  // nothing new
  ASSERT_TRUE(leader_->Abort().ok());  // a halted rollout can still be aborted: followed
  EXPECT_TRUE(TickFollower());
  EXPECT_EQ(follower_->Status({}).phase(), v1::ROLLOUT_ABORTED);
}

TEST_F(RolloutReplicasTest, AFollowerRefusesOperatorActionsAndTakesTheLeaders) {
  EXPECT_FALSE(follower_->leads());
  EXPECT_TRUE(absl::IsFailedPrecondition(follower_->Pause()));
  EXPECT_TRUE(absl::IsFailedPrecondition(follower_->Abort()));
  EXPECT_TRUE(absl::IsFailedPrecondition(follower_->Promote(0)));
  EXPECT_EQ(follower_->Status({}).phase(), v1::ROLLOUT_PROGRESSING);
  ASSERT_TRUE(leader_->Pause().ok());
  EXPECT_TRUE(TickFollower());
  EXPECT_EQ(follower_->Status({}).phase(), v1::ROLLOUT_PAUSED);
  EXPECT_TRUE(absl::IsFailedPrecondition(follower_->Resume()));
  ASSERT_TRUE(leader_->Resume().ok());
  EXPECT_TRUE(TickFollower());
  EXPECT_EQ(follower_->Status({}).phase(), v1::ROLLOUT_PROGRESSING);
}

TEST_F(RolloutReplicasTest, AFollowerSeesAnotherRolloutTheLeaderStarted) {
  EXPECT_FALSE(follower_->StoredIsAnother());
  leader_->RollBackTo("old", nullptr, /*now=*/true);
  EXPECT_TRUE(follower_->StoredIsAnother());
  ASSERT_TRUE(follower_->Restore().ok());  // RevisionPoller::Follow does this
  EXPECT_FALSE(follower_->StoredIsAnother());
  EXPECT_EQ(follower_->Decide(N("n2")).revision, "old");
}

TEST_F(RolloutReplicasTest, AFollowerTakesUpARevisionOnlyOnceItsRolloutIsStored) {
  int64_t fetched = absl::ToUnixMillis(clock_.Now());
  EXPECT_TRUE(*follower_->StoredIsFor("new", fetched - 1000));
  // The leader stored "newer" as serving but not its rollout yet.
  clock_.Advance(absl::Seconds(5));
  fetched = absl::ToUnixMillis(clock_.Now());
  EXPECT_FALSE(*follower_->StoredIsFor("newer", fetched));
  clock_.Advance(absl::Seconds(1));
  leader_->OnNewRevision("newer", "new", &policy_);
  EXPECT_TRUE(*follower_->StoredIsFor("newer", fetched));
  // An operator rollback after "newer" was fetched is for it too.
  leader_->RollBackTo("old", nullptr, /*now=*/true);
  EXPECT_TRUE(*follower_->StoredIsFor("newer", fetched));
}

}  // namespace
}  // namespace plumb
