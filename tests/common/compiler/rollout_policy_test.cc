// plumb.yaml's `rollout:` policy through DesiredState::Parse: the valid forms land on
// DesiredState::rollout() (and in the proto kept on v1::Revision); every invalid form is a
// repository error with its exact file:line:col and the offending value, and leaves no policy.

#include "common/compiler/rollout_policy.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/compiler/compiler.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/fuzz/map_tree.h"

namespace plumb {
namespace {

constexpr char kHead[] = R"(version: 1
targets:
  - {name: all, nodes: "*", modules: [base]}
)";

std::shared_ptr<const DesiredState> ParseWith(const std::string& rollout) {
  fuzz::MapTree tree({{"plumb.yaml", std::string(kHead) + rollout},
                      {"modules/base/module.yaml", "resources:\n  - package: vim\n"}});
  return DesiredState::Parse(tree, "rev");
}

std::string Dump(const std::vector<CompileError>& errors) {
  std::string out;
  for (const CompileError& e : errors) absl::StrAppend(&out, e.ToString(), "\n");
  return out;
}

TEST(RolloutPolicyTest, NoRolloutKeyMeansNoPolicy) {
  auto state = ParseWith("");
  ASSERT_TRUE(state->ok()) << Dump(state->errors());
  EXPECT_EQ(state->rollout(), nullptr);
  EXPECT_EQ(ParseWith("rollout:\n")->rollout(), nullptr);
}

TEST(RolloutPolicyTest, TheDesignExampleParsesWithEveryKey) {
  auto state = ParseWith(R"(rollout:
  waves:
    - {name: canary, nodes: ["web-canary-*"], bake: 2m}
    - {percent: 25, bake: 5m}
    - labels: {role: db, env: prod}
    - {percent: 100}
  max_failed: "10%"
  health: {exec: /usr/local/bin/healthy, timeout: 45s}
  offline: skip
  on_failure: rollback
)");
  ASSERT_TRUE(state->ok()) << Dump(state->errors());
  const RolloutPolicy* policy = state->rollout();
  ASSERT_NE(policy, nullptr);
  EXPECT_EQ(policy->location, "plumb.yaml:5:3");
  ASSERT_EQ(policy->waves.size(), 4u);
  EXPECT_EQ(policy->waves[0].name, "canary");
  EXPECT_EQ(policy->waves[0].selector, RolloutWave::Selector::kNodes);
  EXPECT_THAT(policy->waves[0].node_globs, ::testing::ElementsAre("web-canary-*"));
  EXPECT_EQ(policy->waves[0].bake, absl::Minutes(2));
  EXPECT_EQ(policy->waves[0].location, "plumb.yaml:6:7");
  EXPECT_EQ(policy->waves[1].name, "wave 2");  // unnamed: by position
  EXPECT_EQ(policy->waves[1].percent, 25u);
  EXPECT_EQ(policy->waves[1].bake, absl::Minutes(5));
  EXPECT_EQ(policy->waves[2].selector, RolloutWave::Selector::kLabels);
  EXPECT_EQ(policy->waves[2].labels.at("env"), "prod");
  EXPECT_EQ(policy->waves[2].bake, absl::ZeroDuration());
  EXPECT_EQ(policy->waves[3].percent, 100u);
  EXPECT_TRUE(policy->max_failed.is_percent);
  EXPECT_EQ(policy->max_failed.value, 10u);
  EXPECT_EQ(policy->health_exec, "/usr/local/bin/healthy");
  EXPECT_EQ(policy->health_timeout, absl::Seconds(45));
  EXPECT_EQ(policy->on_failure, RolloutPolicy::OnFailure::kRollback);
  EXPECT_TRUE(policy->HasCatchAll());

  v1::RolloutPolicy proto = RolloutPolicyToProto(*policy);
  ASSERT_EQ(proto.waves_size(), 4);
  EXPECT_EQ(proto.waves(0).nodes(0), "web-canary-*");
  EXPECT_EQ(proto.waves(0).bake_ms(), 120000);
  EXPECT_EQ(proto.waves(1).percent(), 25u);
  EXPECT_EQ(proto.waves(2).labels().at("role"), "db");
  EXPECT_EQ(proto.max_failed_case(), v1::RolloutPolicy::kMaxFailedPercent);
  EXPECT_EQ(proto.max_failed_percent(), 10u);
  EXPECT_EQ(proto.health_timeout_ms(), 45000);
  EXPECT_EQ(proto.offline(), v1::RolloutPolicy::OFFLINE_SKIP);
  EXPECT_EQ(proto.on_failure(), v1::RolloutPolicy::ON_FAILURE_ROLLBACK);
  EXPECT_FALSE(proto.implicit_final_wave());
}

TEST(RolloutPolicyTest, DefaultsAndSingleGlob) {
  auto state = ParseWith("rollout:\n  waves:\n    - nodes: \"canary-1\"\n");
  ASSERT_TRUE(state->ok()) << Dump(state->errors());
  const RolloutPolicy* policy = state->rollout();
  ASSERT_NE(policy, nullptr);
  EXPECT_THAT(policy->waves[0].node_globs, ::testing::ElementsAre("canary-1"));
  EXPECT_FALSE(policy->max_failed.is_percent);
  EXPECT_EQ(policy->max_failed.value, 0u);
  EXPECT_EQ(policy->health_exec, "");
  EXPECT_EQ(policy->health_timeout, kDefaultHealthTimeout);
  EXPECT_EQ(policy->on_failure, RolloutPolicy::OnFailure::kHalt);
  EXPECT_FALSE(policy->HasCatchAll());
  v1::RolloutPolicy proto = RolloutPolicyToProto(*policy);
  EXPECT_EQ(proto.max_failed_case(), v1::RolloutPolicy::kMaxFailedCount);
  EXPECT_TRUE(proto.implicit_final_wave());
  EXPECT_EQ(proto.on_failure(), v1::RolloutPolicy::ON_FAILURE_HALT);
}

TEST(RolloutPolicyTest, MaxFailedCountAndCatchAllGlob) {
  auto state = ParseWith("rollout:\n  waves: [{nodes: [a, \"*\"]}]\n  max_failed: 3\n");
  ASSERT_TRUE(state->ok()) << Dump(state->errors());
  EXPECT_EQ(state->rollout()->max_failed.value, 3u);
  EXPECT_FALSE(state->rollout()->max_failed.is_percent);
  EXPECT_TRUE(state->rollout()->HasCatchAll());
}

struct BadPolicy {
  std::string name;
  std::string rollout;   // appended to plumb.yaml (its first line is line 4)
  std::string location;  // exact
  std::string fragment;  // in the message
};

std::vector<BadPolicy> Cases() {
  return {
      {"NotAMap", "rollout: [a]\n", "plumb.yaml:4:10", "rollout must be a map, got a list"},
      {"UnknownKey", "rollout:\n  waves: [{percent: 100}]\n  max_fail: 1\n", "plumb.yaml:6:3",
       "unknown rollout key 'max_fail'"},
      {"NoWaves", "rollout:\n  max_failed: 1\n", "plumb.yaml:5:3", "rollout needs 'waves'"},
      {"EmptyWaves", "rollout:\n  waves: []\n", "plumb.yaml:5:10",
       "waves must be a non-empty list, got an empty list"},
      {"WaveNotAMap", "rollout:\n  waves: [canary]\n", "plumb.yaml:5:11",
       "wave must be a map, got a string"},
      {"UnknownWaveKey", "rollout:\n  waves:\n    - {percent: 100, bakes: 1m}\n",
       "plumb.yaml:6:22", "unknown wave key 'bakes'"},
      {"NoSelector", "rollout:\n  waves:\n    - {name: first, bake: 1m}\n", "plumb.yaml:6:7",
       "wave \"first\" needs exactly one of nodes, labels or percent, got none"},
      {"TwoSelectors", "rollout:\n  waves:\n    - {nodes: [a], percent: 5}\n", "plumb.yaml:6:7",
       "wave \"wave 1\" needs exactly one of nodes, labels or percent, got nodes and percent"},
      {"PercentZero", "rollout:\n  waves:\n    - percent: 0\n", "plumb.yaml:6:16",
       "percent must be an integer from 1 to 100, got 0"},
      {"PercentOver100", "rollout:\n  waves:\n    - percent: 101\n", "plumb.yaml:6:16",
       "got 101"},
      {"PercentWithSign", "rollout:\n  waves:\n    - percent: 25%\n", "plumb.yaml:6:16",
       "got 25%"},
      {"PercentQuoted", "rollout:\n  waves:\n    - percent: \"25\"\n", "plumb.yaml:6:16",
       "got \"25\""},
      {"PercentNotIncreasing",
       "rollout:\n  waves:\n    - {name: a, percent: 50}\n    - {percent: 50}\n",
       "plumb.yaml:7:17", "percent 50 must be greater than 50 of the earlier wave \"a\""},
      {"BadGlob", "rollout:\n  waves:\n    - nodes: [\"web[\"]\n", "plumb.yaml:6:15",
       "bad glob \"web[\""},
      {"EmptyGlobList", "rollout:\n  waves:\n    - nodes: []\n", "plumb.yaml:6:14",
       "nodes must list at least one glob"},
      {"EmptyLabels", "rollout:\n  waves:\n    - labels: {}\n", "plumb.yaml:6:15",
       "labels must name at least one label"},
      {"LabelsNotAMap", "rollout:\n  waves:\n    - labels: [role]\n", "plumb.yaml:6:15",
       "labels must be a map, got a list"},
      {"BadBake", "rollout:\n  waves:\n    - {percent: 100, bake: soon}\n", "plumb.yaml:6:28",
       "bake must be seconds or a duration like \"30s\" or \"5m\", got soon"},
      {"DuplicateWaveName",
       "rollout:\n  waves:\n    - {name: a, percent: 10}\n    - {name: a, percent: 100}\n",
       "plumb.yaml:7:7", "duplicate wave name \"a\""},
      {"EmptyWaveName", "rollout:\n  waves:\n    - {name: \"\", percent: 10}\n",
       "plumb.yaml:6:14", "name must not be empty"},
      {"MaxFailedNegative", "rollout:\n  waves: [{percent: 100}]\n  max_failed: -1\n",
       "plumb.yaml:6:15", "max_failed must be a count like 1 or a percentage"},
      {"MaxFailedPercentOver", "rollout:\n  waves: [{percent: 100}]\n  max_failed: \"150%\"\n",
       "plumb.yaml:6:15", "got \"150%\""},
      {"MaxFailedWord", "rollout:\n  waves: [{percent: 100}]\n  max_failed: some\n",
       "plumb.yaml:6:15", "got some"},
      {"HealthWithoutExec", "rollout:\n  waves: [{percent: 100}]\n  health: {timeout: 5s}\n",
       "plumb.yaml:6:11", "health needs 'exec'"},
      {"HealthNotAMap", "rollout:\n  waves: [{percent: 100}]\n  health: /bin/true\n",
       "plumb.yaml:6:11", "health must be a map, got a string"},
      {"HealthBadTimeout",
       "rollout:\n  waves: [{percent: 100}]\n  health: {exec: x, timeout: 0}\n",
       "plumb.yaml:6:30", "timeout must be more than 0, got 0"},
      {"HealthUnknownKey",
       "rollout:\n  waves: [{percent: 100}]\n  health: {exec: x, retries: 2}\n",
       "plumb.yaml:6:21", "unknown health key 'retries'"},
      {"OfflineWait", "rollout:\n  waves: [{percent: 100}]\n  offline: wait\n",
       "plumb.yaml:6:12", "offline must be skip, got wait"},
      {"OnFailureWord", "rollout:\n  waves: [{percent: 100}]\n  on_failure: retry\n",
       "plumb.yaml:6:15", "on_failure must be rollback or halt, got retry"},
  };
}

class RolloutPolicyErrorTest : public ::testing::TestWithParam<BadPolicy> {};

TEST_P(RolloutPolicyErrorTest, IsARepositoryErrorAtItsPlace) {
  const BadPolicy& bad = GetParam();
  auto state = ParseWith(bad.rollout);
  ASSERT_FALSE(state->ok()) << "accepted:\n" << bad.rollout;
  EXPECT_EQ(state->rollout(), nullptr);
  bool found = false;
  for (const CompileError& e : state->errors()) {
    EXPECT_FALSE(e.node_dependent) << e.ToString();
    if (e.location == bad.location && e.message.find(bad.fragment) != std::string::npos) {
      found = true;
    }
  }
  EXPECT_TRUE(found) << "want " << bad.location << ": ..." << bad.fragment << "\ngot:\n"
                     << Dump(state->errors());
}

INSTANTIATE_TEST_SUITE_P(Cases, RolloutPolicyErrorTest, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<BadPolicy>& info) {
                           return info.param.name;
                         });

