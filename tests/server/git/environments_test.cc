// server.yaml `environments:`: parsing, validation errors, and which line a node's labels pick
// (first match wins, the entry without labels is the default, no default leaves nodes out).

#include "server/git/environments.h"

#include "gtest/gtest.h"
#include "server/server_config.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

absl::StatusOr<Environments> ParseText(const std::string& text) {
  absl::StatusOr<YamlNode> root = ParseYaml(text, "server.yaml");
  if (!root.ok()) return root.status();
  return Environments::Parse(*root, "server.yaml");
}

TEST(EnvironmentsTest, FirstMatchWinsAndTheEntryWithoutLabelsIsTheDefault) {
  auto envs = ParseText(R"(
- {branch: staging, labels: {env: staging}}
- {branch: canary, labels: {env: prod, ring: "0"}}
- {branch: main}
)");
  ASSERT_TRUE(envs.ok()) << envs.status();
  EXPECT_TRUE(envs->configured());
  ASSERT_EQ(envs->all().size(), 3u);
  EXPECT_EQ(envs->all()[0].name, "staging");
  EXPECT_EQ(envs->Match({{"env", "staging"}, {"ring", "0"}}), 0);
  EXPECT_EQ(envs->Match({{"env", "prod"}, {"ring", "0"}}), 1);
  EXPECT_EQ(envs->Match({{"env", "prod"}}), 2);  // canary needs both labels
  EXPECT_EQ(envs->Match({}), 2);
  EXPECT_EQ(envs->Find("canary"), 1);
  EXPECT_EQ(envs->Find("nope"), -1);
}

TEST(EnvironmentsTest, WithoutADefaultNodesMatchingNothingHaveNoEnvironment) {
  auto envs = ParseText("- {branch: staging, labels: {env: staging}}\n");
  ASSERT_TRUE(envs.ok()) << envs.status();
  EXPECT_EQ(envs->Match({{"env", "prod"}}), -1);
  EXPECT_EQ(envs->Match({{"env", "staging"}}), 0);
}

TEST(EnvironmentsTest, SingleLineFollowsOneBranchForEveryNode) {
  Environments single = Environments::Single("main");
  EXPECT_FALSE(single.configured());
  ASSERT_EQ(single.all().size(), 1u);
  EXPECT_EQ(single.all()[0].name, "");
  EXPECT_EQ(single.all()[0].branch, "main");
  EXPECT_EQ(single.Match({{"env", "whatever"}}), 0);
}

TEST(EnvironmentsTest, ErrorsNameTheEntry) {
  struct Case {
    const char* yaml;
    const char* message;
  } cases[] = {
      {"- {branch: main}\n- {branch: main, labels: {a: b}}\n", "2:3: environments: branch \"main\" is listed twice"},
      {"- {branch: a}\n- {branch: b}\n", "2:3: environments: more than one default"},
      {"- {branch: a}\n- {branch: b, labels: {x: y}}\n", "entries after it never match"},
      {"- {branch: a, labels: {x: y}}\n- {branch: main}\n- {branch: c, labels: {x: z}}\n",
       "entries after it never match"},
      {"- {labels: {x: y}}\n", "an entry without branch"},
      {"- {branch: 'a b'}\n", "branch must be a plain branch name"},
      {"- {branch: '*'}\n", "branch must be a plain branch name"},
      {"- {branch: a, nodes: '*'}\n", "unknown key \"nodes\""},
      {"- {branch: a, labels: [x]}\n", "labels must be a map"},
      {"- {branch: a, labels: {x: [y]}}\n", "each label value must be a single value"},
      {"- staging\n", "each entry must be a map"},
      {"{branch: a}\n", "must be a non-empty list"},
      {"[]\n", "must be a non-empty list"},
  };
  for (const Case& c : cases) {
    auto envs = ParseText(c.yaml);
    ASSERT_FALSE(envs.ok()) << c.yaml;
    EXPECT_NE(envs.status().message().find(c.message), std::string::npos)
        << c.yaml << " -> " << envs.status().message();
    EXPECT_NE(envs.status().message().find("server.yaml:"), std::string::npos);
  }
}

TEST(EnvironmentsTest, TooManyEnvironmentsIsAnError) {
  std::string yaml;
  for (size_t i = 0; i <= kMaxEnvironments; ++i) {
    yaml += "- {branch: b" + std::to_string(i) + ", labels: {n: \"" + std::to_string(i) + "\"}}\n";
  }
  auto envs = ParseText(yaml);
  ASSERT_FALSE(envs.ok());
  EXPECT_NE(envs.status().message().find("at most 32"), std::string::npos);
}

absl::StatusOr<ServerConfig> LoadArgs(std::vector<std::string> args) {
  args.insert(args.begin(), "plumb-server");
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  auto flags = CommandLine::Parse(static_cast<int>(argv.size()), argv.data(), ServerBoolFlags());
  if (!flags.ok()) return flags.status();
  return LoadServerConfig(*flags);
}

TEST(EnvironmentsTest, ServerConfigReadsTheListAndRejectsItAsAFlag) {
  testing::TempDir dir;
  testing::WriteFileOrDie(dir.Sub("server.yaml"), R"(repo: {url: /srv/repo.git}
environments:
  - {branch: staging, labels: {env: staging}}
  - {branch: main}
)");
  auto c = LoadArgs({"--config", dir.Sub("server.yaml")});
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(c->environments.configured());
  EXPECT_EQ(c->environments.all()[1].branch, "main");

  c = LoadArgs({"--repo.url", "/srv/repo.git", "--repo.branch", "prod"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(c->environments.configured());
  EXPECT_EQ(c->environments.all()[0].branch, "prod");

  c = LoadArgs({"--repo.url", "/srv/repo.git", "--environments", "x"});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("config file"), std::string::npos);

  testing::WriteFileOrDie(dir.Sub("bad.yaml"), R"(repo: {url: /srv/repo.git}
environments:
  - {branch: main}
  - {branch: main}
)");
  c = LoadArgs({"--config", dir.Sub("bad.yaml")});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("bad.yaml:4:5: environments: branch \"main\" is listed twice"),
            std::string::npos)
      << c.status();
}

}  // namespace
}  // namespace plumb
