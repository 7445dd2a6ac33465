// A table of bad repositories: each must be caught with its exact file:line:col and a stable
// message fragment, repository-level (DesiredState::errors) or node-level (CompileNode).

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/compiler/compiler.h"
#include "common/compiler/directory_tree.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

constexpr char kPlumbYaml[] = R"(version: 1
targets:
  - name: all
    nodes: "*"
    modules: [base]
)";
constexpr char kModule[] = "modules/base/module.yaml";
constexpr char kTemplate[] = "modules/base/templates/t.mustache";
constexpr char kAbsent[] = "<absent>";  // as a file's content: no such file

struct BadRepo {
  std::string name;
  // Files on top of the base repository (kPlumbYaml and a module with `package: vim`);
  // kAbsent removes a file.
  std::map<std::string, std::string> files;
  std::string location;  // exact
  std::string fragment;  // in the message
  bool node_level = false;
};

std::string Resources(const std::string& body) { return "resources:\n" + body; }

std::vector<BadRepo> Cases() {
  const char* two_modules =
      "version: 1\ntargets:\n  - {name: all, nodes: '*', modules: [base, other]}\n";
  return {
      {"BadYamlInPlumbYaml",
       {{"plumb.yaml", "version: 1\ntargets:\n  - name: all\n\tnodes: x\n"}},
       "plumb.yaml:4:1",
       "bad YAML: while scanning a plain scalar: found a tab character that violates indentation"},
      {"MissingPlumbYaml", {{"plumb.yaml", kAbsent}}, "plumb.yaml", "not found"},
      {"UnknownTopLevelKey",
       {{"plumb.yaml", "version: 1\ntarget: []\n"}},
       "plumb.yaml:2:1",
       "unknown top-level key 'target'"},
      {"UnsupportedVersion",
       {{"plumb.yaml", "version: 2\n"}},
       "plumb.yaml:1:10",
       "unsupported version 2"},
      {"PruneNotABool",
       {{"plumb.yaml", "version: 1\nprune: sometimes\n"}},
       "plumb.yaml:2:8",
       "prune must be true or false"},
      {"MissingVersion",
       {{"plumb.yaml", "targets: []\n"}},
       "plumb.yaml:1:1",
       "missing 'version: 1'"},
      {"UnknownModule",
       {{"plumb.yaml",
         "version: 1\ntargets:\n  - name: all\n    nodes: \"*\"\n"
         "    modules: [base, nginx]\n"}},
       "plumb.yaml:5:21",
       "names unknown module \"nginx\""},
      {"BadGlob",
       {{"plumb.yaml",
         "version: 1\ntargets:\n  - name: all\n    nodes: [\"db-*\", \"web[\"]\n"
         "    modules: [base]\n"}},
       "plumb.yaml:4:21",
       "bad glob \"web[\""},
      {"TargetWithoutSelector",
       {{"plumb.yaml", "version: 1\ntargets:\n  - name: all\n    modules: [base]\n"}},
       "plumb.yaml:3:5",
       "selects no nodes"},
      {"UnknownTargetKey",
       {{"plumb.yaml", "version: 1\ntargets:\n  - name: all\n    node: x\n    modules: [base]\n"}},
       "plumb.yaml:4:5",
       "unknown target key 'node'"},
      {"BadYamlInModule",
       {{kModule, "resources:\n  - file: /a\n   content: x\n"}},
       "modules/base/module.yaml:3:4",
       "bad YAML: while parsing a block collection: did not find expected '-' indicator"},
      {"DuplicateYamlKey",
       {{kModule,
         Resources("  - file: /a\n    content: x\n    mode: \"0644\"\n    mode: \"0600\"\n")}},
       "modules/base/module.yaml:5:5",
       "duplicate key 'mode'"},
      {"UnknownModuleKey",
       {{kModule, "resource:\n  - package: vim\n"}},
       "modules/base/module.yaml:1:1",
       "unknown module key 'resource'"},
      {"ResourceNotAMap",
       {{kModule, Resources("  - package\n")}},
       "modules/base/module.yaml:2:5",
       "a resource must be a map"},
      {"UnknownType",
       {{kModule, Resources("  - fille: /etc/a\n    content: x\n")}},
       "modules/base/module.yaml:2:5",
       "unknown resource type 'fille'"},
      {"TypeNotFirst",
       {{kModule, Resources("  - mode: \"0644\"\n    file: /etc/a\n")}},
       "modules/base/module.yaml:2:5",
       "a resource must start with its type: move 'file: ...'"},
      {"RootAsFileName",
       {{kModule, Resources("  - file: /etc/..\n    content: x\n")}},
       "modules/base/module.yaml:2:11",
       "\"/etc/..\" must name something below /"},
      {"WhitespaceInPackageName",
       {{kModule, Resources("  - package: nginx extras\n")}},
       "modules/base/module.yaml:2:14",
       "package name \"nginx extras\" must not contain whitespace"},
      {"NulInPath",
       {{kModule, Resources("  - file: \"/etc/a\\0b\"\n    content: x\n")}},
       "modules/base/module.yaml:2:11",
       "contains a control character"},
      {"UnknownAttribute",
       {{kModule, Resources("  - file: /etc/a\n    content: x\n    moed: \"0644\"\n")}},
       "modules/base/module.yaml:4:5",
       "unknown attribute 'moed' for file"},
      {"ModeAsNumber",
       {{kModule, Resources("  - file: /etc/a\n    content: x\n    mode: 644\n")}},
       "modules/base/module.yaml:4:11",
       "mode must be a quoted octal string like \"0644\", got 644"},
      {"InvalidModeString",
       {{kModule, Resources("  - directory: /srv\n    mode: \"0999\"\n")}},
       "modules/base/module.yaml:3:11",
       "mode \"0999\" is not an octal mode"},
      {"WrongValueType",
       {{kModule, Resources("  - file: /etc/a\n    content: x\n    owner: [root, adm]\n")}},
       "modules/base/module.yaml:4:12",
       "owner must be a string, got a list"},
      {"EmptyOwner",
       {{kModule, Resources("  - directory: /srv\n    owner: \"\"\n")}},
       "modules/base/module.yaml:3:12",
       "owner must not be empty"},
      {"QuotedBool",
       {{kModule, Resources("  - service: ssh\n    enabled: \"yes\"\n")}},
       "modules/base/module.yaml:3:14",
       "enabled must be true or false"},
      {"NotAnInteger",
       {{kModule, Resources("  - user: app\n    uid: abc\n")}},
       "modules/base/module.yaml:3:10",
       "uid must be a non-negative integer, got abc"},
      {"BadTimeout",
       {{kModule, Resources("  - exec: x\n    command: /bin/true\n    timeout: soon\n")}},
       "modules/base/module.yaml:4:14",
       "timeout must be seconds or a duration like \"30s\""},
      {"EnvNotAMap",
       {{kModule, Resources("  - exec: x\n    command: /bin/true\n    env: [A]\n")}},
       "modules/base/module.yaml:4:10",
       "env must be a map"},
      {"BadEnsure",
       {{kModule, Resources("  - service: ssh\n    ensure: present\n")}},
       "modules/base/module.yaml:3:13",
       "ensure for service must be one of running, stopped"},
      {"SymlinkWithoutTarget",
       {{kModule, Resources("  - symlink: /etc/l\n")}},
       "modules/base/module.yaml:2:5",
       "symlink:/etc/l needs attribute 'target'"},
      {"ExecWithoutCommand",
       {{kModule, Resources("  - exec: migrate\n    cwd: /srv\n")}},
       "modules/base/module.yaml:2:5",
       "exec:migrate needs attribute 'command'"},
      {"FileWithoutContent",
       {{kModule, Resources("  - file: /etc/a\n    mode: \"0644\"\n")}},
       "modules/base/module.yaml:2:5",
       "needs one of content, source or template"},
      {"ContentAndTemplate",
       {{kModule, Resources("  - file: /etc/a\n    content: x\n    template: t.mustache\n")},
        {kTemplate, "x"}},
       "modules/base/module.yaml:4:5",
       "content, source and template exclude each other"},
      {"ContentWithEnsureAbsent",
       {{kModule, Resources("  - file: /etc/a\n    ensure: absent\n    content: x\n")}},
       "modules/base/module.yaml:4:5",
       "is ensure: absent, so 'content' must not be set"},
      {"MissingSourceFile",
       {{kModule, Resources("  - file: /etc/a\n    source: nope.txt\n")}},
       "modules/base/module.yaml:3:13",
       "source \"nope.txt\" not found"},
      {"SourceEscapesModule",
       {{kModule, Resources("  - file: /etc/a\n    source: ../../../plumb.yaml\n")}},
       "modules/base/module.yaml:3:13",
       "climbs out of the module's folder"},
      {"MissingTemplate",
       {{kModule, Resources("  - file: /etc/a\n    template: t.mustache\n")}},
       "modules/base/module.yaml:3:15",
       "template \"t.mustache\" not found"},
      {"TemplateSyntaxError",
       {{kModule, Resources("  - file: /etc/a\n    template: t.mustache\n")},
        {kTemplate, "a\n{{#vars.x}}\n"}},
       "modules/base/templates/t.mustache:2:1",
       "section {{#vars.x}} is never closed"},
      {"PathClimbsAboveRoot",
       {{kModule, Resources("  - file: /../etc/a\n    content: x\n")}},
       "modules/base/module.yaml:2:11",
       "\"/../etc/a\" climbs above /"},
      {"RelativePath",
       {{kModule, Resources("  - directory: etc/a\n")}},
       "modules/base/module.yaml:2:16",
       "\"etc/a\" must be an absolute path"},
      {"MalformedReference",
       {{kModule, Resources("  - package: vim\n  - service: x\n    require: vim\n")}},
       "modules/base/module.yaml:4:14",
       "require \"vim\" is not a resource id"},
      {"ReferenceToUnknownType",
       {{kModule, Resources("  - service: x\n    notify: [servce:x]\n")}},
       "modules/base/module.yaml:3:14",
       "unknown resource type 'servce'"},
      {"DuplicateIdInModule",
       {{kModule,
         Resources("  - file: /etc/a\n    content: x\n  - file: //etc/./a\n    content: y\n")}},
       "modules/base/module.yaml:4:5",
       "duplicate id file:/etc/a"},
      {"IllegalMapValue",
       {{"plumb.yaml", "version: 1\n  bad: 2\n"}},
       "plumb.yaml:2:6",
       "bad YAML: mapping values are not allowed in this context"},
      {"SyntaxErrorInUnusedModule",
       {{"modules/unused/module.yaml", "resources: [\n"}},
       "modules/unused/module.yaml:2:1",
       "bad YAML"},
      {"ModuleFolderWithoutModuleYaml",
       {{"modules/empty/files/x", "x"}},
       "modules/empty/module.yaml",
       "not found"},
      // Node-level: they depend on what a node's targets bring together.
      {"MissingTemplateVariable",
       {{kModule, Resources("  - file: /etc/a\n    template: t.mustache\n")},
        {kTemplate, "line one\nline two\nport {{vars.nope}}\n"}},
       "modules/base/templates/t.mustache:3:6",
       "undefined variable 'vars.nope'",
       true},
      {"UnknownReference",
       {{kModule,
         Resources("  - package: nginx\n  - service: nginx\n    require: [service:ngnix]\n")}},
       "modules/base/module.yaml:4:15",
       "require \"service:ngnix\": no such resource",
       true},
      {"DuplicateIdAcrossModules",
       {{"plumb.yaml", two_modules},
        {"modules/other/module.yaml", Resources("  - package: vim\n")}},
       "modules/other/module.yaml:2:5",
       "duplicate id package:vim (also defined at "
       "modules/base/module.yaml:2:5)",
       true},
      {"DependencyCycle",
       {{kModule, Resources("  - file: /a\n    content: x\n    require: service:b\n"
                            "  - service: b\n    require: [file:/a]\n")}},
       "modules/base/module.yaml:2:5",
       "dependency cycle: file:/a -> service:b -> file:/a",
       true},
      {"CycleThroughNotifyBeforeSubscribe",
       {{kModule, Resources("  - package: p\n    notify: service:s\n    subscribe: exec:f\n"
                            "  - service: s\n    before: [exec:e]\n  - exec: e\n    command: x\n"
                            "  - exec: f\n    command: y\n    subscribe: exec:e\n")}},
       "modules/base/module.yaml:2:5",
       "dependency cycle: package:p -> service:s -> exec:e -> exec:f -> package:p",
       true},
      {"SelfCycle",
       {{kModule, Resources("  - package: a\n  - package: b\n    before: package:b\n")}},
       "modules/base/module.yaml:3:5",
       "dependency cycle: package:b -> package:b",
       true},
  };
}

