// RolloutController on a manual clock and a real SQLite store: waves in order, bake times,
// halts, rollback, offline nodes, supersede, operator actions, restart from the stored state.

#include "server/rollout/rollout_controller.h"

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/store/sqlite/sqlite_store.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using ::plumb::testing::ManualClock;
using ::plumb::testing::TempDir;

// canary: n0 (bake 2m); second: n1, n2 (bake 5m); last: everyone else.
v1::RolloutPolicy ThreeWaves(v1::RolloutPolicy::OnFailure on_failure, uint32_t max_failed = 0) {
  v1::RolloutPolicy p;
  v1::RolloutWave* canary = p.add_waves();
  canary->set_name("canary");
  canary->add_nodes("n0");
  canary->set_bake_ms(absl::ToInt64Milliseconds(absl::Minutes(2)));
  v1::RolloutWave* second = p.add_waves();
  second->set_name("second");
  second->add_nodes("n1");
  second->add_nodes("n2");
  second->set_bake_ms(absl::ToInt64Milliseconds(absl::Minutes(5)));
  v1::RolloutWave* last = p.add_waves();
  last->set_name("last");
  last->set_percent(100);
  p.set_max_failed_count(max_failed);
  p.set_on_failure(on_failure);
  return p;
}

std::vector<RolloutNode> Fleet(int n) {
  std::vector<RolloutNode> nodes;
  for (int i = 0; i < n; ++i) nodes.push_back({"n" + std::to_string(i), {}});
  return nodes;
}

v1::Report RunOf(const std::string& rev, bool failed = false) {
  v1::Report r;
  r.set_revision(rev);
  v1::ResourceResult* res = r.add_results();
  res->set_id("file:/etc/motd");
  res->set_outcome(failed ? v1::FAILED : v1::CHANGED);
  if (failed) res->set_message("permission denied");
  return r;
}

class RolloutControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = SqliteStore::Open(dir_.Sub("plumb.db"));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    rollout_ = std::make_unique<RolloutController>(store_.get(), &clock_);
  }
  // Serves every node what it is decided, and has it report a run of it (failing on `bad`).
  void ServeAndRun(const std::vector<RolloutNode>& nodes, const std::set<std::string>& bad = {}) {
    for (const RolloutNode& n : nodes) {
      RolloutDecision d = rollout_->Decide(n);
      rollout_->OnServed(n, d.revision);
      rollout_->OnReport(n, RunOf(d.revision, bad.count(n.name) > 0));
    }
  }
  std::string RevOf(const std::string& node) { return rollout_->Decide({node, {}}).revision; }

  TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<RolloutController> rollout_;
};

TEST_F(RolloutControllerTest, WithoutPolicyEveryNodeGetsTheNewestAtOnce) {
  EXPECT_EQ(rollout_->OnNewRevision("B", "A", nullptr), "");
  EXPECT_FALSE(rollout_->active());  // nothing to tick: the hub lists no nodes for it
  EXPECT_EQ(RevOf("n5"), "");
  EXPECT_EQ(rollout_->stable_revision(), "");
}

TEST_F(RolloutControllerTest, WavesGoInOrderAndRespectBake) {
  auto policy = ThreeWaves(v1::RolloutPolicy::ON_FAILURE_HALT);
  EXPECT_EQ(rollout_->OnNewRevision("B", "A", &policy), "A");
  EXPECT_TRUE(rollout_->active());
  auto fleet = Fleet(6);
  EXPECT_EQ(RevOf("n0"), "B");
  EXPECT_EQ(RevOf("n1"), "A");
  EXPECT_EQ(RevOf("n5"), "A");
  ServeAndRun(fleet);
  EXPECT_FALSE(rollout_->Tick(fleet));  // the canary succeeded: baking 2m
  EXPECT_EQ(RevOf("n1"), "A");
  EXPECT_EQ(rollout_->Status({}).bake_left_ms(), 120000);
  clock_.Advance(absl::Seconds(119));
  EXPECT_FALSE(rollout_->Tick(fleet));
  clock_.Advance(absl::Seconds(1));
  EXPECT_TRUE(rollout_->Tick(fleet));
  EXPECT_EQ(RevOf("n1"), "B");
  EXPECT_EQ(RevOf("n3"), "A");
  ServeAndRun(fleet);
  clock_.Advance(absl::Minutes(4));
  EXPECT_FALSE(rollout_->Tick(fleet));
  clock_.Advance(absl::Minutes(1));
  EXPECT_TRUE(rollout_->Tick(fleet));
  EXPECT_EQ(RevOf("n5"), "B");
  ServeAndRun(fleet);
  EXPECT_TRUE(rollout_->Tick(fleet));
  EXPECT_EQ(rollout_->Status({}).phase(), v1::ROLLOUT_COMPLETED);
  EXPECT_EQ(rollout_->stable_revision(), "");
  EXPECT_FALSE(rollout_->active());
}

