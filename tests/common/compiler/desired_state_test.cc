// The desired-state compiler on real repositories in temp dirs: target matching, var
// precedence, resource representation, templates and blobs, digests and group keys.

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/catalog.h"
#include "common/compiler/compiler.h"
#include "common/digest.h"
#include "common/compiler/directory_tree.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// A desired-state repository in a temp dir.
class TestRepo {
 public:
  void Write(const std::string& path, const std::string& content) {
    testing::WriteFileOrDie(dir_.Sub(path), content);
  }
  std::shared_ptr<const DesiredState> Parse(const std::string& revision = "rev1") const {
    DirectoryTree tree(dir_.path());
    return DesiredState::Parse(tree, revision);
  }

 private:
  testing::TempDir dir_;
};

std::string Errors(const std::vector<CompileError>& errors) {
  std::string out;
  for (const CompileError& e : errors) absl::StrAppend(&out, e.ToString(), "\n");
  return out;
}

NodeInputs Node(std::string name, std::map<std::string, std::string> labels = {},
                std::map<std::string, std::string> facts = {}) {
  return NodeInputs{std::move(name), std::move(labels), std::move(facts)};
}

// Compiles `node`, failing the test on any error.
NodeCompileResult CompileOk(const DesiredState& state, const NodeInputs& node) {
  EXPECT_TRUE(state.ok()) << Errors(state.errors());
  NodeCompileResult result = state.CompileNode(node);
  EXPECT_TRUE(result.ok()) << Errors(result.errors);
  return result;
}

std::vector<std::string> Ids(const NodeCompileResult& result) {
  std::vector<std::string> ids;
  if (result.catalog == nullptr) return ids;
  for (const v1::Resource& r : result.catalog->resources()) ids.push_back(r.id());
  return ids;
}

const v1::Resource* Find(const NodeCompileResult& result, const std::string& id) {
  for (const v1::Resource& r : result.catalog->resources()) {
    if (r.id() == id) return &r;
  }
  ADD_FAILURE() << "no resource " << id;
  return nullptr;
}

// Writes a module holding one file resource per name: package:<module>-<name>.
void WritePackageModule(TestRepo* repo, const std::string& module) {
  repo->Write(absl::StrCat("modules/", module, "/module.yaml"),
              absl::StrCat("resources:\n  - package: ", module, "\n"));
}

TEST(DesiredStateTest, TargetsMatchByGlobLabelsAndDottedFacts) {
  TestRepo repo;
  repo.Write("plumb.yaml", R"(version: 1
targets:
  - name: everyone
    nodes: "*"
    modules: [base]
  - name: web
    labels: {role: web, env: prod}
    modules: [nginx, base]
  - name: db-hosts
    nodes: ["db-*", "sql[0-9]"]
    modules: [postgres]
  - name: debian
    facts: {os.id: debian}
    modules: [apt]
  - name: web-on-debian
    nodes: "web-*"
    labels: {role: web}
    facts: {os.id: debian}
    modules: [nginx, tuning]
)");
  for (const char* m : {"base", "nginx", "postgres", "apt", "tuning"}) WritePackageModule(&repo, m);
  auto state = repo.Parse();

  EXPECT_THAT(Ids(CompileOk(*state, Node("web-01", {{"role", "web"}, {"env", "prod"}},
                                         {{"os.id", "debian"}}))),
              ElementsAre("package:base", "package:nginx", "package:apt", "package:tuning"));
  // Labels must all match.
  EXPECT_THAT(Ids(CompileOk(*state, Node("web-02", {{"role", "web"}}))),
              ElementsAre("package:base"));
  EXPECT_THAT(Ids(CompileOk(*state, Node("db-01"))),
              ElementsAre("package:base", "package:postgres"));
  EXPECT_THAT(Ids(CompileOk(*state, Node("sql7"))),
              ElementsAre("package:base", "package:postgres"));
  EXPECT_THAT(Ids(CompileOk(*state, Node("sql77"))), ElementsAre("package:base"));
  EXPECT_THAT(Ids(CompileOk(*state, Node("x", {}, {{"os.id", "ubuntu"}}))),
              ElementsAre("package:base"));
  // Node glob fails although labels and facts match.
  EXPECT_THAT(Ids(CompileOk(
                  *state, Node("api-1", {{"role", "web"}, {"env", "dev"}}, {{"os.id", "debian"}}))),
              ElementsAre("package:base", "package:apt"));
}