class CompileErrorsTest : public ::testing::TestWithParam<BadRepo> {};

std::string Dump(const std::vector<CompileError>& errors) {
  std::string out;
  for (const CompileError& e : errors) absl::StrAppend(&out, "  ", e.ToString(), "\n");
  return out.empty() ? "  (none)\n" : out;
}

TEST_P(CompileErrorsTest, IsReportedWithExactLocation) {
  const BadRepo& bad = GetParam();
  testing::TempDir dir;
  std::map<std::string, std::string> files = {{"plumb.yaml", kPlumbYaml},
                                              {kModule, "resources:\n  - package: vim\n"}};
  for (const auto& [path, content] : bad.files) files[path] = content;
  for (const auto& [path, content] : files) {
    if (content != kAbsent) testing::WriteFileOrDie(dir.Sub(path), content);
  }
  DirectoryTree tree(dir.path());
  auto state = DesiredState::Parse(tree, "rev");
  NodeCompileResult result =
      state->CompileNode(NodeInputs{"web-01", {{"role", "web"}}, {{"os.id", "debian"}}});
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(result.catalog, nullptr);
  if (bad.node_level) {
    EXPECT_TRUE(state->ok()) << "repository errors:\n" << Dump(state->errors());
  }
  const std::vector<CompileError>& errors = bad.node_level ? result.errors : state->errors();
  bool found = false;
  for (const CompileError& e : errors) {
    found =
        found || (e.location == bad.location && e.message.find(bad.fragment) != std::string::npos);
  }
  EXPECT_TRUE(found) << "want " << bad.location << ": ..." << bad.fragment << "...\ngot:\n"
                     << Dump(errors);
}

