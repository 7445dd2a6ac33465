// RolloutController's rows in the Store (rollout_persistence.cc): a report costs one node row
// (written by the writer thread), not the whole state; the header stays small; the destructor
// stores what the writer had not; and after a crash that lost unstored outcomes, Restore
// re-derives them from the node rows and their last reports, so no wave waits for a node's next
// interval run.

#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/rollout/rollout_controller.h"
#include "server/store/sqlite/sqlite_db.h"
#include "server/store/sqlite/sqlite_store.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using ::plumb::testing::ManualClock;
using ::plumb::testing::TempDir;

// canary: n0 (bake 2m); then everyone else.
v1::RolloutPolicy TwoWaves() {
  v1::RolloutPolicy p;
  v1::RolloutWave* canary = p.add_waves();
  canary->set_name("canary");
  canary->add_nodes("n0");
  canary->set_bake_ms(absl::ToInt64Milliseconds(absl::Minutes(2)));
  p.add_waves()->set_percent(100);
  p.set_max_failed_count(0);
  p.set_on_failure(v1::RolloutPolicy::ON_FAILURE_HALT);
  return p;
}

v1::Report RunOf(const std::string& rev, int64_t started_ms = 0) {
  v1::Report r;
  r.set_id("report-" + rev + "-" + std::to_string(started_ms));
  r.set_node("n0");
  r.set_revision(rev);
  r.set_started_unix_ms(started_ms);
  v1::ResourceResult* res = r.add_results();
  res->set_id("file:/etc/motd");
  res->set_outcome(v1::CHANGED);
  return r;
}

class RolloutPersistenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = SqliteStore::Open(path_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }
  // A one-row, one-column query on the database file, as text.
  std::string Query(const std::string& sql) {
    auto db = SqliteDb::Open(path_);
    EXPECT_TRUE(db.ok()) << db.status();
    if (!db.ok()) return "";
    auto text = (*db)->QueryText(sql);
    EXPECT_TRUE(text.ok()) << text.status();
    return text.ok() ? *text : "";
  }
  // The stored rollout (header and rows) as a fresh controller restores it.
  v1::RolloutStatus Restored(const std::vector<v1::Node>& known) {
    RolloutController restarted(store_.get(), &clock_);
    EXPECT_TRUE(restarted.Restore().ok());
    return restarted.Status(known);
  }

  TempDir dir_;
  std::string path_ = dir_.Sub("plumb.db");
  ManualClock clock_;
  std::unique_ptr<Store> store_;
};

std::vector<v1::Node> Known(int n) {
  std::vector<v1::Node> known;
  for (int i = 0; i < n; ++i) {
    v1::Node node;
    node.set_name("n" + std::to_string(i));
    node.set_connected(true);
    known.push_back(node);
  }
  return known;
}

TEST_F(RolloutPersistenceTest, AReportIsOneNodeRowNotTheWholeState) {
  v1::RolloutPolicy policy;
  policy.add_waves()->set_percent(100);
  RolloutController rollout(store_.get(), &clock_);
  rollout.OnNewRevision("B", "A", &policy);
  for (int i = 0; i < 300; ++i) {
    RolloutNode node{"n" + std::to_string(i), {}};
    rollout.OnServed(node, "B");
    rollout.OnReport(node, RunOf("B"));
  }
  ASSERT_TRUE(rollout.Flush().ok());
  EXPECT_EQ(Query("SELECT count(*) FROM rollout_nodes"), "300");
  EXPECT_EQ(Query("SELECT count(*) FROM rollout_nodes WHERE outcome = 2"), "300");
  // The header holds no node: a few dozen bytes, whatever the fleet's size.
  EXPECT_LT(std::stoi(Query("SELECT length(proto) FROM rollout_state")), 200);
  v1::RolloutStatus status = Restored(Known(300));
  ASSERT_EQ(status.waves_size(), 1);
  EXPECT_EQ(status.waves(0).done(), 300);
}

TEST_F(RolloutPersistenceTest, TheDestructorStoresWhatTheWriterHadNot) {
  v1::RolloutPolicy policy = TwoWaves();
  {
    RolloutController rollout(store_.get(), &clock_);
    rollout.OnNewRevision("B", "A", &policy);
    rollout.OnServed({"n0", {}}, "B");
    rollout.OnReport({"n0", {}}, RunOf("B"));
  }
  v1::RolloutStatus status = Restored(Known(3));
  EXPECT_EQ(status.waves(0).done(), 1);
  EXPECT_EQ(status.waves(1).pending(), 2);
}