TEST(DesiredStateTest, VarPrecedenceModuleThenRepoThenTargetsInFileOrder) {
  TestRepo repo;
  repo.Write("plumb.yaml", R"(version: 1
vars: {b: repo, c: repo, d: repo}
targets:
  - name: first
    nodes: "*"
    modules: [app]
    vars: {c: first, d: first}
  - name: second
    labels: {role: web}
    modules: [app]
    vars: {d: second}
)");
  repo.Write("modules/app/module.yaml", R"(vars: {a: module, b: module, c: module, d: module}
resources:
  - file: /etc/app.conf
    template: app.conf.mustache
)");
  repo.Write("modules/app/templates/app.conf.mustache",
             "{{vars.a}} {{vars.b}} {{vars.c}} {{vars.d}}");
  auto state = repo.Parse();
  NodeCompileResult web = CompileOk(*state, Node("w", {{"role", "web"}}));
  const v1::Resource* file = Find(web, "file:/etc/app.conf");
  ASSERT_NE(file, nullptr);
  ASSERT_TRUE(web.blobs.count(file->content_digest()));
  EXPECT_EQ(*web.blobs.at(file->content_digest()), "module repo first second");

  NodeCompileResult other = CompileOk(*state, Node("o"));
  EXPECT_EQ(*other.blobs.at(Find(other, "file:/etc/app.conf")->content_digest()),
            "module repo first first");
}

TEST(DesiredStateTest, TemplateRendersIntoCatalogWithBlob) {
  TestRepo repo;
  repo.Write("plumb.yaml",
             "version: 1\ntargets:\n  - name: all\n    nodes: '*'\n    modules: [nginx]\n");
  repo.Write("modules/nginx/module.yaml", R"(vars: {listen_port: 80, upstreams: [a, b]}
resources:
  - file: /etc/nginx//nginx.conf
    template: nginx.conf.mustache
    mode: "0644"
    owner: root
    notify: [service:nginx]
  - file: /etc/motd
    source: motd
    sensitive: true
  - file: /etc/inline
    content: "hello\n"
    mode: "600"
  - file: /etc/empty
    content: ""
  - package: nginx
  - service: nginx
    ensure: running
    enabled: true
    require: package:nginx
)");
  repo.Write("modules/nginx/templates/nginx.conf.mustache",
             "# {{node.name}} on {{facts.os.id}} ({{labels.role}})\n"
             "listen {{vars.listen_port}};\n"
             "{{#vars.upstreams}}\nserver {{.}};\n{{/vars.upstreams}}\n");
  repo.Write("modules/nginx/files/motd", "welcome\n");
  auto state = repo.Parse("abc123");
  NodeCompileResult result =
      CompileOk(*state, Node("web-01", {{"role", "web"}}, {{"os.id", "debian"}}));
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result.catalog->revision(), "abc123");
  EXPECT_FALSE(result.catalog->prune());
  EXPECT_FALSE(result.catalog->digest().empty());

  const v1::Resource* conf = Find(result, "file:/etc/nginx/nginx.conf");
  ASSERT_NE(conf, nullptr);
  const std::string rendered = "# web-01 on debian (web)\nlisten 80;\nserver a;\nserver b;\n";
  EXPECT_EQ(conf->content_digest(), Sha256Hex(rendered));
  EXPECT_EQ(conf->content_size(), static_cast<int64_t>(rendered.size()));
  EXPECT_EQ(*result.blobs.at(conf->content_digest()), rendered);
  EXPECT_EQ(StringAttribute(*conf, "mode"), "0644");
  EXPECT_EQ(StringAttribute(*conf, "owner"), "root");
  EXPECT_EQ(StringAttribute(*conf, "ensure"), "present");
  EXPECT_FALSE(HasAttribute(*conf, "template"));
  EXPECT_FALSE(HasAttribute(*conf, "content"));
  EXPECT_THAT(conf->notify(), ElementsAre("service:nginx"));
  EXPECT_EQ(conf->source_location(), "modules/nginx/module.yaml:3:5");
  EXPECT_FALSE(conf->version().empty());

  const v1::Resource* motd = Find(result, "file:/etc/motd");
  EXPECT_TRUE(motd->sensitive());
  EXPECT_FALSE(HasAttribute(*motd, "sensitive"));
  EXPECT_EQ(*result.blobs.at(motd->content_digest()), "welcome\n");
  const v1::Resource* inline_file = Find(result, "file:/etc/inline");
  EXPECT_EQ(*result.blobs.at(inline_file->content_digest()), "hello\n");
  EXPECT_EQ(StringAttribute(*inline_file, "mode"), "0600");
  const v1::Resource* empty = Find(result, "file:/etc/empty");
  EXPECT_EQ(empty->content_digest(), Sha256Hex(""));
  EXPECT_EQ(empty->content_size(), 0);
  EXPECT_EQ(*result.blobs.at(empty->content_digest()), "");
  EXPECT_EQ(result.blobs.size(), 4u);

  const v1::Resource* service = Find(result, "service:nginx");
  EXPECT_EQ(StringAttribute(*service, "ensure"), "running");
  EXPECT_EQ(StringAttribute(*service, "enabled"), "true");
  EXPECT_THAT(service->require(), ElementsAre("package:nginx"));
  EXPECT_EQ(StringAttribute(*Find(result, "package:nginx"), "ensure"), "present");
}

