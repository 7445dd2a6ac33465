#include "common/command_line.h"

#include "gtest/gtest.h"

namespace plumb {
namespace {

TEST(CommandLineTest, ShortFlagIsItsLongForm) {
  const char* argv[] = {"plumbctl", "-o", "json", "nodes", "-h"};
  auto cl = CommandLine::Parse(5, argv, {"help"}, {{"-o", "output"}, {"-h", "help"}});
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_EQ(cl->Get("output"), "json");
  EXPECT_TRUE(cl->GetBool("help"));
  ASSERT_EQ(cl->positional().size(), 1u);
  EXPECT_EQ(cl->positional()[0], "nodes");
}

TEST(CommandLineTest, ShortFlagAfterDoubleDashIsPositional) {
  const char* argv[] = {"plumb-agent", "--", "-o"};
  auto cl = CommandLine::Parse(3, argv, {}, {{"-o", "output"}});
  ASSERT_TRUE(cl.ok()) << cl.status();
  EXPECT_FALSE(cl->Has("output"));
  ASSERT_EQ(cl->positional().size(), 1u);
  EXPECT_EQ(cl->positional()[0], "-o");
}

TEST(CommandLineTest, ShortFlagWithoutValueIsAnError) {
  const char* argv[] = {"plumbctl", "nodes", "-o"};
  auto cl = CommandLine::Parse(3, argv, {}, {{"-o", "output"}});
  ASSERT_FALSE(cl.ok());
  EXPECT_NE(cl.status().message().find("--output needs a value"), std::string::npos);
}

}  // namespace
}  // namespace plumb
