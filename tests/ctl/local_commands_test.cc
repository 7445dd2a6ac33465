// plumbctl validate --nodes-from and render, run in-process on a checkout in a temp dir: bad
// node files are located by file:line:col, rendered strings survive quoting, and validate
// prints a rollout policy's waves with the given nodes in them.

#include <sstream>

#include "common/yaml_document.h"
#include "ctl/ctl.h"
#include "gtest/gtest.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using testing::TempDir;
using testing::WriteFileOrDie;

struct CtlRun {
  int code;
  std::string out;
  std::string err;
};

CtlRun Ctl(std::vector<std::string> args) {
  args.insert(args.begin(), "plumbctl");
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  std::ostringstream out, err;
  int code = RunCtl(static_cast<int>(argv.size()), argv.data(), out, err);
  return {code, out.str(), err.str()};
}

class LocalCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteFileOrDie(dir_.Sub("repo/plumb.yaml"),
                   "version: 1\ntargets:\n  - name: web\n    labels: {role: web}\n"
                   "    modules: [web]\n");
    WriteFileOrDie(dir_.Sub("repo/modules/web/module.yaml"),
                   "resources:\n  - file: /etc/motd\n    template: motd.mustache\n");
    WriteFileOrDie(dir_.Sub("repo/modules/web/templates/motd.mustache"),
                   "say \"{{{labels.greeting}}}\"\n\tend\n");
  }
  TempDir dir_;
};

TEST_F(LocalCommandsTest, NodesFromFileCompilesEachNode) {
  WriteFileOrDie(dir_.Sub("nodes.yaml"),
                 "- {name: web-1, labels: {role: web, greeting: hi}}\n"
                 "- name: db-1\n  facts: {os.id: debian}\n");
  CtlRun r = Ctl({"validate", dir_.Sub("repo"), "--nodes-from", dir_.Sub("nodes.yaml")});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("for 2 node(s)"), std::string::npos) << r.out;
  // web-2 lacks the label its template reads: a compile error naming the node.
  WriteFileOrDie(dir_.Sub("nodes.yaml"), "- {name: web-2, labels: {role: web}}\n");
  r = Ctl({"validate", dir_.Sub("repo"), "--nodes-from", dir_.Sub("nodes.yaml")});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("(node web-2)"), std::string::npos) << r.err;
}

TEST_F(LocalCommandsTest, ValidatePrintsTheRolloutPlanWithTheGivenNodesWaves) {
  WriteFileOrDie(dir_.Sub("repo/plumb.yaml"),
                 "version: 1\ntargets:\n  - {name: web, labels: {role: web}, modules: [web]}\n"
                 "rollout:\n  waves:\n    - {name: canary, nodes: [web-canary-1], bake: 2m}\n"
                 "    - {labels: {role: db}}\n  max_failed: \"10%\"\n");
  WriteFileOrDie(dir_.Sub("nodes.yaml"),
                 "- {name: web-canary-1, labels: {role: web, greeting: hi}}\n"
                 "- {name: web-2, labels: {role: web, greeting: hi}}\n"
                 "- {name: db-1, labels: {role: db}}\n");
  CtlRun r = Ctl({"validate", dir_.Sub("repo"), "--nodes-from", dir_.Sub("nodes.yaml")});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("rollout (docs/rollouts.md): 2 wave(s), "
                       "max_failed 10%, on_failure halt\n"
                       "  1. canary: nodes web-canary-1, bake 2m -> 1 node(s): web-canary-1\n"
                       "  2. wave 2: labels role=db -> 1 node(s): db-1\n"
                       "  3. rest: every node no wave takes -> 1 node(s): web-2\n"),
            std::string::npos)
      << r.out;
  // An invalid policy fails validate like any repository error.
  WriteFileOrDie(dir_.Sub("repo/plumb.yaml"),
                 "version: 1\nrollout:\n  waves: [{percent: 0}]\n");
  r = Ctl({"validate", dir_.Sub("repo")});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("plumb.yaml:3:21: percent must be an integer from 1 to 100, got 0"),
            std::string::npos)
      << r.err;
}

TEST_F(LocalCommandsTest, BadNodeFilesNameFileLineAndColumn) {
  struct Case {
    const char* yaml;
    const char* expected;
  };
  for (const Case& c : std::vector<Case>{
           {"name: web-1\n", "nodes.yaml:1:1: expected a list of nodes"},
           {"- {labels: {role: web}}\n", "nodes.yaml:1:3: node has no name"},
           {"- name: a\n  lables: {role: web}\n", "nodes.yaml:2:3: unknown key \"lables\""},
           {"- name: a\n  labels: [web]\n", "nodes.yaml:2:11: labels must be a map"},
           {"- name: a\n  facts: {os: {id: x}}\n", "facts.os must be a single value"},
           {"- name: [a\n", "nodes.yaml:"},
       }) {
    WriteFileOrDie(dir_.Sub("nodes.yaml"), c.yaml);
    CtlRun r = Ctl({"validate", dir_.Sub("repo"), "--nodes-from", dir_.Sub("nodes.yaml")});
    EXPECT_EQ(r.code, 2) << c.yaml;
    EXPECT_NE(r.err.find(c.expected), std::string::npos) << c.yaml << " -> " << r.err;
  }
  CtlRun missing = Ctl({"validate", dir_.Sub("repo"), "--nodes-from", dir_.Sub("none.yaml")});
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.err.find("none.yaml: cannot read"), std::string::npos) << missing.err;
}

TEST_F(LocalCommandsTest, RenderedYamlQuotesStringsSoTheyParseBack) {
  CtlRun r = Ctl({"render", dir_.Sub("repo"), "--node", "web-1", "--label", "role=web",
                  "--label", "greeting=a \"quoted\" \\ back\x01slash"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto doc = ParseYaml(r.out, "render");
  ASSERT_TRUE(doc.ok()) << doc.status() << "\n" << r.out;
  const YamlNode* resources = doc->Find("resources");
  ASSERT_NE(resources, nullptr);
  ASSERT_EQ(resources->items().size(), 1u);
  const YamlNode* content = resources->items()[0].Find("content");
  ASSERT_NE(content, nullptr) << r.out;
  EXPECT_EQ(content->scalar(), "say \"a \"quoted\" \\ back\x01slash\"\n\tend\n");
}

}  // namespace
}  // namespace plumb