// Static resources are versioned once at parse time and templated ones as they render; the
// result must be exactly what sealing the whole catalog gives (what agents verify digests
// against), for every node, including resources moved within their file.
TEST(DesiredStateTest, VersionsAndDigestEqualSealingTheWholeCatalog) {
  TestRepo repo;
  repo.Write("plumb.yaml",
             "version: 1\ntargets:\n  - name: all\n    nodes: '*'\n    modules: [m]\n");
  repo.Write("modules/m/module.yaml", R"(resources:
  - file: /etc/static
    content: "same everywhere\n"
    mode: "0640"
  - file: /etc/per-node
    template: t.mustache
  - package: curl
  - service: cron
    ensure: running
    require: package:curl
)");
  repo.Write("modules/m/templates/t.mustache", "host {{node.name}}\n");
  auto state = repo.Parse();
  for (const char* name : {"a-1", "b-2"}) {
    NodeCompileResult result = CompileOk(*state, Node(name, {}, {}));
    ASSERT_TRUE(result.ok());
    v1::Catalog resealed = *result.catalog;
    for (v1::Resource& r : *resealed.mutable_resources()) r.clear_version();
    resealed.clear_digest();
    SealCatalog(&resealed);
    ASSERT_EQ(resealed.resources_size(), result.catalog->resources_size());
    for (int i = 0; i < resealed.resources_size(); ++i) {
      EXPECT_EQ(result.catalog->resources(i).version(), resealed.resources(i).version())
          << resealed.resources(i).id();
      EXPECT_FALSE(resealed.resources(i).version().empty());
    }
    EXPECT_EQ(result.catalog->digest(), resealed.digest());
  }
  // Moving a static resource within its file changes its source location, not its version.
  auto first = CompileOk(*state, Node("a-1", {}, {}));
  repo.Write("modules/m/module.yaml", R"(resources:
  - package: curl
  - file: /etc/static
    content: "same everywhere\n"
    mode: "0640"
)");
  auto moved = CompileOk(*repo.Parse(), Node("a-1", {}, {}));
  EXPECT_EQ(Find(first, "file:/etc/static")->version(), Find(moved, "file:/etc/static")->version());
  EXPECT_NE(Find(first, "file:/etc/static")->source_location(),
            Find(moved, "file:/etc/static")->source_location());
}

