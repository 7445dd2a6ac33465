#include "common/utf8.h"

#include "gtest/gtest.h"

namespace plumb {
namespace {

TEST(Utf8Test, WellFormedSequencesHaveTheirLength) {
  EXPECT_EQ(Utf8SequenceAt("a", 0), 1u);
  EXPECT_EQ(Utf8SequenceAt("\xc3\xa9", 0), 2u);          // é
  EXPECT_EQ(Utf8SequenceAt("\xe2\x82\xac", 0), 3u);      // €
  EXPECT_EQ(Utf8SequenceAt("\xf0\x9f\x98\x80", 0), 4u);  // 😀
  EXPECT_EQ(FirstInvalidUtf8("plain \xc3\xa9t\xc3\xa9"), absl::string_view::npos);
}

TEST(Utf8Test, MalformedBytesAreFoundWhereTheyStart) {
  EXPECT_EQ(Utf8SequenceAt("\xc0\xaf", 0), 0u);      // overlong '/'
  EXPECT_EQ(Utf8SequenceAt("\xed\xa0\x80", 0), 0u);  // a surrogate
  EXPECT_EQ(Utf8SequenceAt("\xf4\x90\x80\x80", 0), 0u);  // above U+10FFFF
  EXPECT_EQ(Utf8SequenceAt("\xe2\x82", 0), 0u);      // cut short
  EXPECT_EQ(FirstInvalidUtf8("ok \xe9t\xe9"), 3u);   // latin-1
}

}  // namespace
}  // namespace plumb