TEST_F(RolloutControllerTest, AWaveWaitsForEveryOnlineNodeToReport) {
  auto policy = ThreeWaves(v1::RolloutPolicy::ON_FAILURE_HALT);
  rollout_->OnNewRevision("B", "A", &policy);
  auto fleet = Fleet(4);
  rollout_->OnServed(fleet[0], "B");  // sent, no report yet
  clock_.Advance(absl::Minutes(10));
  EXPECT_FALSE(rollout_->Tick(fleet));
  EXPECT_EQ(RevOf("n1"), "A");
}

TEST_F(RolloutControllerTest, OfflineNodesNeverBlockAWave) {
  auto policy = ThreeWaves(v1::RolloutPolicy::ON_FAILURE_HALT);
  rollout_->OnNewRevision("B", "A", &policy);
  std::vector<RolloutNode> online = {{"n1", {}}, {"n2", {}}, {"n3", {}}};  // n0 is offline
  EXPECT_TRUE(rollout_->Tick(online));  // the canary wave has no online node: next wave
  EXPECT_EQ(RevOf("n1"), "B");
  ServeAndRun(online);
  clock_.Advance(absl::Minutes(5));
  EXPECT_TRUE(rollout_->Tick(online));
  EXPECT_EQ(RevOf("n3"), "B");
}

TEST_F(RolloutControllerTest, ANodeOfflineDuringItsWaveGetsTheTargetOnlyOnceCompleted) {
  auto policy = ThreeWaves(v1::RolloutPolicy::ON_FAILURE_HALT);
  rollout_->OnNewRevision("B", "A", &policy);
  std::vector<RolloutNode> online = {{"n0", {}}, {"n2", {}}, {"n3", {}}};  // n1 is offline
  ServeAndRun(online);
  clock_.Advance(absl::Minutes(2));
  EXPECT_TRUE(rollout_->Tick(online));  // the second wave starts without n1
  EXPECT_EQ(RevOf("n2"), "B");
  ServeAndRun(online);
  clock_.Advance(absl::Minutes(5));
  EXPECT_TRUE(rollout_->Tick(online));  // the last wave
  // n1 comes back while the last wave runs: its wave passed without it, so it stays on A.
  EXPECT_EQ(RevOf("n1"), "A");
  online.push_back({"n1", {}});
  ServeAndRun(online);
  EXPECT_TRUE(rollout_->Tick(online));
  EXPECT_EQ(rollout_->Status({}).phase(), v1::ROLLOUT_COMPLETED);
  EXPECT_EQ(RevOf("n1"), "B");  // completed: everyone gets it
}

TEST_F(RolloutControllerTest, ANodeOfflineDuringItsWaveStaysOnThePreviousIfHalted) {
  auto policy = ThreeWaves(v1::RolloutPolicy::ON_FAILURE_HALT);
  rollout_->OnNewRevision("B", "A", &policy);
  std::vector<RolloutNode> online = {{"n0", {}}, {"n2", {}}, {"n3", {}}};  // n1 is offline
  ServeAndRun(online);
  clock_.Advance(absl::Minutes(2));
  EXPECT_TRUE(rollout_->Tick(online));
  ServeAndRun(online, {"n2"});  // the second wave fails
  rollout_->Tick(online);
  EXPECT_EQ(rollout_->Status({}).phase(), v1::ROLLOUT_HALTED);
  EXPECT_EQ(RevOf("n1"), "A");
}

TEST_F(RolloutControllerTest, MoreThanMaxFailedHaltsAndNoFurtherNodeGetsIt) {
  auto policy = ThreeWaves(v1::RolloutPolicy::ON_FAILURE_HALT);
  rollout_->OnNewRevision("B", "A", &policy);
  auto fleet = Fleet(4);
  ServeAndRun(fleet, {"n0"});
  EXPECT_TRUE(rollout_->Tick(fleet));
  v1::RolloutStatus status = rollout_->Status({});
  EXPECT_EQ(status.phase(), v1::ROLLOUT_HALTED);
  EXPECT_NE(status.halt_reason().find("n0 (file:/etc/motd: permission denied)"),
            std::string::npos) << status.halt_reason();
  ASSERT_EQ(status.failures_size(), 1);
  clock_.Advance(absl::Hours(1));
  EXPECT_FALSE(rollout_->Tick(fleet));
  EXPECT_EQ(RevOf("n0"), "B");  // halt: it keeps what it got
  EXPECT_EQ(RevOf("n1"), "A");
  EXPECT_EQ(RevOf("n3"), "A");
}

