#include "tests/fuzz/agent_stream_fixture.h"

#include <stdlib.h>

#include <filesystem>
#include <map>

#include "common/digest.h"
#include "tests/fuzz/fake_stream.h"
#include "tests/fuzz/map_tree.h"
#include "server/store/sqlite/sqlite_store.h"

namespace plumb::fuzz {
namespace {

constexpr char kPlumbYaml[] = R"(version: 1
vars: {greeting: hello}
targets:
  - name: everyone
    nodes: "*"
    modules: [base]
  - name: web
    labels: {role: web}
    modules: [web]
  - name: only-a
    nodes: "a"
    modules: [secret]
  - name: broken
    labels: {broken: "yes"}
    modules: [broken]
)";

constexpr char kBaseModule1[] = R"(resources:
  - file: /etc/plumb/node
    template: node.mustache
  - file: /etc/motd
    content: "revision one\n"
  - package: ntp
)";

// Revision two changes one resource, drops one and adds one: updates carry all three kinds.
constexpr char kBaseModule2[] = R"(resources:
  - file: /etc/plumb/node
    template: node.mustache
  - file: /etc/motd
    content: "revision two\n"
  - directory: /srv/two
    mode: "0755"
)";

constexpr char kWebModule[] = R"(resources:
  - file: /etc/web.conf
    template: web.mustache
    mode: "0644"
)";

constexpr char kSecretModule[] = R"(resources:
  - file: /etc/secret-a
    content: "secret of a\n"
    sensitive: true
)";

constexpr char kBrokenModule[] = R"(resources:
  - file: /etc/broken
    content: "x"
    require: [package:missing]
)";

std::shared_ptr<const DesiredState> Revision(const std::string& sha, const char* base_module) {
  MapTree tree({{"plumb.yaml", kPlumbYaml},
                {"modules/base/module.yaml", base_module},
                {"modules/base/templates/node.mustache", "node={{{node.name}}}"},
                {"modules/web/module.yaml", kWebModule},
                {"modules/web/templates/web.mustache",
                 "{{vars.greeting}} {{#labels.env}}env={{labels.env}}{{/labels.env}}"
                 " {{#facts.os.id}}os={{facts.os.id}}{{/facts.os.id}}\n"},
                {"modules/secret/module.yaml", kSecretModule},
                {"modules/broken/module.yaml", kBrokenModule}});
  auto state = DesiredState::Parse(tree, sha);
  if (!state->ok()) Violation("fixture repository: " + JoinCompileErrors(state->errors()));
  return state;
}

const v1::Resource* FindResource(const v1::Catalog& catalog, const std::string& id) {
  for (const v1::Resource& r : catalog.resources()) {
    if (r.id() == id) return &r;
  }
  return nullptr;
}

}  // namespace

std::string AgentStreamFixture::NodeFileDigest(const std::string& node) {
  return Sha256Hex("node=" + node);
}

std::string AgentStreamFixture::SecretDigest() { return Sha256Hex("secret of a\n"); }

AgentStreamFixture::AgentStreamFixture() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "agent-stream-fuzz-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) Violation("mkdtemp failed");
  dir_ = tmpl;
  auto opened = SqliteStore::Open(dir_ + "/plumb.db");
  if (!opened.ok()) Violation("cannot open store: " + std::string(opened.status().message()));
  store = std::move(*opened);

  revision_ids_[0] = std::string(40, '1');
  revision_ids_[1] = std::string(40, '2');
  revisions_[0] = Revision(revision_ids_[0], kBaseModule1);
  revisions_[1] = Revision(revision_ids_[1], kBaseModule2);
  // The invariants lean on these facts about the repository: check them once.
  NodeCompileResult a = revisions_[0]->CompileNode({"a", {{"role", "web"}}, {}});
  const v1::Resource* node_file = a.ok() ? FindResource(*a.catalog, kNodeFileId) : nullptr;
  const v1::Resource* secret = a.ok() ? FindResource(*a.catalog, kSecretId) : nullptr;
  if (node_file == nullptr || node_file->content_digest() != NodeFileDigest("a") ||
      secret == nullptr || !secret->sensitive() || secret->content_digest() != SecretDigest()) {
    Violation("fixture repository does not compile as expected for node a: " +
              (a.ok() ? std::string("unexpected resources") : JoinCompileErrors(a.errors)));
  }
  if (revisions_[1]->CompileNode({"b", {{"broken", "yes"}}, {}}).ok()) {
    Violation("fixture repository: a broken=yes node should not compile");
  }
  std::map<std::string, bool> ids;
  for (const auto& state : revisions_) {
    NodeCompileResult all = state->CompileNode({"a", {{"role", "web"}}, {}});
    if (!all.ok()) Violation("fixture repository: " + JoinCompileErrors(all.errors));
    for (const v1::Resource& r : all.catalog->resources()) ids[r.id()] = true;
  }
  ids["file:/etc/broken"] = true;
  for (const auto& [id, unused] : ids) resource_ids_.push_back(id);

  builder.SetDesiredState(revisions_[0]);
  watch_ = events.Subscribe();
  hub_ = std::make_unique<StreamHub>(store.get(), &builder, &runs, &clock, &events, &metrics);
}

AgentStreamFixture::~AgentStreamFixture() {
  hub_.reset();
  events.Shutdown();
  store.reset();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

void AgentStreamFixture::Serve(int index) {
  if (index == serving_) return;
  serving_ = index;
  builder.SetDesiredState(revisions_[index]);
  hub_->OnNewRevision();
}

void AgentStreamFixture::TrimCatalogs() {
  // Swapping the state in again drops the compiled groups; nothing else changes.
  if (builder.compiled_groups() > 32) builder.SetDesiredState(revisions_[serving_]);
}

void AgentStreamFixture::DrainEvents() {
  v1::Event event;
  while (watch_->Pop(&event)) {
  }
}

const std::vector<std::string>& AgentStreamFixture::NodeNames() {
  static const auto* names = new std::vector<std::string>{"a", "b", "web-1"};
  return *names;
}

void AgentStreamFixture::ResetNodes() {
  for (const std::string& name : NodeNames()) {
    v1::Node node;
    node.set_name(name);
    node.set_status(v1::NODE_OFFLINE);
    if (!store->PutNode(node).ok()) Violation("cannot reset node " + name);
  }
}

}  // namespace plumb::fuzz
