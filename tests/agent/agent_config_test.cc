#include "agent/agent_config.h"

#include "gtest/gtest.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

absl::StatusOr<AgentConfig> Load(std::vector<const char*> argv) {
  argv.insert(argv.begin(), "plumb-agent");
  auto flags = CommandLine::Parse(static_cast<int>(argv.size()), argv.data(), AgentBoolFlags());
  if (!flags.ok()) return flags.status();
  return LoadAgentConfig(*flags);
}

TEST(AgentConfigTest, ExampleConfigLoads) {
  std::string path = std::string(PLUMB_SOURCE_DIR) + "/deploy/config/agent.yaml";
  auto c = Load({"--config", path.c_str()});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->server, "plumb.example.org:7443");
  // No labels: the package's config must not add any to those the join token binds.
  EXPECT_TRUE(c->labels.empty());
  EXPECT_EQ(c->interval, absl::Minutes(5));
  // tls: is left to enrollment in the example (state_dir/tls; see the next test).
  EXPECT_TRUE(c->tls.empty() || c->tls.key == "/var/lib/plumb/tls/agent.key");
}

TEST(AgentConfigTest, TlsDefaultsToEnrolledFilesOnceTheyExist) {
  testing::TempDir dir;
  std::string state = dir.Sub("state");
  auto before = Load({"--state_dir", state.c_str()});
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_TRUE(before->tls.empty());
  testing::WriteFileOrDie(state + "/tls/agent.pem", "cert");
  auto after = Load({"--state_dir", state.c_str()});
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->tls.cert, state + "/tls/agent.pem");
  EXPECT_EQ(after->tls.key, state + "/tls/agent.key");
  EXPECT_EQ(after->tls.ca, state + "/tls/ca.pem");
  // Explicit files and --insecure win.
  auto own = Load({"--state_dir", state.c_str(), "--tls.cert", "/x.pem", "--tls.key", "/x.key"});
  EXPECT_EQ(own->tls.cert, "/x.pem");
  auto insecure = Load({"--state_dir", state.c_str(), "--insecure"});
  EXPECT_TRUE(insecure->tls.empty());
}

TEST(AgentConfigTest, FlagsOverrideAndSingularLabelFlag) {
  testing::TempDir dir;
  testing::WriteFileOrDie(dir.Sub("a.yaml"), "server: s:1\nlabels: {role: db}\nnode: n1\n");
  std::string path = dir.Sub("a.yaml");
  auto c = Load({"--config", path.c_str(), "--label", "role=web", "--node", "n2", "--once"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->labels.at("role"), "web");
  EXPECT_EQ(c->node, "n2");
  EXPECT_TRUE(c->once);
}

TEST(AgentConfigTest, BadInputIsNamed) {
  EXPECT_NE(Load({"--root", "relative"}).status().message().find("root"), std::string::npos);
  EXPECT_NE(Load({"--interval", "often"}).status().message().find("interval"), std::string::npos);
  EXPECT_NE(Load({"--bogus", "1"}).status().message().find("--bogus"), std::string::npos);
  EXPECT_NE(Load({"--label", "novalue"}).status().message().find("--label"), std::string::npos);
}

TEST(AgentConfigTest, ServerTakesAListAndRefusesNone) {
  auto c = Load({"--server", "a:7443,b:7443"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(ServerList(c->server), (std::vector<std::string>{"a:7443", "b:7443"}));
  EXPECT_FALSE(Load({"--server", ","}).ok());
  testing::TempDir dir;
  std::string path = dir.Sub("agent.yaml");
  testing::WriteFileOrDie(path, "server: [a:7443, b:7443]\n");
  auto listed = Load({"--config", path.c_str()});
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->server, "a:7443,b:7443");
}

}  // namespace
}  // namespace plumb
