// Commit bombs are errors, not crashes: YAML alias expansion is bounded by bytes, template
// output per file and section nesting are bounded, and each over-bound commit is an error
// with file:line:col. Also: which compile errors fail one node (node_dependent) and which
// fail the revision.

#include <string>

#include "absl/strings/str_cat.h"
#include "common/compiler/compiler.h"
#include "common/compiler/directory_tree.h"
#include "common/compiler/mustache.h"
#include "common/yaml_document.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using ::testing::HasSubstr;

// Few nodes, many bytes: a 1 MiB scalar aliased 40 times stays far under the node bound.
TEST(CommitBoundsTest, YamlAliasExpansionIsBoundedByBytes) {
  std::string doc = absl::StrCat("big: &b ", std::string(1 << 20, 'x'), "\nmany: [");
  for (int i = 0; i < 40; ++i) absl::StrAppend(&doc, i == 0 ? "" : ", ", "*b");
  doc += "]\n";
  YamlError error;
  absl::StatusOr<YamlNode> parsed = ParseYaml(doc, "modules/m/module.yaml", &error);
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(error.message, HasSubstr("expands to more than"));
  EXPECT_EQ(error.mark.line, 2);  // at the alias that went over
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("modules/m/module.yaml:2:"));
  // The same aliases of a small scalar are fine.
  std::string fine = "small: &s abc\nmany: [*s, *s, *s, *s]\n";
  EXPECT_TRUE(ParseYaml(fine, "f").ok());
}

// The classic billion laughs: nested lists of aliases, each level ten times the last.
TEST(CommitBoundsTest, BillionLaughsFailsWithLocation) {
  std::string doc = "a0: &a0 \"lol lol lol lol lol lol lol lol lol lol lol lol lol lol\"\n";
  for (int i = 1; i <= 9; ++i) {
    absl::StrAppend(&doc, "a", i, ": &a", i, " [");
    for (int k = 0; k < 10; ++k) absl::StrAppend(&doc, k == 0 ? "" : ",", "*a", i - 1);
    doc += "]\n";
  }
  YamlError error;
  absl::StatusOr<YamlNode> parsed = ParseYaml(doc, "plumb.yaml", &error);
  ASSERT_FALSE(parsed.ok());
  EXPECT_GT(error.mark.line, 1);
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("plumb.yaml:"));
}

TEST(CommitBoundsTest, TemplateOutputIsBoundedPerFile) {
  MustacheValue context;
  std::vector<MustacheValue> items(2048, MustacheValue::String("x"));
  *context.MutableChild("vars")->MutableChild("many") = MustacheValue::List(items);
  // 2048^3 iterations of 8 bytes would be 64 GiB; the bound stops it at 16 MiB.
  std::string text =
      "head\n{{#vars.many}}{{#vars.many}}{{#vars.many}}12345678{{/vars.many}}{{/vars.many}}"
      "{{/vars.many}}\n";
  MustacheError error;
  auto tmpl = MustacheTemplate::Parse(text, &error);
  ASSERT_NE(tmpl, nullptr) << error.message;
  std::string out;
  EXPECT_FALSE(tmpl->Render(context, &out, &error));
  EXPECT_TRUE(error.over_limit);
  EXPECT_THAT(error.message, HasSubstr("rendered output exceeds"));
  EXPECT_EQ(error.line, 2);
  EXPECT_GT(error.column, 1);
  EXPECT_LE(out.size(), kMaxMustacheOutputBytes + 64);
}

TEST(CommitBoundsTest, SectionNestingIsBounded) {
  std::string deep, shallow;
  for (int i = 0; i < kMaxMustacheSectionDepth + 1; ++i) deep += "{{#a}}";
  for (int i = 0; i < kMaxMustacheSectionDepth + 1; ++i) deep += "{{/a}}";
  for (int i = 0; i < kMaxMustacheSectionDepth; ++i) shallow += "{{#a}}";
  for (int i = 0; i < kMaxMustacheSectionDepth; ++i) shallow += "{{/a}}";
  MustacheError error;
  EXPECT_EQ(MustacheTemplate::Parse(deep, &error), nullptr);
  EXPECT_THAT(error.message, HasSubstr("nest deeper than"));
  EXPECT_EQ(error.line, 1);
  EXPECT_EQ(error.column, 6 * kMaxMustacheSectionDepth + 1);
  EXPECT_NE(MustacheTemplate::Parse(shallow, &error), nullptr) << error.message;
  // A hundred thousand levels: an error, not a stack overflow.
  std::string bomb;
  for (int i = 0; i < 100000; ++i) bomb += "{{#a}}";
  EXPECT_EQ(MustacheTemplate::Parse(bomb, &error), nullptr);
}

