// The agent cuts its reports to what the server accepts (wire::CheckReport), diffs first, then
// messages, then results, saying so in the report; a report that fits is left alone.

#include "agent/report_fit.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/wire_limits.h"
#include "gtest/gtest.h"

namespace plumb {
namespace {

v1::Report ReportWith(int results, size_t diff_bytes, size_t message_bytes) {
  v1::Report report;
  report.set_id("1700000000000-abc");
  report.set_node("web-01");
  for (int i = 0; i < results; ++i) {
    v1::ResourceResult* r = report.add_results();
    r->set_id(absl::StrCat("file:/etc/f", i));
    r->set_outcome(i % 2 == 0 ? v1::CHANGED : v1::UNCHANGED);
    r->set_diff(std::string(diff_bytes, 'd'));
    r->set_message(std::string(message_bytes, 'm'));
  }
  return report;
}

TEST(ReportFitTest, AReportThatFitsIsUntouched) {
  v1::Report report = ReportWith(10, 1000, 100);
  v1::Report before = report;
  EXPECT_FALSE(FitReport(&report));
  EXPECT_EQ(report.SerializeAsString(), before.SerializeAsString());
  EXPECT_TRUE(wire::CheckReport(report).ok());
}

TEST(ReportFitTest, DiffsGoFirstAndTheNoteSaysHowMany) {
  // 8 diffs of 900 KiB: about 7 MiB, over the 4 MiB report limit.
  v1::Report report = ReportWith(8, 900 * 1024, 100);
  ASSERT_FALSE(wire::CheckReport(report).ok());
  EXPECT_TRUE(FitReport(&report));
  EXPECT_TRUE(wire::CheckReport(report).ok()) << wire::CheckReport(report);
  int diffs = 0;
  for (const auto& r : report.results()) diffs += r.diff().empty() ? 0 : 1;
  EXPECT_EQ(report.results_size(), 8);
  EXPECT_GT(diffs, 0) << "only as many diffs as needed are dropped";
  EXPECT_EQ(report.truncated(),
            absl::StrCat("report truncated: ", 8 - diffs, " diffs dropped to fit 4 MiB"));
  for (const auto& r : report.results()) EXPECT_EQ(r.message().size(), 100u);
  // Fitting again changes nothing: a queued report is re-sent as it was.
  v1::Report again = report;
  EXPECT_FALSE(FitReport(&again));
  EXPECT_EQ(again.SerializeAsString(), report.SerializeAsString());
}

TEST(ReportFitTest, OverLongFieldsAreCutToTheirOwnLimits) {
  v1::Report report = ReportWith(2, 0, 0);
  report.mutable_results(0)->set_message(std::string(wire::kMaxResultMessageBytes + 10, 'm'));
  report.mutable_results(1)->set_diff(std::string(wire::kMaxResultDiffBytes + 10, 'd'));
  EXPECT_TRUE(FitReport(&report));
  EXPECT_TRUE(wire::CheckReport(report).ok()) << wire::CheckReport(report);
  EXPECT_TRUE(report.results(1).diff().empty());
  EXPECT_TRUE(absl::EndsWith(report.results(0).message(), "…"));
  EXPECT_NE(report.truncated().find("1 diffs dropped"), std::string::npos) << report.truncated();
}

TEST(ReportFitTest, MessagesThenUnchangedResultsGoWhenDiffsAreNotEnough) {
  // 60,000 results with 60-byte messages and ids: about 8 MiB without any diff.
  v1::Report report = ReportWith(60000, 0, 60);
  ASSERT_FALSE(wire::CheckReport(report).ok());
  EXPECT_TRUE(FitReport(&report));
  EXPECT_TRUE(wire::CheckReport(report).ok()) << wire::CheckReport(report);
  EXPECT_LT(report.results_size(), 60000);
  // Unchanged results go before any changed one (messages of 60 bytes are already short).
  int changed = 0;
  for (const auto& r : report.results()) changed += r.outcome() == v1::CHANGED ? 1 : 0;
  EXPECT_EQ(changed, 30000);
  EXPECT_NE(report.truncated().find("results dropped"), std::string::npos) << report.truncated();
}

TEST(ReportFitTest, InvalidUtf8BecomesValidSoTheServerCanParseIt) {
  v1::Report report = ReportWith(1, 0, 0);
  report.mutable_results(0)->set_diff("-caf\xe9\n+caf\xc3\xa9\n");  // a latin-1 file
  FitReport(&report);
  EXPECT_EQ(report.results(0).diff(), "-caf?\n+caf\xc3\xa9\n");
  v1::Report parsed;
  EXPECT_TRUE(parsed.ParseFromString(report.SerializeAsString()));
}

TEST(ReportFitTest, FitTextCutsOnCharacterBoundaries) {
  EXPECT_EQ(FitText("abcdef", 6), "abcdef");
  EXPECT_EQ(FitText("abcdefg", 6), "abc…");
  // "é" is two bytes: never split.
  EXPECT_EQ(FitText("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 6), "\xc3\xa9…");
  EXPECT_EQ(FitText("abcdef", 2), "");
}

}  // namespace
}  // namespace plumb
