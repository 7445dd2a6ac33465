// The metrics registry's Prometheus text format: HELP/TYPE lines, labels and escaping,
// cumulative histogram buckets with _sum/_count, callback metrics; and the server's metric set
// checked by promtool when it is installed (Debian package prometheus).

#include "server/http/metrics.h"

#include <thread>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/http/server_metrics.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using ::testing::HasSubstr;

TEST(MetricsTest, CounterAndGaugeHaveHelpTypeAndValue) {
  MetricsRegistry r;
  Counter* c = r.AddCounter("plumb_things_total", "Things seen.");
  Gauge* g = r.AddGauge("plumb_level", "A level.");
  c->Increment();
  c->Increment(2);
  g->Set(2.5);
  g->Add(-1);
  std::string text = r.RenderText();
  EXPECT_THAT(text, HasSubstr("# HELP plumb_things_total Things seen.\n"
                              "# TYPE plumb_things_total counter\n"
                              "plumb_things_total 3\n"));
  EXPECT_THAT(text, HasSubstr("# HELP plumb_level A level.\n"
                              "# TYPE plumb_level gauge\n"
                              "plumb_level 1.5\n"));
}

TEST(MetricsTest, RegisteringTwiceReturnsTheSameMetric) {
  MetricsRegistry r;
  EXPECT_EQ(r.AddCounter("plumb_a_total", "a"), r.AddCounter("plumb_a_total", "a"));
  EXPECT_EQ(r.LabeledCounter("plumb_b_total", "b", "k", "x"),
            r.LabeledCounter("plumb_b_total", "b", "k", "x"));
  EXPECT_NE(r.LabeledCounter("plumb_b_total", "b", "k", "x"),
            r.LabeledCounter("plumb_b_total", "b", "k", "y"));
}

TEST(MetricsTest, LabelValuesAndHelpAreEscaped) {
  MetricsRegistry r;
  r.LabeledCounter("plumb_odd_total", "Help with \\ and\nnewline.", "what", "a\"b\\c\nd")
      ->Increment();
  std::string text = r.RenderText();
  EXPECT_THAT(text, HasSubstr("# HELP plumb_odd_total Help with \\\\ and\\nnewline.\n"));
  EXPECT_THAT(text, HasSubstr("plumb_odd_total{what=\"a\\\"b\\\\c\\nd\"} 1\n"));
}

TEST(MetricsTest, HistogramBucketsAreCumulativeWithSumAndCount) {
  MetricsRegistry r;
  Histogram* h = r.AddHistogram("plumb_op_seconds", "Op time.", {0.1, 1, 10});
  h->Observe(0.05);
  h->Observe(0.1);  // le is inclusive
  h->Observe(0.5);
  h->Observe(100);
  std::string text = r.RenderText();
  EXPECT_THAT(text, HasSubstr("# TYPE plumb_op_seconds histogram\n"
                              "plumb_op_seconds_bucket{le=\"0.1\"} 2\n"
                              "plumb_op_seconds_bucket{le=\"1\"} 3\n"
                              "plumb_op_seconds_bucket{le=\"10\"} 3\n"
                              "plumb_op_seconds_bucket{le=\"+Inf\"} 4\n"
                              "plumb_op_seconds_sum 100.65\n"
                              "plumb_op_seconds_count 4\n"));
}

TEST(MetricsTest, CallbacksAreReadAtRenderTime) {
  MetricsRegistry r;
  int agents = 1;
  r.AddGaugeCallback("plumb_agents", "Agents.", [&] { return agents; });
  r.AddGaugeFamilyCallback("plumb_nodes", "Nodes.", "status", [&] {
    return std::map<std::string, double>{{"failed", 2}, {"converged", agents * 10.0}};
  });
  agents = 3;
  std::string text = r.RenderText();
  EXPECT_THAT(text, HasSubstr("plumb_agents 3\n"));
  EXPECT_THAT(text, HasSubstr("plumb_nodes{status=\"converged\"} 30\n"
                              "plumb_nodes{status=\"failed\"} 2\n"));
}

TEST(MetricsTest, ValuesFormatAsPrometheusParsesThem) {
  EXPECT_EQ(FormatMetricValue(0), "0");
  EXPECT_EQ(FormatMetricValue(42), "42");
  EXPECT_EQ(FormatMetricValue(0.1), "0.1");
  EXPECT_EQ(FormatMetricValue(1.0 / 3), "0.3333333333333333");
  EXPECT_EQ(FormatMetricValue(1.0 / 0.0), "+Inf");
  EXPECT_EQ(FormatMetricValue(std::nan("")), "NaN");
}

TEST(MetricsTest, ConcurrentUpdatesAreNotLost) {
  MetricsRegistry r;
  Counter* c = r.AddCounter("plumb_c_total", "c");
  Histogram* h = r.AddHistogram("plumb_h_seconds", "h", DurationBuckets());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c->Increment();
        h->Observe(0.5);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c->value(), 40000);
  Histogram::Snapshot s = h->Take();
  EXPECT_EQ(s.count, 40000u);
  EXPECT_DOUBLE_EQ(s.sum, 20000);
}

TEST(ServerMetricsTest, ReportsCountByOutcomeWithDurationAndLag) {
  MetricsRegistry r;
  ServerMetrics m(&r);
  v1::Report report;
  report.set_duration_us(250000);
  report.set_started_unix_ms(1000);
  report.add_results()->set_outcome(v1::CHANGED);
  m.ReportReceived(report, 3000);
  report.add_results()->set_outcome(v1::FAILED);
  m.ReportReceived(report, 1000);
  std::string text = r.RenderText();
  EXPECT_THAT(text, HasSubstr("plumb_reports_received_total{outcome=\"changed\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("plumb_reports_received_total{outcome=\"failed\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("plumb_reports_received_total{outcome=\"unchanged\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("plumb_apply_duration_seconds_sum 0.5\n"));
  EXPECT_THAT(text, HasSubstr("plumb_report_queue_lag_seconds_sum 2\n"));
  EXPECT_THAT(text, HasSubstr("plumb_report_queue_lag_seconds_count 2\n"));
}

// The whole server metric set, as rendered, passes Prometheus's own linter.
TEST(ServerMetricsTest, PassesPromtoolCheckMetrics) {
  if (testing::RunShell("command -v promtool") != 0) {
    GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  }
  MetricsRegistry r;
  ServerMetrics m(&r);
  m.compile_duration->Observe(0.2);
  m.catalog_updates_sent->Increment();
  r.AddGaugeCallback("plumb_connected_agents", "Agents with an open Sync stream.", [] { return 2; });
  r.AddGaugeFamilyCallback("plumb_nodes", "Known nodes by status.", "status", [] {
    return std::map<std::string, double>{{"converged", 2}, {"failed", 0}};
  });
  testing::TempDir dir;
  testing::WriteFileOrDie(dir.Sub("metrics.txt"), r.RenderText());
  std::string output;
  int rc = testing::RunShell("promtool check metrics < " + dir.Sub("metrics.txt"), &output);
  EXPECT_EQ(rc, 0) << output;
  EXPECT_EQ(output, "") << "promtool lint findings";
}

}  // namespace
}  // namespace plumb
