// Wave membership: every node in exactly one wave, first matching wave wins, percent waves by
// a stable hash bucket (cumulative), an implicit "rest" wave when the last wave is not a
// catch-all; the same answer whatever the input order; and max_failed resolution.

#include "common/compiler/rollout_waves.h"

#include <algorithm>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace plumb {
namespace {

RolloutWave Percent(uint32_t percent, std::string name = "") {
  RolloutWave wave;
  wave.name = name.empty() ? absl::StrCat("p", percent) : name;
  wave.selector = RolloutWave::Selector::kPercent;
  wave.percent = percent;
  return wave;
}

RolloutWave Globs(std::vector<std::string> globs, std::string name) {
  RolloutWave wave;
  wave.name = std::move(name);
  wave.selector = RolloutWave::Selector::kNodes;
  wave.node_globs = std::move(globs);
  return wave;
}

RolloutWave Labels(std::map<std::string, std::string> labels, std::string name) {
  RolloutWave wave;
  wave.name = std::move(name);
  wave.selector = RolloutWave::Selector::kLabels;
  wave.labels = std::move(labels);
  return wave;
}

std::vector<RolloutNode> Fleet(int n) {
  std::vector<RolloutNode> nodes;
  for (int i = 0; i < n; ++i) {
    RolloutNode node{absl::StrCat("web-", i), {}};
    if (i % 10 == 3) node.labels["role"] = "db";
    nodes.push_back(std::move(node));
  }
  return nodes;
}

TEST(RolloutBucketTest, IsInRangeAndReachesEveryBucket) {
  std::set<uint32_t> seen;
  for (int i = 0; i < 2000; ++i) {
    uint32_t b = RolloutBucket(absl::StrCat("node-", i));
    ASSERT_LT(b, 100u);
    seen.insert(b);
  }
  EXPECT_EQ(seen.size(), 100u);
}

TEST(RolloutBucketTest, MatchesTheDocumentedRule) {
  // Pinned (computed with Python's hashlib): changing the hash would silently move every
  // fleet's canaries. Bucket = first 8 bytes of SHA-256(name), big-endian, mod 100.
  EXPECT_EQ(RolloutBucket(""), 0xe3b0c44298fc1c14ull % 100);
  EXPECT_EQ(RolloutBucket(""), 52u);
  EXPECT_EQ(RolloutBucket("web-01"), 87u);          // 0b9d9f06cc8cf447...
  EXPECT_EQ(RolloutBucket("web-canary-1"), 78u);    // 6d5db4f32c076db2...
}

TEST(RolloutWavesTest, EveryNodeInExactlyOneWaveFirstMatchWins) {
  RolloutPolicy policy;
  policy.waves = {Globs({"web-1", "web-2?"}, "canary"), Labels({{"role", "db"}}, "db"),
                  Percent(25), Percent(100)};
  std::vector<RolloutNode> nodes = Fleet(200);
  std::vector<WaveAssignment> plan = AssignWaves(policy, nodes);
  ASSERT_EQ(plan.size(), 4u);  // percent: 100 is a catch-all: no implicit wave
  std::set<std::string> all;
  size_t total = 0;
  for (const WaveAssignment& wave : plan) {
    EXPECT_FALSE(wave.implicit);
    EXPECT_TRUE(std::is_sorted(wave.nodes.begin(), wave.nodes.end()));
    total += wave.nodes.size();
    all.insert(wave.nodes.begin(), wave.nodes.end());
  }
  EXPECT_EQ(total, nodes.size());
  EXPECT_EQ(all.size(), nodes.size());
  // web-1 and web-20..29; web-23 has role=db but the canary wave comes first.
  EXPECT_EQ(plan[0].nodes.size(), 11u);
  EXPECT_TRUE(std::count(plan[0].nodes.begin(), plan[0].nodes.end(), "web-23"));
  for (const std::string& name : plan[1].nodes) {
    EXPECT_EQ(name.back(), '3') << name;  // i % 10 == 3
  }
  EXPECT_EQ(plan[1].nodes.size(), 20u - 1u);  // web-23 is a canary
  for (const std::string& name : plan[2].nodes) EXPECT_LT(RolloutBucket(name), 25u) << name;
  for (const std::string& name : plan[3].nodes) EXPECT_GE(RolloutBucket(name), 25u) << name;
}

TEST(RolloutWavesTest, PercentIsCumulativeByBucket) {
  RolloutPolicy policy;
  policy.waves = {Percent(1), Percent(25), Percent(100)};
  std::vector<WaveAssignment> plan = AssignWaves(policy, Fleet(5000));
  for (const std::string& name : plan[0].nodes) EXPECT_EQ(RolloutBucket(name), 0u);
  for (const std::string& name : plan[1].nodes) {
    EXPECT_GE(RolloutBucket(name), 1u);
    EXPECT_LT(RolloutBucket(name), 25u);
  }
  for (const std::string& name : plan[2].nodes) EXPECT_GE(RolloutBucket(name), 25u);
  // Roughly the stated shares of 5000 nodes (1%, +24%, +75%).
  EXPECT_NEAR(plan[0].nodes.size(), 50, 30);
  EXPECT_NEAR(plan[1].nodes.size(), 1200, 150);
  EXPECT_NEAR(plan[2].nodes.size(), 3750, 150);
}

TEST(RolloutWavesTest, PercentBoundariesAtBucketEdges) {
  // A node of bucket b is in `percent: b+1` and not in `percent: b`.
  for (int i = 0; i < 300; ++i) {
    RolloutNode node{absl::StrCat("host", i), {}};
    uint32_t b = RolloutBucket(node.name);
    RolloutPolicy policy;
    if (b > 0) policy.waves.push_back(Percent(b, "below"));
    policy.waves.push_back(Percent(b + 1, "at"));
    size_t index = WaveIndexOf(policy, node);
    EXPECT_EQ(policy.waves[index].name, "at") << node.name << " bucket " << b;
  }
}

TEST(RolloutWavesTest, SameAnswerWhateverTheOrderAndFleet) {
  RolloutPolicy policy;
  policy.waves = {Globs({"web-7*"}, "canary"), Percent(30), Percent(60)};
  std::vector<RolloutNode> nodes = Fleet(300);
  std::vector<WaveAssignment> first = AssignWaves(policy, nodes);
  std::mt19937 rng(42);
  std::shuffle(nodes.begin(), nodes.end(), rng);
  std::vector<WaveAssignment> shuffled = AssignWaves(policy, nodes);
  ASSERT_EQ(first.size(), shuffled.size());
  for (size_t i = 0; i < first.size(); ++i) EXPECT_EQ(first[i].nodes, shuffled[i].nodes);
  // A node's wave does not depend on who else is in the fleet.
  for (const RolloutNode& node : nodes) {
    std::vector<WaveAssignment> alone = AssignWaves(policy, {node});
    size_t index = WaveIndexOf(policy, node);
    ASSERT_EQ(alone[index].nodes.size(), 1u);
    EXPECT_TRUE(std::count(first[index].nodes.begin(), first[index].nodes.end(), node.name));
  }
}

TEST(RolloutWavesTest, NodesNoWaveTakesGoToTheImplicitRestWave) {
  RolloutPolicy policy;
  policy.waves = {Globs({"web-1"}, "canary"), Percent(50)};
  std::vector<WaveAssignment> plan = AssignWaves(policy, Fleet(100));
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_TRUE(plan[2].implicit);
  EXPECT_EQ(plan[2].name, kImplicitWaveName);
  EXPECT_EQ(plan[0].nodes, std::vector<std::string>{"web-1"});
  for (const std::string& name : plan[2].nodes) EXPECT_GE(RolloutBucket(name), 50u);
  EXPECT_EQ(plan[0].nodes.size() + plan[1].nodes.size() + plan[2].nodes.size(), 100u);
  EXPECT_EQ(WaveIndexOf(policy, RolloutNode{"web-1", {}}), 0u);
}

TEST(RolloutWavesTest, EmptyFleetGivesEmptyWaves) {
  RolloutPolicy policy;
  policy.waves = {Labels({{"role", "canary"}}, "canary"), Percent(100)};
  std::vector<WaveAssignment> plan = AssignWaves(policy, {});
  ASSERT_EQ(plan.size(), 2u);
  for (const WaveAssignment& wave : plan) EXPECT_TRUE(wave.nodes.empty());
  policy.waves.pop_back();
  plan = AssignWaves(policy, {});
  ASSERT_EQ(plan.size(), 2u);  // canary + implicit rest, both empty
  EXPECT_TRUE(plan[1].implicit);
}

TEST(RolloutWavesTest, LabelsWaveNeedsEveryLabel) {
  RolloutPolicy policy;
  policy.waves = {Labels({{"role", "web"}, {"env", "prod"}}, "prod-web"), Percent(100)};
  EXPECT_EQ(WaveIndexOf(policy, {"a", {{"role", "web"}, {"env", "prod"}, {"x", "y"}}}), 0u);
  EXPECT_EQ(WaveIndexOf(policy, {"a", {{"role", "web"}}}), 1u);
  EXPECT_EQ(WaveIndexOf(policy, {"a", {{"role", "web"}, {"env", "staging"}}}), 1u);
}

TEST(RolloutMaxFailedTest, CountIsAsWrittenPercentRoundsDown) {
  EXPECT_EQ(MaxFailedFor(MaxFailed{false, 0}, 10), 0u);
  EXPECT_EQ(MaxFailedFor(MaxFailed{false, 3}, 2), 3u);
  EXPECT_EQ(MaxFailedFor(MaxFailed{true, 10}, 5), 0u);
  EXPECT_EQ(MaxFailedFor(MaxFailed{true, 10}, 10), 1u);
  EXPECT_EQ(MaxFailedFor(MaxFailed{true, 10}, 19), 1u);
  EXPECT_EQ(MaxFailedFor(MaxFailed{true, 10}, 20), 2u);
  EXPECT_EQ(MaxFailedFor(MaxFailed{true, 50}, 3), 1u);
  EXPECT_EQ(MaxFailedFor(MaxFailed{true, 100}, 7), 7u);
  EXPECT_EQ(MaxFailedFor(MaxFailed{true, 0}, 1000), 0u);
  EXPECT_EQ(MaxFailedFor(MaxFailed{true, 25}, 0), 0u);
  // AssignWaves fills it per wave.
  RolloutPolicy policy;
  policy.waves = {Globs({"web-1", "web-2"}, "two"), Percent(100)};
  policy.max_failed = MaxFailed{true, 50};
  std::vector<WaveAssignment> plan = AssignWaves(policy, Fleet(12));
  EXPECT_EQ(plan[0].max_failed, 1u);
  EXPECT_EQ(plan[1].max_failed, 5u);
}

}  // namespace
}  // namespace plumb