TEST_F(RolloutPersistenceTest, ANewRolloutDropsThePreviousRolloutsRows) {
  v1::RolloutPolicy policy = TwoWaves();
  RolloutController rollout(store_.get(), &clock_);
  rollout.OnNewRevision("B", "A", &policy);
  rollout.OnServed({"n0", {}}, "B");
  ASSERT_TRUE(rollout.Flush().ok());
  EXPECT_EQ(Query("SELECT count(*) FROM rollout_nodes"), "1");
  rollout.OnNewRevision("C", "B", &policy);
  EXPECT_EQ(Query("SELECT count(*) FROM rollout_nodes"), "0");
  EXPECT_EQ(Restored(Known(1)).waves(0).pending(), 1);
}

class RolloutRederiveTest : public RolloutPersistenceTest {
 protected:
  // What a crash leaves when the header row of a rollout of B (canary n0) was stored but the
  // writer had not stored n0's outcome: the node row says n0 was served B, and its last
  // report (stored before the agent was acknowledged) is `last`.
  void Crashed(const v1::Report& last) {
    v1::RolloutState header;
    header.set_id(7);
    header.set_target("B");
    header.set_previous("A");
    *header.mutable_policy() = TwoWaves();
    header.set_phase(v1::ROLLOUT_PROGRESSING);
    ASSERT_TRUE(store_->PutRolloutState(header).ok());
    ASSERT_TRUE(store_->PutReport(last).ok());
    v1::Node n0;
    n0.set_name("n0");
    n0.set_desired_revision("B");
    n0.set_applied_revision("B");
    n0.set_last_report_id(last.id());
    n0.set_status(v1::NODE_CONVERGED);
    ASSERT_TRUE(store_->PutNode(n0).ok());
  }
  std::vector<RolloutNode> fleet_ = {{"n0", {}}, {"n1", {}}, {"n2", {}}};
};

TEST_F(RolloutRederiveTest, ASucceededRunOfTheTargetCountsWithoutANewReport) {
  int64_t ran_at = absl::ToUnixMillis(clock_.Now());
  Crashed(RunOf("B", ran_at));
  clock_.Advance(absl::Minutes(1));
  RolloutController restarted(store_.get(), &clock_);
  ASSERT_TRUE(restarted.Restore().ok());
  EXPECT_EQ(restarted.Status(Known(3)).waves(0).done(), 1);
  // The bake runs from that report, not from the restart, and no report of n0 is needed.
  EXPECT_FALSE(restarted.Tick(fleet_));
  clock_.Advance(absl::Minutes(1));
  EXPECT_TRUE(restarted.Tick(fleet_));
  EXPECT_EQ(restarted.Decide({"n1", {}}).revision, "B");
  // The re-derived outcome is stored too.
  ASSERT_TRUE(restarted.Flush().ok());
  EXPECT_EQ(Query("SELECT outcome FROM rollout_nodes WHERE node = 'n0'"), "2");
}

TEST_F(RolloutRederiveTest, AFailedHealthCheckInTheLastReportHalts) {
  v1::Report last = RunOf("B", absl::ToUnixMillis(clock_.Now()));
  last.mutable_health()->set_exit_status(3);
  last.mutable_health()->set_output("unhealthy");
  Crashed(last);
  RolloutController restarted(store_.get(), &clock_);
  ASSERT_TRUE(restarted.Restore().ok());
  EXPECT_TRUE(restarted.Tick(fleet_));
  v1::RolloutStatus status = restarted.Status({});
  EXPECT_EQ(status.phase(), v1::ROLLOUT_HALTED);
  EXPECT_NE(status.halt_reason().find("health check exited 3"), std::string::npos)
      << status.halt_reason();
}

TEST_F(RolloutRederiveTest, AServedNodeWithoutARunOfTheTargetKeepsItAfterAHalt) {
  Crashed(RunOf("A", 1));  // its last report is of the previous revision
  RolloutController restarted(store_.get(), &clock_);
  ASSERT_TRUE(restarted.Restore().ok());
  EXPECT_EQ(restarted.Status(Known(3)).waves(0).pending(), 1);
  EXPECT_FALSE(restarted.Tick(fleet_));  // the canary has not reported B: the wave waits
  ASSERT_TRUE(restarted.Abort().ok());
  // It was served B before the crash: it keeps B (a node never served B would get A).
  EXPECT_EQ(restarted.Decide({"n0", {}}).revision, "B");
  EXPECT_EQ(restarted.Decide({"n1", {}}).revision, "A");
}

}  // namespace
}  // namespace plumb
