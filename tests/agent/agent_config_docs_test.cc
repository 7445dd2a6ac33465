// docs/configuration.md lists exactly the agent config keys the code knows.

#include <fstream>
#include <regex>
#include <set>

#include "agent/agent_config.h"
#include "gtest/gtest.h"

namespace plumb {
namespace {

std::set<std::string> DocumentedKeys(const std::string& heading) {
  std::ifstream in(std::string(PLUMB_SOURCE_DIR) + "/docs/configuration.md");
  std::string line;
  bool in_section = false;
  std::set<std::string> keys;
  std::regex row("^\\| `([a-z_.]+)` \\|");
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0) in_section = line.rfind("## " + heading, 0) == 0;
    std::smatch m;
    if (in_section && std::regex_search(line, m, row)) keys.insert(m[1]);
  }
  return keys;
}

TEST(ConfigDocsTest, AgentKeysMatchTheDocs) {
  std::set<std::string> documented = DocumentedKeys("plumb-agent");
  ASSERT_FALSE(documented.empty());
  std::set<std::string> known = AgentConfigKeys();
  known.insert(AgentConfigMapKeys().begin(), AgentConfigMapKeys().end());
  EXPECT_EQ(documented, known);
}

}  // namespace
}  // namespace plumb
