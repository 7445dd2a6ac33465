// The agent's server list: parsed from `server` (comma-separated), and each reconnect after the
// first goes to the next server, so an agent whose replica died reaches another.

#include "agent/channel_factory.h"

#include "agent/agent_config.h"
#include "gtest/gtest.h"

namespace plumb {
namespace {

TEST(ServerListTest, SplitsOnCommasAndIgnoresBlanks) {
  EXPECT_EQ(ServerList("a:7443"), std::vector<std::string>{"a:7443"});
  EXPECT_EQ(ServerList(" a:7443, b:7443 ,,"), (std::vector<std::string>{"a:7443", "b:7443"}));
  EXPECT_TRUE(ServerList(" , ").empty());
}

TEST(ChannelFactoryTest, EachNewChannelAfterTheFirstGoesToTheNextServer) {
  AgentConfig config;
  config.insecure = true;
  config.server = "127.0.0.1:1,127.0.0.1:2";
  auto factory = NewServerChannelFactory(config);
  std::vector<std::string> targets;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(factory->NewChannel().ok());
    targets.push_back(factory->target());
  }
  EXPECT_EQ(targets, (std::vector<std::string>{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:1"}));
}

TEST(ChannelFactoryTest, OneServerIsAlwaysThatServer) {
  AgentConfig config;
  config.insecure = true;
  config.server = "127.0.0.1:1";
  auto factory = NewServerChannelFactory(config);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(factory->NewChannel().ok());
    EXPECT_EQ(factory->target(), "127.0.0.1:1");
  }
}

}  // namespace
}  // namespace plumb
