#include "common/diff.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace plumb {
namespace {

using ::testing::HasSubstr;

TEST(UnifiedDiffTest, EqualIsEmpty) { EXPECT_EQ(UnifiedDiff("a\n", "a\n", "x", "x"), ""); }

TEST(UnifiedDiffTest, OneLineChangedWithContext) {
  std::string diff = UnifiedDiff("1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\n3\n4\nFIVE\n6\n7\n8\n9\n",
                                 "/etc/a", "/etc/a");
  EXPECT_EQ(diff,
            "--- /etc/a\n+++ /etc/a\n"
            "@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+FIVE\n 6\n 7\n 8\n");
}

TEST(UnifiedDiffTest, CreationFromEmpty) {
  EXPECT_EQ(UnifiedDiff("", "a\nb\n", "/dev/null", "/f"),
            "--- /dev/null\n+++ /f\n@@ -0,0 +1,2 @@\n+a\n+b\n");
}

TEST(UnifiedDiffTest, MissingFinalNewlineIsMarked) {
  EXPECT_EQ(UnifiedDiff("a\n", "a", "f", "f"),
            "--- f\n+++ f\n@@ -1 +1 @@\n-a\n+a\n\\ No newline at end of file\n");
}

TEST(UnifiedDiffTest, DistantChangesMakeTwoHunks) {
  std::string before, after;
  for (int i = 0; i < 30; ++i) {
    absl::StrAppend(&before, i, "\n");
    absl::StrAppend(&after, i == 2 ? "two" : i == 25 ? "twentyfive" : absl::StrCat(i), "\n");
  }
  std::string diff = UnifiedDiff(before, after, "f", "f");
  EXPECT_THAT(diff, HasSubstr("@@ -1,6 +1,6 @@\n 0\n 1\n-2\n+two\n 3\n 4\n 5\n"));
  EXPECT_THAT(diff, HasSubstr("@@ -23,7 +23,7 @@\n 22\n 23\n 24\n-25\n+twentyfive\n 26\n"));
}

TEST(UnifiedDiffTest, InsertionsAndDeletions) {
  std::string diff = UnifiedDiff("a\nb\nc\nd\n", "a\nc\nd\ne\n", "f", "f");
  EXPECT_EQ(diff, "--- f\n+++ f\n@@ -1,4 +1,4 @@\n a\n-b\n c\n d\n+e\n");
}

TEST(UnifiedDiffTest, BinaryAndBounded) {
  EXPECT_EQ(UnifiedDiff(std::string("a\0b", 3), "ab", "f", "f"), "Binary files f and f differ\n");
  std::string big;
  for (int i = 0; i < 100000; ++i) absl::StrAppend(&big, "line ", i, "\n");
  std::string diff = UnifiedDiff("", big, "/dev/null", "f", 4096);
  EXPECT_LT(diff.size(), 4200u);
  EXPECT_THAT(diff, HasSubstr("diff truncated"));
}

TEST(UnifiedDiffTest, ManyEditsStillGiveACorrectDiff) {
  std::string before, after;
  for (int i = 0; i < 6000; ++i) {
    absl::StrAppend(&before, "old", i, "\n");
    absl::StrAppend(&after, "new", i, "\n");
  }
  std::string diff = UnifiedDiff(before, after, "f", "f", 10 * 1024 * 1024);
  EXPECT_THAT(diff, HasSubstr("@@ -1,6000 +1,6000 @@\n-old0\n"));
  EXPECT_THAT(diff, HasSubstr("+new5999\n"));
}

}  // namespace
}  // namespace plumb