INSTANTIATE_TEST_SUITE_P(BadRepos, CompileErrorsTest, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<BadRepo>& info) {
                           return info.param.name;
                         });

TEST(CompileErrorsCollectTest, EveryErrorOfARevisionIsReported) {
  testing::TempDir dir;
  testing::WriteFileOrDie(dir.Sub("plumb.yaml"), R"(version: 1
bogus: 1
targets:
  - name: all
    nodes: "*"
    modules: [base, missing]
)");
  testing::WriteFileOrDie(dir.Sub(kModule), R"(resources:
  - file: /etc/a
    content: x
    mode: 644
  - file: /etc/b
    owner: [x]
  - servce: nginx
  - package: vim
    colour: blue
)");
  testing::WriteFileOrDie(dir.Sub("modules/other/module.yaml"), "resources: {\n");
  DirectoryTree tree(dir.path());
  auto state = DesiredState::Parse(tree, "rev");
  std::vector<std::string> locations;
  for (const CompileError& e : state->errors()) locations.push_back(e.location);
  EXPECT_THAT(locations, ::testing::UnorderedElementsAre(
                             "plumb.yaml:2:1", "plumb.yaml:6:21", "modules/base/module.yaml:4:11",
                             "modules/base/module.yaml:5:5", "modules/base/module.yaml:6:12",
                             "modules/base/module.yaml:7:5", "modules/base/module.yaml:9:5",
                             "modules/other/module.yaml:2:1"))
      << Dump(state->errors());
}

