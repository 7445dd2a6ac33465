// A repository of realistic size compiles: 50 modules, 1,000 nodes. Functional only; the
// compile time is measured by bench/, not asserted here.

#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/compiler/compiler.h"
#include "common/compiler/directory_tree.h"
#include "gtest/gtest.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

TEST(DesiredStateScaleTest, FiftyModulesThousandNodes) {
  testing::TempDir dir;
  std::string plumb =
      "version: 1\nvars: {domain: example.org}\ntargets:\n"
      "  - {name: all, nodes: '*', modules: [m0, m1, m2, m3, m4]}\n";
  for (int role = 0; role < 9; ++role) {
    absl::StrAppend(&plumb, "  - name: role", role, "\n    labels: {role: r", role, "}\n",
                    "    modules: [");
    for (int i = 0; i < 5; ++i) absl::StrAppend(&plumb, i ? ", " : "", "m", 5 + role * 5 + i);
    absl::StrAppend(&plumb, "]\n    vars: {tier: ", role, "}\n");
  }
  testing::WriteFileOrDie(dir.Sub("plumb.yaml"), plumb);
  for (int m = 0; m < 50; ++m) {
    std::string yaml = absl::StrCat("vars: {tier: none, port: ", 8000 + m, "}\nresources:\n");
    for (int r = 0; r < 10; ++r) {
      absl::StrAppend(
          &yaml, "  - file: /etc/m", m, "/f", r, ".conf\n    template: f.mustache\n",
          "    mode: \"0644\"\n",
          r ? absl::StrCat("    require: [file:/etc/m", m, "/f", r - 1, ".conf]\n") : "");
    }
    absl::StrAppend(&yaml, "  - package: pkg", m, "\n");
    testing::WriteFileOrDie(dir.Sub(absl::StrCat("modules/m", m, "/module.yaml")), yaml);
    testing::WriteFileOrDie(dir.Sub(absl::StrCat("modules/m", m, "/templates/f.mustache")),
                            "host {{node.name}}.{{vars.domain}} tier {{vars.tier}} "
                            "port {{vars.port}} os {{facts.os.id}}\n");
  }
  DirectoryTree tree(dir.path());
  auto state = DesiredState::Parse(tree, "rev");
  ASSERT_TRUE(state->ok()) << state->errors().front().ToString();
  std::set<std::string> keys;
  std::set<std::string> digests;
  for (int n = 0; n < 1000; ++n) {
    NodeInputs node{absl::StrCat("node-", n),
                    {{"role", absl::StrCat("r", n % 10)}},
                    {{"os.id", n % 2 ? "debian" : "ubuntu"}}};
    NodeCompileResult result = state->CompileNode(node);
    ASSERT_TRUE(result.ok()) << result.errors.front().ToString();
    // 5 base modules, plus 5 role modules for roles r0..r8 (r9 matches no role target).
    ASSERT_EQ(result.catalog->resources_size(), n % 10 == 9 ? 55 : 110) << node.name;
    keys.insert(state->GroupKey(node));
    digests.insert(result.catalog->digest());
  }
  // Templates read node.name, so every node is its own group and has its own catalog.
  EXPECT_EQ(keys.size(), 1000u);
  EXPECT_EQ(digests.size(), 1000u);
}

}  // namespace
}  // namespace plumb
