// docs/configuration.md lists exactly the server config keys the code knows.

#include "gtest/gtest.h"
#include "server/server_config.h"
#include "tests/testing/docs_tables.h"

namespace plumb {
namespace {

TEST(ConfigDocsTest, ServerKeysMatchTheDocs) {
  std::set<std::string> documented = testing::DocumentedConfigKeys("plumb-server");
  ASSERT_FALSE(documented.empty());
  EXPECT_EQ(documented, ServerConfigKeys());
}

}  // namespace
}  // namespace plumb