TEST(CompileErrorsCollectTest, NodeErrorsAreAllReportedToo) {
  testing::TempDir dir;
  testing::WriteFileOrDie(dir.Sub("plumb.yaml"), kPlumbYaml);
  testing::WriteFileOrDie(dir.Sub(kModule), R"(resources:
  - file: /etc/a
    template: t.mustache
    require: [package:nope]
  - package: x
    before: package:y
  - package: y
    before: [package:x, package:z]
)");
  testing::WriteFileOrDie(dir.Sub(kTemplate), "{{vars.a}}\n");
  DirectoryTree tree(dir.path());
  auto state = DesiredState::Parse(tree, "rev");
  ASSERT_TRUE(state->ok()) << Dump(state->errors());
  NodeCompileResult result = state->CompileNode(NodeInputs{"n", {}, {}});
  EXPECT_FALSE(result.ok());
  EXPECT_TRUE(result.blobs.empty());
  std::vector<std::string> errors;
  for (const CompileError& e : result.errors) errors.push_back(e.ToString());
  EXPECT_THAT(
      errors,
      ::testing::UnorderedElementsAre(
          ::testing::StartsWith("modules/base/templates/t.mustache:1:1: undefined variable"),
          ::testing::StartsWith("modules/base/module.yaml:4:15: require \"package:nope\""),
          ::testing::StartsWith("modules/base/module.yaml:8:25: before \"package:z\""),
          "modules/base/module.yaml:5:5: dependency cycle: package:x -> package:y -> "
          "package:x"));
}

}  // namespace
}  // namespace plumb
