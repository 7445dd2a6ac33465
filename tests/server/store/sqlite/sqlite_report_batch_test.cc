// SqliteStore::PutReports on a batch shaped like a connect burst's first reports (every result
// changed): the batch's resource events go in a few multi-row statements, not one per row, and
// are stored exactly as before (all of them, in order, none for a re-send or a repeat).

#include <sys/stat.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/store/sqlite/sqlite_store.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using ::plumb::testing::TempDir;

constexpr int kResources = 36;

v1::Report FirstReport(const std::string& node) {
  v1::Report report;
  report.set_id(node + "-1");
  report.set_node(node);
  report.set_revision("rev");
  report.set_trigger(v1::CATALOG);
  report.set_started_unix_ms(1000);
  for (int i = 0; i < kResources; ++i) {
    v1::ResourceResult* r = report.add_results();
    r->set_id(absl::StrCat("file:/etc/f", i));
    r->set_outcome(v1::CHANGED);
    r->set_message(absl::StrCat("changed ", node, " ", i));
  }
  return report;
}

TEST(SqliteReportBatchTest, ABatchsEventsTakeAFewStatementsAndKeepTheirOrder) {
  TempDir dir;
  auto store = SqliteStore::Open(dir.Sub("plumb.db"));
  ASSERT_TRUE(store.ok()) << store.status();
  constexpr int kReports = 10;
  std::vector<v1::Report> reports;
  for (int i = 0; i < kReports; ++i) reports.push_back(FirstReport(absl::StrCat("node-", i)));
  std::vector<const v1::Report*> batch;
  for (const v1::Report& r : reports) batch.push_back(&r);

  int64_t before = (*store)->StatementsRun();
  auto stored = (*store)->PutReports(batch);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(*stored, std::vector<bool>(kReports, true));
  // One INSERT per report row, and 360 event rows in statements of 64/16/4/1 rows (9): one
  // statement per event row ran 370.
  int64_t run = (*store)->StatementsRun() - before;
  EXPECT_LE(run, kReports + 10) << "statements for " << kReports * kResources << " events";

  v1::ListResourceEventsRequest all;
  all.set_limit(1000);
  auto events = (*store)->ListResourceEvents(all);
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), static_cast<size_t>(kReports * kResources));
  // Newest first with equal times: the last row inserted comes first.
  for (size_t k = 0; k < events->size(); ++k) {
    size_t row = events->size() - 1 - k;
    const v1::ResourceEvent& e = (*events)[k];
    const v1::Report& report = reports[row / kResources];
    const v1::ResourceResult& result = report.results(static_cast<int>(row % kResources));
    ASSERT_EQ(e.report_id(), report.id()) << k;
    EXPECT_EQ(e.node(), report.node());
    EXPECT_EQ(e.resource_id(), result.id());
    EXPECT_EQ(e.message(), result.message());
    EXPECT_EQ(e.outcome(), v1::CHANGED);
    EXPECT_EQ(e.revision(), "rev");
    EXPECT_EQ(e.trigger(), v1::CATALOG);
    EXPECT_EQ(e.unix_ms(), 1000);
  }
}

TEST(SqliteReportBatchTest, ReSendsAndRepeatsInABatchAddNoEvents) {
  TempDir dir;
  auto store = SqliteStore::Open(dir.Sub("plumb.db"));
  ASSERT_TRUE(store.ok()) << store.status();
  v1::Report a = FirstReport("a");
  v1::Report b = FirstReport("b");
  v1::Report c = FirstReport("c");
  c.mutable_results(0)->set_outcome(v1::UNCHANGED);  // 35 events
  ASSERT_TRUE((*store)->PutReports({&a}).ok());
  auto stored = (*store)->PutReports({&a, &b, &b, &c});
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(*stored, (std::vector<bool>{false, true, false, true}));

  v1::ListResourceEventsRequest all;
  all.set_limit(1000);
  auto events = (*store)->ListResourceEvents(all);
  ASSERT_TRUE(events.ok()) << events.status();
  EXPECT_EQ(events->size(), static_cast<size_t>(3 * kResources - 1));
}

// The WAL is copied back into the database file only once it holds kWalCheckpointPages, not at
// SQLite's default 1,000 pages (~4 MiB): until then the database file does not grow.
TEST(SqliteReportBatchTest, CheckpointsWaitForALargerWal) {
  TempDir dir;
  auto store = SqliteStore::Open(dir.Sub("plumb.db"));
  ASSERT_TRUE(store.ok()) << store.status();
  auto size = [&](const char* name) -> int64_t {
    struct stat st;
    return stat(dir.Sub(name).c_str(), &st) == 0 ? st.st_size : 0;
  };
  constexpr int64_t kMiB = 1 << 20;
  int n = 0;
  // Until the WAL holds 8 MiB, or a checkpoint has grown the database file.
  while (size("plumb.db-wal") < 8 * kMiB && size("plumb.db") < 1 * kMiB) {
    ASSERT_LT(n, 100000) << "the WAL never grew";
    std::vector<v1::Report> reports;
    for (int i = 0; i < 100; ++i) reports.push_back(FirstReport(absl::StrCat("node-", n++)));
    std::vector<const v1::Report*> batch;
    for (const v1::Report& r : reports) batch.push_back(&r);
    ASSERT_TRUE((*store)->PutReports(batch).ok());
  }
  EXPECT_LT(size("plumb.db"), 1 * kMiB) << "checkpointed with " << size("plumb.db-wal")
                                        << " bytes of WAL";
}

}  // namespace
}  // namespace plumb