TEST(DesiredStateTest, AttributeValuesOfEveryType) {
  TestRepo repo;
  repo.Write("plumb.yaml",
             "version: 1\nprune: true\ntargets:\n  - {name: all, nodes: '*', modules: [m]}\n");
  repo.Write("modules/m/module.yaml", R"(resources:
  - directory: /srv/app/./data/
    mode: "0750"
    owner: app
    group: app
  - symlink: /srv/current
    target: /srv/app/releases/1
    force: yes
  - exec: migrate
    command: [/usr/bin/app, migrate, --all]
    cwd: /srv/app/../app
    env: {RAILS_ENV: production, N: 3}
    timeout: 300
    creates: /srv/app/.migrated
    refreshonly: true
    subscribe: [directory:/srv/app/data]
  - exec: shell
    command: "echo hi > /tmp/x"
    unless: test -e /tmp/x
    timeout: 1m30s
    sensitive: true
  - user: app
    uid: 1001
    gid: app
    groups: [www-data, adm]
    home: /srv/app
    shell: /bin/bash
    require: [group:app]
  - group: app
    gid: 1001
  - package: curl
    ensure: 7.88.1-10
  - file: /etc/old
    ensure: absent
    before: symlink:/srv//current
)");
  auto state = repo.Parse();
  NodeCompileResult result = CompileOk(*state, Node("n"));
  ASSERT_TRUE(result.ok());
  EXPECT_THAT(Ids(result),
              ElementsAre("directory:/srv/app/data", "symlink:/srv/current", "exec:migrate",
                          "exec:shell", "user:app", "group:app", "package:curl", "file:/etc/old"));
  EXPECT_TRUE(Find(result, "exec:shell")->sensitive());
  EXPECT_FALSE(Find(result, "exec:migrate")->sensitive());
  const v1::Resource* exec = Find(result, "exec:migrate");
  EXPECT_THAT(exec->attributes().at("command").list().items(),
              ElementsAre("/usr/bin/app", "migrate", "--all"));
  EXPECT_EQ(exec->attributes().at("env").map().entries().at("N"), "3");
  EXPECT_EQ(StringAttribute(*exec, "cwd"), "/srv/app");
  EXPECT_EQ(StringAttribute(*exec, "timeout"), "300");
  EXPECT_EQ(StringAttribute(*exec, "refreshonly"), "true");
  EXPECT_THAT(exec->subscribe(), ElementsAre("directory:/srv/app/data"));
  EXPECT_EQ(StringAttribute(*Find(result, "exec:shell"), "command"), "echo hi > /tmp/x");
  EXPECT_EQ(StringAttribute(*Find(result, "exec:shell"), "timeout"), "90");
  EXPECT_EQ(StringAttribute(*Find(result, "symlink:/srv/current"), "force"), "true");
  const v1::Resource* user = Find(result, "user:app");
  EXPECT_THAT(user->attributes().at("groups").list().items(), ElementsAre("www-data", "adm"));
  EXPECT_EQ(StringAttribute(*user, "uid"), "1001");
  EXPECT_EQ(StringAttribute(*Find(result, "package:curl"), "ensure"), "7.88.1-10");
  const v1::Resource* old = Find(result, "file:/etc/old");
  EXPECT_TRUE(old->content_digest().empty());
  EXPECT_THAT(old->before(), ElementsAre("symlink:/srv/current"));
  EXPECT_THAT(result.blobs, IsEmpty());
  EXPECT_TRUE(result.catalog->prune());
}

TEST(DesiredStateTest, ModuleNamedByTwoTargetsIsIncludedOnce) {
  TestRepo repo;
  repo.Write("plumb.yaml", R"(version: 1
targets:
  - {name: a, nodes: "*", modules: [base, extra]}
  - {name: b, nodes: "n*", modules: [extra, base, more]}
)");
  for (const char* m : {"base", "extra", "more"}) WritePackageModule(&repo, m);
  auto state = repo.Parse();
  EXPECT_THAT(Ids(CompileOk(*state, Node("n1"))),
              ElementsAre("package:base", "package:extra", "package:more"));
}

TEST(DesiredStateTest, DigestIsStableAndFollowsContent) {
  TestRepo repo;
  repo.Write("plumb.yaml", "version: 1\ntargets:\n  - {name: all, nodes: '*', modules: [m]}\n");
  repo.Write("modules/m/module.yaml",
             "resources:\n  - file: /etc/a\n    template: a.mustache\n  - package: vim\n");
  repo.Write("modules/m/templates/a.mustache", "node={{node.name}}\n");
  auto first = repo.Parse("rev1");
  std::string digest = CompileOk(*first, Node("n1")).catalog->digest();
  EXPECT_EQ(CompileOk(*first, Node("n1")).catalog->digest(), digest);
  // A new revision with the same content compiles to the same catalog digest.
  EXPECT_EQ(CompileOk(*repo.Parse("rev2"), Node("n1")).catalog->digest(), digest);
  // Different rendered content: a different digest.
  EXPECT_NE(CompileOk(*first, Node("n2")).catalog->digest(), digest);
  repo.Write("modules/m/templates/a.mustache", "node={{node.name}}!\n");
  EXPECT_NE(CompileOk(*repo.Parse("rev3"), Node("n1")).catalog->digest(), digest);
}

