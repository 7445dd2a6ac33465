// Facts and labels with dotted keys deeper than templates may nest: the compile reports an
// error for that node, never recurses (a million-part key used to segfault the server when
// the nested template context was freed), and never groups it with nodes that compile.

#include <string>

#include "absl/strings/match.h"
#include "common/compiler/compiler.h"
#include "common/compiler/directory_tree.h"
#include "common/compiler/mustache.h"
#include "gtest/gtest.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

std::string DottedKey(int parts) {
  std::string key = "a";
  key.reserve(2 * parts);
  for (int i = 1; i < parts; ++i) key += ".a";
  return key;
}

class DeepKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::WriteFileOrDie(dir_.path() + "/plumb.yaml",
                       "version: 1\ntargets:\n  - {name: all, nodes: \"*\", modules: [base]}\n");
    testing::WriteFileOrDie(dir_.path() + "/modules/base/module.yaml",
                       "resources:\n  - file: /etc/os\n    template: os.mustache\n");
    testing::WriteFileOrDie(dir_.path() + "/modules/base/templates/os.mustache", "{{facts.os.id}}\n");
    DirectoryTree tree(dir_.path());
    state_ = DesiredState::Parse(tree, "rev1");
    ASSERT_TRUE(state_->ok()) << state_->errors()[0].ToString();
  }

  testing::TempDir dir_;
  std::shared_ptr<const DesiredState> state_;
};

TEST_F(DeepKeysTest, AHundredThousandDeepFactKeyIsAnErrorNotACrash) {
  NodeInputs node{"n1", {}, {{"os.id", "debian"}, {DottedKey(100000), "x"}}};
  NodeCompileResult result = state_->CompileNode(node);
  ASSERT_FALSE(result.ok());
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_TRUE(absl::StartsWith(result.errors[0].message,
                               "facts key \"a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.…\" has depth"))
      << result.errors[0].message;
  EXPECT_TRUE(absl::EndsWith(result.errors[0].message, "has depth 100000, limit 16"))
      << result.errors[0].message;
}

TEST_F(DeepKeysTest, DeepLabelKeysToo) {
  NodeInputs node{"n1", {{DottedKey(MustacheValue::kMaxPathDepth + 1), "x"}}, {{"os.id", "d"}}};
  NodeCompileResult result = state_->CompileNode(node);
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_TRUE(absl::StartsWith(result.errors[0].message, "labels key ")) << result.errors[0].message;
}

TEST_F(DeepKeysTest, KeysAtTheLimitCompileAndTheGroupKeySetsTooDeepNodesApart) {
  NodeInputs ok{"n1", {}, {{"os.id", "debian"}, {DottedKey(MustacheValue::kMaxPathDepth), "x"}}};
  NodeCompileResult result = state_->CompileNode(ok);
  ASSERT_TRUE(result.ok()) << result.errors[0].ToString();
  NodeInputs plain{"n2", {}, {{"os.id", "debian"}}};
  NodeInputs deep{"n3", {}, {{"os.id", "debian"}, {DottedKey(100), "x"}}};
  // The template reads only facts.os: without the depth marker n3 would share n2's group
  // (and its good catalog, or give it its error).
  EXPECT_NE(state_->GroupKey(plain), state_->GroupKey(deep));
}

TEST(MustacheValueTest, SetPathRefusesPathsOverTheDepthLimit) {
  MustacheValue v;
  EXPECT_TRUE(v.SetPath(DottedKey(MustacheValue::kMaxPathDepth), "x"));
  EXPECT_FALSE(v.SetPath(DottedKey(1000000), "x"));
  EXPECT_EQ(v.children().size(), 1u);
}

}  // namespace
}  // namespace plumb
