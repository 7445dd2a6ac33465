// docs/configuration.md lists exactly the agent config keys the code knows.

#include "agent/agent_config.h"
#include "gtest/gtest.h"
#include "tests/testing/docs_tables.h"

namespace plumb {
namespace {

TEST(ConfigDocsTest, AgentKeysMatchTheDocs) {
  std::set<std::string> documented = testing::DocumentedConfigKeys("plumb-agent");
  ASSERT_FALSE(documented.empty());
  std::set<std::string> known = AgentConfigKeys();
  known.insert(AgentConfigMapKeys().begin(), AgentConfigMapKeys().end());
  EXPECT_EQ(documented, known);
}

}  // namespace
}  // namespace plumb