TEST_F(RolloutControllerTest, FailuresUpToMaxFailedAreTolerated) {
  auto policy = ThreeWaves(v1::RolloutPolicy::ON_FAILURE_HALT, /*max_failed=*/1);
  rollout_->OnNewRevision("B", "A", &policy);
  auto fleet = Fleet(4);
  ServeAndRun(fleet, {"n0"});
  clock_.Advance(absl::Minutes(2));
  EXPECT_TRUE(rollout_->Tick(fleet));
  EXPECT_EQ(rollout_->Status({}).phase(), v1::ROLLOUT_PROGRESSING);
  EXPECT_EQ(RevOf("n1"), "B");
}

TEST_F(RolloutControllerTest, AFailedDriftRepairDuringTheBakeHalts) {
  auto policy = ThreeWaves(v1::RolloutPolicy::ON_FAILURE_HALT);
  rollout_->OnNewRevision("B", "A", &policy);
  auto fleet = Fleet(4);
  ServeAndRun(fleet);
  clock_.Advance(absl::Minutes(1));
  EXPECT_FALSE(rollout_->Tick(fleet));
  rollout_->OnReport(fleet[0], RunOf("B", /*failed=*/true));
  EXPECT_TRUE(rollout_->Tick(fleet));
  EXPECT_EQ(rollout_->Status({}).phase(), v1::ROLLOUT_HALTED);
}

TEST_F(RolloutControllerTest, AFailingHealthCheckCountsAsAFailedRun) {
  auto policy = ThreeWaves(v1::RolloutPolicy::ON_FAILURE_HALT);
  policy.set_health_exec("/bin/false");
  policy.set_health_timeout_ms(1000);
  rollout_->OnNewRevision("B", "A", &policy);
  RolloutDecision d = rollout_->Decide({"n0", {}});
  EXPECT_EQ(d.health.exec(), "/bin/false");
  EXPECT_TRUE(rollout_->Decide({"n1", {}}).health.exec().empty());  // served A: no check
  v1::Report report = RunOf("B");
  report.mutable_health()->set_exit_status(3);
  report.mutable_health()->set_output("nginx down");
  rollout_->OnServed({"n0", {}}, "B");
  rollout_->OnReport({"n0", {}}, report);
  EXPECT_TRUE(rollout_->Tick(Fleet(2)));
  EXPECT_NE(rollout_->Status({}).halt_reason().find("health check exited 3: nginx down"),
            std::string::npos);
}

TEST_F(RolloutControllerTest, RollbackServesThePreviousToTheNodesThatGotIt) {
  auto policy = ThreeWaves(v1::RolloutPolicy::ON_FAILURE_ROLLBACK);
  rollout_->OnNewRevision("B", "A", &policy);
  auto fleet = Fleet(4);
  ServeAndRun(fleet, {"n0"});
  EXPECT_TRUE(rollout_->Tick(fleet));
  EXPECT_EQ(rollout_->Status({}).phase(), v1::ROLLOUT_ROLLED_BACK);
  RolloutDecision canary = rollout_->Decide(fleet[0]);
  EXPECT_EQ(canary.revision, "A");
  EXPECT_TRUE(canary.rollback);
  RolloutDecision other = rollout_->Decide(fleet[1]);
  EXPECT_EQ(other.revision, "A");
  EXPECT_FALSE(other.rollback);
}

TEST_F(RolloutControllerTest, ANewerCommitSupersedesAndStartsAtTheFirstWave) {
  auto policy = ThreeWaves(v1::RolloutPolicy::ON_FAILURE_HALT);
  rollout_->OnNewRevision("B", "A", &policy);
  auto fleet = Fleet(4);
  ServeAndRun(fleet);
  clock_.Advance(absl::Minutes(2));
  EXPECT_TRUE(rollout_->Tick(fleet));  // wave 2 has B
  EXPECT_EQ(RevOf("n1"), "B");
  // C supersedes B: nodes not reached stay on A (never B), the canary gets C.
  EXPECT_EQ(rollout_->OnNewRevision("C", "B", &policy), "A");
  EXPECT_EQ(RevOf("n0"), "C");
  EXPECT_EQ(RevOf("n1"), "A");
  EXPECT_EQ(RevOf("n3"), "A");
  EXPECT_EQ(rollout_->Status({}).wave(), 0u);
}