TEST(RolloutPolicyTest, TooManyWavesIsAnError) {
  std::string rollout = "rollout:\n  waves:\n";
  for (size_t i = 1; i <= kMaxRolloutWaves + 1; ++i) {
    absl::StrAppend(&rollout, "    - {nodes: [n", i, "]}\n");
  }
  auto state = ParseWith(rollout);
  ASSERT_EQ(state->errors().size(), 1u) << Dump(state->errors());
  EXPECT_EQ(state->errors()[0].location, "plumb.yaml:6:5");
  EXPECT_THAT(state->errors()[0].message, ::testing::HasSubstr("limit 64"));
}

TEST(RolloutPolicyTest, EveryErrorOfOnePolicyIsReported) {
  auto state = ParseWith(R"(rollout:
  waves:
    - {percent: 0}
    - {nodes: [a], labels: {r: x}}
  max_failed: lots
  on_failure: panic
)");
  std::vector<std::string> locations;
  for (const CompileError& e : state->errors()) locations.push_back(e.location);
  EXPECT_THAT(locations, ::testing::UnorderedElementsAre("plumb.yaml:6:17", "plumb.yaml:7:7",
                                                         "plumb.yaml:8:15", "plumb.yaml:9:15"))
      << Dump(state->errors());
}

}  // namespace
}  // namespace plumb