TEST(DesiredStateTest, GroupKeyCoversExactlyWhatMatchingAndTemplatesRead) {
  TestRepo repo;
  repo.Write("plumb.yaml", R"(version: 1
targets:
  - {name: all, nodes: "*", modules: [base]}
  - {name: web, labels: {role: web}, modules: [web]}
)");
  repo.Write("modules/base/module.yaml",
             "resources:\n  - file: /etc/os\n    template: os.mustache\n");
  repo.Write("modules/base/templates/os.mustache",
             "{{facts.os.id}} {{#labels.dc}}in {{.}}{{/labels.dc}}\n");
  repo.Write("modules/web/module.yaml",
             "resources:\n  - file: /etc/who\n    template: who.mustache\n");
  repo.Write("modules/web/templates/who.mustache", "{{node.name}}\n");
  auto state = repo.Parse();
  auto key = [&](const NodeInputs& n) { return state->GroupKey(n); };

  NodeInputs a =
      Node("db-1", {{"env", "prod"}, {"dc", "fra"}}, {{"os.id", "debian"}, {"cpus", "4"}});
  NodeInputs b =
      Node("db-2", {{"env", "dev"}, {"dc", "fra"}}, {{"os.id", "debian"}, {"cpus", "8"}});
  // Unread label, unread fact, unread node name: same key, and really the same catalog.
  EXPECT_EQ(key(a), key(b));
  EXPECT_EQ(CompileOk(*state, a).catalog->digest(), CompileOk(*state, b).catalog->digest());
  // A fact the template reads.
  NodeInputs c = b;
  c.facts["os.id"] = "ubuntu";
  EXPECT_NE(key(b), key(c));
  EXPECT_NE(CompileOk(*state, b).catalog->digest(), CompileOk(*state, c).catalog->digest());
  // A label read only through a section, including its absence.
  NodeInputs d = b;
  d.labels.erase("dc");
  EXPECT_NE(key(b), key(d));
  // A label that changes which targets match; then node.name matters (web's template).
  NodeInputs web1 = Node("web-1", {{"role", "web"}}, {{"os.id", "debian"}});
  NodeInputs web2 = Node("web-2", {{"role", "web"}}, {{"os.id", "debian"}});
  EXPECT_NE(key(web1), key(Node("web-1", {}, {{"os.id", "debian"}})));
  EXPECT_NE(key(web1), key(web2));
  // The revision is part of the key.
  EXPECT_NE(key(a), repo.Parse("rev2")->GroupKey(a));
}

TEST(DesiredStateTest, GroupKeyTracksFactSubtreesReadBySections) {
  TestRepo repo;
  repo.Write("plumb.yaml", "version: 1\ntargets:\n  - {name: all, nodes: '*', modules: [m]}\n");
  repo.Write("modules/m/module.yaml", "resources:\n  - file: /etc/os\n    template: t\n");
  repo.Write("modules/m/templates/t", "{{#facts.os}}{{id}}-{{version}}{{/facts.os}}\n");
  auto state = repo.Parse();
  NodeInputs a = Node("a", {}, {{"os.id", "debian"}, {"os.version", "12"}, {"osx", "1"}});
  NodeInputs b = a;
  b.facts["os.version"] = "13";
  NodeInputs c = a;
  c.facts["osx"] = "2";  // shares the prefix "os" but is not under facts.os
  EXPECT_NE(state->GroupKey(a), state->GroupKey(b));
  EXPECT_EQ(state->GroupKey(a), state->GroupKey(c));
  EXPECT_EQ(*CompileOk(*state, b).blobs.begin()->second, "debian-13\n");
}

// The sample repository the quickstart deploys must keep compiling.
TEST(DesiredStateTest, ExampleRepositoryCompiles) {
  // PLUMB_SOURCE_DIR, not __FILE__: ccache's base_dir makes __FILE__ relative to the build.
  DirectoryTree tree(std::string(PLUMB_SOURCE_DIR) + "/deploy/examples/repo");
  auto state = DesiredState::Parse(tree, "example");
  ASSERT_TRUE(state->ok()) << Errors(state->errors());
  NodeCompileResult web = CompileOk(
      *state, Node("web-01", {{"role", "web"}}, {{"os.id", "debian"}, {"hostname", "web-01"}}));
  NodeCompileResult other = CompileOk(*state, Node("db-01", {}, {{"os.id", "debian"}}));
  ASSERT_TRUE(web.ok() && other.ok());
  EXPECT_GT(web.catalog->resources_size(), other.catalog->resources_size());
}

}  // namespace
}  // namespace plumb
