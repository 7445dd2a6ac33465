#include "agent/host/temp_names.h"

#include <set>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace plumb {
namespace {

TEST(TempNamesTest, NamesAreHiddenNextToTheFileAndDistinct) {
  TempNames names;
  std::set<std::string> seen;
  for (int i = 0; i < 100000; ++i) {
    std::string name = names.Next("motd");
    ASSERT_TRUE(absl::StartsWith(name, ".motd.plumb-")) << name;
    ASSERT_EQ(name.size(), std::string(".motd.plumb-").size() + 16) << name;
    ASSERT_TRUE(seen.insert(name).second) << "repeated " << name;
  }
}

TEST(TempNamesTest, TwoObjectsStartFromDifferentSeeds) {
  TempNames a, b;
  EXPECT_NE(a.Next("x"), b.Next("x"));
}

TEST(TempNamesTest, LongNamesAreCut) {
  TempNames names;
  EXPECT_LE(names.Next(std::string(300, 'n')).size(), 1 + 200 + 7 + 16u);
}

}  // namespace
}  // namespace plumb