// A repository on disk with one module `base` holding `files`.
std::shared_ptr<const DesiredState> Repo(const testing::TempDir& dir, const std::string& plumb,
                                         const std::map<std::string, std::string>& files) {
  testing::WriteFileOrDie(dir.Sub("plumb.yaml"), plumb);
  for (const auto& [path, content] : files) testing::WriteFileOrDie(dir.Sub(path), content);
  DirectoryTree tree(dir.path());
  return DesiredState::Parse(tree, "rev");
}

const char kOneTarget[] = "version: 1\ntargets:\n  - {name: all, nodes: '*', modules: [base]}\n";

TEST(CompileScopeTest, MissingLabelOrFactFailsTheNodeOnly) {
  testing::TempDir dir;
  auto state = Repo(dir, kOneTarget,
                    {{"modules/base/module.yaml",
                      "resources:\n  - file: /etc/a\n    template: a.mustache\n"},
                     {"modules/base/templates/a.mustache", "{{labels.dc}} {{facts.os.id}}\n"}});
  ASSERT_TRUE(state->ok());
  NodeCompileResult good = state->CompileNode({"a", {{"dc", "x"}}, {{"os.id", "debian"}}});
  EXPECT_TRUE(good.ok());
  NodeCompileResult bad = state->CompileNode({"b", {}, {{"os.id", "debian"}}});
  ASSERT_EQ(bad.errors.size(), 1u);
  EXPECT_TRUE(bad.errors[0].node_dependent);
  EXPECT_THAT(bad.errors[0].message, HasSubstr("labels.dc"));
  EXPECT_EQ(bad.errors[0].location, "modules/base/templates/a.mustache:1:1");
}

TEST(CompileScopeTest, UndefinedVarAndOutputBoundFailTheRevision) {
  testing::TempDir dir;
  auto state = Repo(dir, kOneTarget,
                    {{"modules/base/module.yaml",
                      "resources:\n  - file: /etc/a\n    template: a.mustache\n"},
                     {"modules/base/templates/a.mustache", "{{vars.nope}}\n"}});
  NodeCompileResult result = state->CompileNode({"a", {}, {}});
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_FALSE(result.errors[0].node_dependent);
}

TEST(CompileScopeTest, DuplicateIdAcrossModulesIsNodeDependentWithinOneModuleIsNot) {
  testing::TempDir dir;
  auto state = Repo(
      dir,
      "version: 1\ntargets:\n  - {name: all, nodes: '*', modules: [base]}\n"
      "  - {name: web, labels: {role: web}, modules: [web]}\n",
      {{"modules/base/module.yaml", "resources:\n  - package: vim\n"},
       {"modules/web/module.yaml", "resources:\n  - package: vim\n"}});
  ASSERT_TRUE(state->ok());
  EXPECT_TRUE(state->CompileNode({"a", {}, {}}).ok());
  NodeCompileResult web = state->CompileNode({"w", {{"role", "web"}}, {}});
  ASSERT_EQ(web.errors.size(), 1u);
  EXPECT_TRUE(web.errors[0].node_dependent);
  EXPECT_THAT(web.errors[0].message, HasSubstr("duplicate id package:vim"));
  // Unknown references and cycles are the repository's.
  testing::TempDir dir2;
  auto cyc = Repo(dir2, kOneTarget,
                  {{"modules/base/module.yaml",
                    "resources:\n  - package: a\n    require: [package:b]\n"
                    "  - package: b\n    require: [package:a]\n"}});
  NodeCompileResult r = cyc->CompileNode({"a", {}, {}});
  ASSERT_FALSE(r.errors.empty());
  for (const CompileError& e : r.errors) EXPECT_FALSE(e.node_dependent) << e.ToString();
}

}  // namespace
}  // namespace plumb
