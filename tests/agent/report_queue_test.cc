#include "agent/report_queue.h"

#include "gtest/gtest.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

v1::Report MakeReport(const std::string& id, int64_t started) {
  v1::Report r;
  r.set_id(id);
  r.set_started_unix_ms(started);
  r.set_revision("rev-" + id);
  return r;
}

TEST(ReportQueueTest, SurvivesReopenUntilRemoved) {
  testing::TempDir dir;
  {
    auto q = ReportQueue::Open(dir.Sub("reports"));
    ASSERT_TRUE(q.ok());
    ASSERT_TRUE((*q)->Enqueue(MakeReport("b", 20)).ok());
    ASSERT_TRUE((*q)->Enqueue(MakeReport("a", 10)).ok());
  }
  auto q = ReportQueue::Open(dir.Sub("reports"));
  ASSERT_TRUE(q.ok());
  auto pending = (*q)->Pending();
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_EQ(pending[0].id(), "a");  // oldest first
  EXPECT_EQ(pending[1].revision(), "rev-b");
  ASSERT_TRUE((*q)->Remove("a").ok());
  ASSERT_TRUE((*q)->Remove("a").ok());  // idempotent
  EXPECT_EQ((*q)->size(), 1u);
}

TEST(ReportQueueTest, LeftoverTempFilesAreIgnoredAndCorruptFilesKept) {
  testing::TempDir dir;
  auto q = ReportQueue::Open(dir.Sub("reports"));
  ASSERT_TRUE(q.ok());
  testing::WriteFileOrDie(dir.Sub("reports/x.report.tmp.123"), "half");
  testing::WriteFileOrDie(dir.Sub("reports/bad.report"), "\xff\xff\xff not a proto");
  ASSERT_TRUE((*q)->Enqueue(MakeReport("good", 1)).ok());
  auto pending = (*q)->Pending();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].id(), "good");
  EXPECT_NE(testing::ReadFileOrEmpty(dir.Sub("reports/bad.report")), "<missing>");
}

TEST(ReportQueueTest, RejectsIdsThatWouldEscapeTheDirectory) {
  testing::TempDir dir;
  auto q = ReportQueue::Open(dir.Sub("reports"));
  ASSERT_TRUE(q.ok());
  EXPECT_FALSE((*q)->Enqueue(MakeReport("../evil", 1)).ok());
  EXPECT_FALSE((*q)->Remove("../evil").ok());
  EXPECT_FALSE((*q)->Enqueue(MakeReport("", 1)).ok());
}

}  // namespace
}  // namespace plumb
