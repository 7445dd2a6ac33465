// The node's labels from enrollment and Hello (MergeHelloLabels): an enrolled node's Hello may
// add only keys its join token allowed and never change a bound label.

#include "server/security/label_policy.h"

#include "gtest/gtest.h"

namespace plumb {
namespace {

using Labels = std::map<std::string, std::string>;

TEST(LabelPolicyTest, AnEnrolledNodeCannotClaimKeysTheTokenDidNotAllow) {
  NodeLabels got = MergeHelloLabels({{"role", "web"}, {"env", "prod"}}, {{"role", "web"}},
                                    std::set<std::string>{});
  EXPECT_EQ(got.labels, (Labels{{"role", "web"}}));
  EXPECT_EQ(got.ignored, std::vector<std::string>{"env=prod"});
}

TEST(LabelPolicyTest, AllowedKeysAreTakenFromHello) {
  NodeLabels got = MergeHelloLabels({{"env", "prod"}, {"team", "x"}}, {{"role", "web"}},
                                    std::set<std::string>{"env"});
  EXPECT_EQ(got.labels, (Labels{{"role", "web"}, {"env", "prod"}}));
  EXPECT_EQ(got.ignored, std::vector<std::string>{"team=x"});
}

TEST(LabelPolicyTest, AStarAllowsAnyKeyButNeverChangesABoundLabel) {
  NodeLabels got = MergeHelloLabels({{"role", "db"}, {"env", "prod"}}, {{"role", "web"}},
                                    std::set<std::string>{kAnyLabelKey});
  EXPECT_EQ(got.labels, (Labels{{"role", "web"}, {"env", "prod"}}));
  EXPECT_EQ(got.ignored, std::vector<std::string>{"role=db"});
}

TEST(LabelPolicyTest, AnAllowedKeyThatIsAlsoBoundKeepsTheBoundValue) {
  NodeLabels got = MergeHelloLabels({{"role", "db"}}, {{"role", "web"}},
                                    std::set<std::string>{"role"});
  EXPECT_EQ(got.labels, (Labels{{"role", "web"}}));
  EXPECT_EQ(got.ignored, std::vector<std::string>{"role=db"});
}

// --insecure or an outside PKI: nothing was bound, the Hello is all the server knows.
TEST(LabelPolicyTest, ANodeNotEnrolledHereHasItsHelloLabels) {
  NodeLabels got = MergeHelloLabels({{"env", "prod"}}, {}, std::nullopt);
  EXPECT_EQ(got.labels, (Labels{{"env", "prod"}}));
  EXPECT_TRUE(got.ignored.empty());
}

TEST(LabelPolicyTest, AllowedKeysAreChecked) {
  EXPECT_TRUE(CheckAllowedLabelKeys({"env", kAnyLabelKey}).ok());
  EXPECT_TRUE(absl::IsInvalidArgument(CheckAllowedLabelKeys({""})));
  EXPECT_TRUE(absl::IsInvalidArgument(CheckAllowedLabelKeys({std::string(200, 'k')})));
  EXPECT_TRUE(absl::IsInvalidArgument(
      CheckAllowedLabelKeys(std::vector<std::string>(kMaxAllowedLabelKeys + 1, "k"))));
}

}  // namespace
}  // namespace plumb