TEST_F(RolloutControllerTest, PauseStopsWavesResumeKeepsTheBakeLeft) {
  auto policy = ThreeWaves(v1::RolloutPolicy::ON_FAILURE_HALT);
  rollout_->OnNewRevision("B", "A", &policy);
  auto fleet = Fleet(4);
  ServeAndRun(fleet);
  EXPECT_FALSE(rollout_->Tick(fleet));
  clock_.Advance(absl::Minutes(1));
  ASSERT_TRUE(rollout_->Pause().ok());
  EXPECT_FALSE(rollout_->Pause().ok());
  clock_.Advance(absl::Hours(1));
  EXPECT_FALSE(rollout_->Tick(fleet));
  EXPECT_EQ(rollout_->Status({}).bake_left_ms(), 60000);
  ASSERT_TRUE(rollout_->Resume().ok());
  clock_.Advance(absl::Seconds(59));
  EXPECT_FALSE(rollout_->Tick(fleet));
  clock_.Advance(absl::Seconds(1));
  EXPECT_TRUE(rollout_->Tick(fleet));
  EXPECT_EQ(RevOf("n1"), "B");
}

TEST_F(RolloutControllerTest, PromoteSkipsTheBakeAndAbortStopsServingTheTarget) {
  auto policy = ThreeWaves(v1::RolloutPolicy::ON_FAILURE_HALT);
  rollout_->OnNewRevision("B", "A", &policy);
  ASSERT_TRUE(rollout_->Promote(0).ok());
  EXPECT_EQ(RevOf("n1"), "B");
  EXPECT_FALSE(rollout_->Promote(1).ok());  // not after the current wave
  rollout_->OnServed({"n1", {}}, "B");
  ASSERT_TRUE(rollout_->Abort().ok());
  EXPECT_EQ(RevOf("n1"), "B");
  EXPECT_EQ(RevOf("n0"), "A");  // never served before the abort
  EXPECT_EQ(RevOf("n5"), "A");
  EXPECT_FALSE(rollout_->Resume().ok());
}

TEST_F(RolloutControllerTest, ARestartedControllerResumesFromTheStoredState) {
  auto policy = ThreeWaves(v1::RolloutPolicy::ON_FAILURE_HALT);
  rollout_->OnNewRevision("B", "A", &policy);
  auto fleet = Fleet(4);
  ServeAndRun(fleet);
  EXPECT_FALSE(rollout_->Tick(fleet));  // baking since now
  clock_.Advance(absl::Minutes(1));
  RolloutController restarted(store_.get(), &clock_);
  ASSERT_TRUE(restarted.Restore().ok());
  EXPECT_EQ(restarted.stable_revision(), "A");
  EXPECT_EQ(restarted.Decide({"n1", {}}).revision, "A");
  clock_.Advance(absl::Minutes(1));
  EXPECT_TRUE(restarted.Tick(fleet));
  EXPECT_EQ(restarted.Decide({"n1", {}}).revision, "B");
}

TEST_F(RolloutControllerTest, APinnedNodeGetsItsRevisionAndDoesNotBlockItsWave) {
  auto policy = ThreeWaves(v1::RolloutPolicy::ON_FAILURE_HALT);
  rollout_->OnNewRevision("B", "A", &policy);
  rollout_->SetPins({{"n0", "OLD"}, {"n5", "OLD"}});
  EXPECT_EQ(RevOf("n0"), "OLD");
  EXPECT_EQ(RevOf("n5"), "OLD");
  EXPECT_EQ(rollout_->pinned_revisions(), std::set<std::string>{"OLD"});
  auto fleet = Fleet(4);
  EXPECT_TRUE(rollout_->Tick(fleet));  // the canary is pinned: its wave has no one to wait for
  EXPECT_EQ(RevOf("n1"), "B");
  rollout_->SetPins({});
  // Unpinned after its wave passed without it: like a node that was offline then, it gets the
  // target once the rollout completes.
  EXPECT_EQ(RevOf("n0"), "A");
  ServeAndRun(fleet);
  clock_.Advance(absl::Minutes(5));
  EXPECT_TRUE(rollout_->Tick(fleet));
  ServeAndRun(fleet);
  EXPECT_TRUE(rollout_->Tick(fleet));
  EXPECT_EQ(rollout_->Status({}).phase(), v1::ROLLOUT_COMPLETED);
  EXPECT_EQ(RevOf("n0"), "B");
}

