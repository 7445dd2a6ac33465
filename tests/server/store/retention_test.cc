// Retention over a real store (SQLite and PostgreSQL) with a fake clock: reports and their
// resource events are pruned by age and by per-node count; each node's newest report survives;
// re-running is a no-op; time moving on prunes more.

#include "server/store/retention.h"

#include <set>

#include "gtest/gtest.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/test_util.h"
#include "tests/testing/store_backends.h"

namespace plumb {
namespace {

using testing::ManualClock;

constexpr absl::Duration kDay = absl::Hours(24);

class RetentionTest : public ::testing::TestWithParam<testing::StoreBackend> {
 protected:
  void SetUp() override {
    auto store = db_.Open();
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }

  // A report `age` before the clock's now, with one changed and one unchanged resource.
  void AddReport(const std::string& id, const std::string& node, absl::Duration age) {
    v1::Report r;
    r.set_id(id);
    r.set_node(node);
    r.set_revision("abcd1234");
    r.set_trigger(v1::INTERVAL);
    r.set_started_unix_ms(absl::ToUnixMillis(clock_.Now() - age));
    v1::ResourceResult* changed = r.add_results();
    changed->set_id("file:/etc/" + id);
    changed->set_outcome(v1::CHANGED);
    r.add_results()->set_outcome(v1::UNCHANGED);
    auto stored = store_->PutReport(r);
    ASSERT_TRUE(stored.ok() && *stored) << stored.status();
  }

  std::set<std::string> ReportIds() {
    std::set<std::string> ids;
    auto reports = store_->ListReports("", 10000);
    EXPECT_TRUE(reports.ok());
    for (const auto& r : *reports) ids.insert(r.id());
    return ids;
  }

  std::set<std::string> EventReportIds() {
    std::set<std::string> ids;
    v1::ListResourceEventsRequest all;
    all.set_limit(10000);
    auto events = store_->ListResourceEvents(all);
    EXPECT_TRUE(events.ok());
    for (const auto& e : *events) ids.insert(e.report_id());
    return ids;
  }

  testing::StoreTestDb db_{GetParam()};
  ManualClock clock_;
  std::unique_ptr<Store> store_;
};

TEST_P(RetentionTest, PrunesByAgeWithTheirResourceEvents) {
  AddReport("a-old", "a", 40 * kDay);
  AddReport("a-mid", "a", 20 * kDay);
  AddReport("a-new", "a", absl::Hours(1));
  RetentionPruner pruner(store_.get(), &clock_, {/*reports_per_node=*/0, 30 * kDay});
  auto result = pruner.PruneOnce();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->reports, 1);
  EXPECT_EQ(result->resource_events, 1);
  EXPECT_EQ(ReportIds(), (std::set<std::string>{"a-mid", "a-new"}));
  EXPECT_EQ(EventReportIds(), ReportIds());

  // Nothing more to do now; eleven days later a-mid is past 30 days too.
  EXPECT_EQ(pruner.PruneOnce()->reports, 0);
  clock_.Advance(11 * kDay);
  EXPECT_EQ(pruner.PruneOnce()->reports, 1);
  EXPECT_EQ(ReportIds(), (std::set<std::string>{"a-new"}));
  EXPECT_EQ(EventReportIds(), ReportIds());
}

TEST_P(RetentionTest, KeepsNewestPerNode) {
  for (int i = 0; i < 6; ++i) AddReport("a" + std::to_string(i), "a", absl::Minutes(60 - i));
  AddReport("b0", "b", absl::Minutes(90));
  AddReport("b1", "b", absl::Minutes(80));
  RetentionPruner pruner(store_.get(), &clock_, {/*reports_per_node=*/3, absl::ZeroDuration()});
  auto result = pruner.PruneOnce();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->reports, 3);
  EXPECT_EQ(ReportIds(), (std::set<std::string>{"a3", "a4", "a5", "b0", "b1"}));
  EXPECT_EQ(EventReportIds(), ReportIds());
}

TEST_P(RetentionTest, NewestReportOfANodeSurvivesAge) {
  AddReport("gone-1", "gone", 90 * kDay);
  AddReport("gone-2", "gone", 60 * kDay);
  RetentionPruner pruner(store_.get(), &clock_, {500, 30 * kDay});
  ASSERT_TRUE(pruner.PruneOnce().ok());
  EXPECT_EQ(ReportIds(), (std::set<std::string>{"gone-2"}));
}

TEST_P(RetentionTest, BatchesDeleteEverythingDue) {
  for (int i = 0; i < 25; ++i) AddReport("r" + std::to_string(i), "n", absl::Minutes(100 - i));
  auto result = store_->PruneReports(absl::InfinitePast(), 5, /*batch=*/4);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->reports, 20);
  EXPECT_EQ(ReportIds().size(), 5u);
  EXPECT_EQ(EventReportIds(), ReportIds());
}

TEST_P(RetentionTest, ZeroLimitsKeepEverything) {
  AddReport("x0", "x", 400 * kDay);
  AddReport("x1", "x", 300 * kDay);
  RetentionPruner pruner(store_.get(), &clock_, {0, absl::ZeroDuration()});
  EXPECT_EQ(pruner.PruneOnce()->reports, 0);
  EXPECT_EQ(ReportIds().size(), 2u);
}

TEST_P(RetentionTest, LoopPrunesAtStartup) {
  AddReport("old-1", "n", 90 * kDay);
  AddReport("old-2", "n", 80 * kDay);
  RetentionPruner pruner(store_.get(), &clock_, {500, 30 * kDay}, absl::Hours(1));
  pruner.Start();
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (ReportIds().size() != 1 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  pruner.Stop();
  EXPECT_EQ(ReportIds(), (std::set<std::string>{"old-2"}));
}

PLUMB_INSTANTIATE_STORE_BACKENDS(RetentionTest);

}  // namespace
}  // namespace plumb
