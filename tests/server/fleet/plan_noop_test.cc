// What a plan shows of one noop sample (FillNoopSample): the results that are not unchanged,
// bounded so that 50 samples keep the plan answer far under gRPC's message limit.

#include "server/fleet/plan_noop.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace plumb {
namespace {

v1::ResourceResult* Add(v1::Report* report, const std::string& id, v1::ResourceOutcome outcome,
                        const std::string& diff = "") {
  v1::ResourceResult* r = report->add_results();
  r->set_id(id);
  r->set_outcome(outcome);
  r->set_diff(diff);
  return r;
}

TEST(PlanNoopTest, ShowsWhatWouldChangeAndCountsTheRest) {
  NoopOutcome outcome;
  outcome.answered = true;
  Add(&outcome.report, "file:/etc/motd", v1::WOULD_CHANGE, "-edited\n+managed\n");
  Add(&outcome.report, "file:/etc/hosts", v1::UNCHANGED);
  Add(&outcome.report, "exec:x", v1::FAILED)->set_message("no such command");
  v1::PlanNoopSample sample;
  FillNoopSample(outcome, &sample);
  EXPECT_TRUE(sample.answered());
  EXPECT_EQ(sample.unchanged(), 1);
  ASSERT_EQ(sample.results_size(), 2);
  EXPECT_EQ(sample.results(0).diff(), "-edited\n+managed\n");
  EXPECT_EQ(sample.results(1).message(), "no such command");
  EXPECT_EQ(sample.truncated(), "");
}

TEST(PlanNoopTest, NoAnswerAndErrorsShowNoResults) {
  v1::PlanNoopSample silent;
  FillNoopSample(NoopOutcome{}, &silent);
  EXPECT_FALSE(silent.answered());
  EXPECT_EQ(silent.error(), "");
  v1::PlanNoopSample failed;
  NoopOutcome outcome{true, "cannot fetch blob", {}};
  Add(&outcome.report, "file:/etc/motd", v1::WOULD_CHANGE);
  FillNoopSample(outcome, &failed);
  EXPECT_EQ(failed.error(), "cannot fetch blob");
  EXPECT_EQ(failed.results_size(), 0);
}

TEST(PlanNoopTest, BoundedPerSample) {
  NoopOutcome outcome;
  outcome.answered = true;
  const std::string diff(NoopSampler::kMaxDiffBytesPerSample / 2 + 1, 'x');
  for (int i = 0; i < NoopSampler::kMaxResultsPerSample + 5; ++i) {
    Add(&outcome.report, "file:/f" + std::to_string(i), v1::WOULD_CHANGE, diff)
        ->set_message(std::string(5000, 'm'));
  }
  v1::PlanNoopSample sample;
  FillNoopSample(outcome, &sample);
  EXPECT_EQ(sample.results_size(), NoopSampler::kMaxResultsPerSample);
  EXPECT_EQ(sample.results(0).diff(), diff);
  EXPECT_EQ(sample.results(1).diff(), "");  // over the per-sample diff budget
  EXPECT_LE(sample.results(0).message().size(), NoopSampler::kMaxMessageBytes + 3);
  EXPECT_EQ(sample.truncated(), "5 results not shown; 99 diffs not shown");
  EXPECT_LT(sample.ByteSizeLong(), 160 * 1024u);
}

TEST(PlanNoopTest, PicksConnectedNodesCappedPerGroupAndPerPlan) {
  v1::PlanResponse plan;
  for (int g = 0; g < 8; ++g) {
    v1::PlanGroup* group = plan.add_groups();
    for (int i = 0; i < 20; ++i) group->add_nodes(absl::StrCat("g", g, "-n", i));
  }
  // Odd-numbered nodes are offline.
  auto connected = [](const std::string& name) { return (name.back() - '0') % 2 == 0; };
  auto picked = PickNoopSamples(3, connected, &plan);
  ASSERT_EQ(picked.size(), 24u);
  EXPECT_EQ(picked[0], std::make_pair(0, std::string("g0-n0")));
  EXPECT_EQ(picked[1], std::make_pair(0, std::string("g0-n2")));
  EXPECT_EQ(picked[3], std::make_pair(1, std::string("g1-n0")));
  EXPECT_EQ(plan.noop_note(), "");

  picked = PickNoopSamples(25, connected, &plan);  // 10 per group at most, 50 in all
  ASSERT_EQ(picked.size(), 50u);
  EXPECT_EQ(picked[9].first, 0);
  EXPECT_EQ(picked[10].first, 1);
  EXPECT_EQ(picked[49].first, 4);
  EXPECT_EQ(plan.noop_note(),
            "sampled 50 nodes, the most per plan; later groups have fewer; "
            "at most 10 nodes per group");
}

}  // namespace
}  // namespace plumb