TEST_F(RolloutControllerTest, RollbackNowServesEveryNodeTheEarlierRevision) {
  auto policy = ThreeWaves(v1::RolloutPolicy::ON_FAILURE_HALT);
  rollout_->OnNewRevision("B", "A", &policy);
  ASSERT_TRUE(rollout_->Promote(4).ok());  // completed: everyone on B
  EXPECT_EQ(RevOf("n5"), "B");
  EXPECT_EQ(rollout_->previous_revision(), "A");
  rollout_->RollBackTo("A", nullptr, /*now=*/true);
  EXPECT_EQ(RevOf("n0"), "A");
  EXPECT_EQ(RevOf("n5"), "A");
  EXPECT_EQ(rollout_->live_revisions(), std::set<std::string>{"A"});
  // A newer commit rolls out from A, not from the bad B.
  EXPECT_EQ(rollout_->BaseRevision("B"), "A");
  EXPECT_EQ(rollout_->OnNewRevision("C", "B", &policy), "A");
  EXPECT_EQ(RevOf("n5"), "A");
  EXPECT_EQ(RevOf("n0"), "C");
}

TEST_F(RolloutControllerTest, RollbackThroughThePolicyStartsAtTheFirstWave) {
  auto policy = ThreeWaves(v1::RolloutPolicy::ON_FAILURE_HALT);
  rollout_->OnNewRevision("B", "A", &policy);
  ASSERT_TRUE(rollout_->Promote(4).ok());
  rollout_->RollBackTo("A", nullptr, /*now=*/false);  // the current rollout's policy
  EXPECT_EQ(RevOf("n0"), "A");
  EXPECT_EQ(RevOf("n1"), "B");
  v1::RolloutStatus status = rollout_->Status({});
  EXPECT_EQ(status.revision(), "A");
  EXPECT_EQ(status.previous(), "B");
  EXPECT_EQ(status.phase(), v1::ROLLOUT_PROGRESSING);
  EXPECT_EQ(rollout_->live_revisions(), (std::set<std::string>{"A", "B"}));
}

TEST_F(RolloutControllerTest, OperatorRollbackRunsReportTriggerRollback) {
  auto policy = ThreeWaves(v1::RolloutPolicy::ON_FAILURE_HALT);
  rollout_->OnNewRevision("B", "A", &policy);
  ASSERT_TRUE(rollout_->Promote(4).ok());
  EXPECT_FALSE(rollout_->Decide({"n5", {}}).rollback);
  rollout_->RollBackTo("A", nullptr, /*now=*/false);
  EXPECT_TRUE(rollout_->Decide({"n0", {}}).rollback);    // moved back to A: trigger ROLLBACK
  EXPECT_FALSE(rollout_->Decide({"n1", {}}).rollback);   // stays on B for now
  rollout_->RollBackTo("A", nullptr, /*now=*/true);
  EXPECT_TRUE(rollout_->Decide({"n5", {}}).rollback);
  rollout_->OnNewRevision("C", "B", &policy);             // a new commit is no rollback
  EXPECT_FALSE(rollout_->Decide({"n0", {}}).rollback);
}

TEST_F(RolloutControllerTest, StatusCountsPerWave) {
  auto policy = ThreeWaves(v1::RolloutPolicy::ON_FAILURE_HALT, 1);
  rollout_->OnNewRevision("B", "A", &policy);
  std::vector<v1::Node> known;
  for (int i = 0; i < 4; ++i) {
    v1::Node n;
    n.set_name("n" + std::to_string(i));
    n.set_connected(i != 2);
    known.push_back(n);
  }
  ServeAndRun({{"n0", {}}}, {"n0"});
  v1::RolloutStatus s = rollout_->Status(known);
  ASSERT_EQ(s.waves_size(), 3);
  EXPECT_EQ(s.waves(0).failed(), 1);
  EXPECT_EQ(s.waves(1).nodes(), 2);
  EXPECT_EQ(s.waves(1).offline(), 1);
  EXPECT_EQ(s.waves(1).pending(), 1);
  EXPECT_EQ(s.waves(2).pending(), 1);
}

}  // namespace
}  // namespace plumb
