// Incremental compilation (common/compiler/render_cache.h): a templated resource is rendered
// again only when its spec, its template or an input its template reads changed, and the
// result is byte-identical to a compile from scratch.

#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/catalog.h"
#include "common/compiler/compiler.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "gtest/gtest.h"

namespace plumb {
namespace {

// A repository held in memory: path -> content.
class MapTree : public RepoTree {
 public:
  explicit MapTree(std::map<std::string, std::string> files) : files_(std::move(files)) {}
  absl::StatusOr<std::string> ReadFile(absl::string_view path) const override {
    auto it = files_.find(std::string(path));
    if (it == files_.end()) return absl::NotFoundError(path);
    return it->second;
  }
  absl::StatusOr<std::vector<std::string>> ListDir(absl::string_view path) const override {
    std::string prefix = path.empty() ? "" : absl::StrCat(path, "/");
    std::vector<std::string> names;
    for (auto it = files_.lower_bound(prefix); it != files_.end(); ++it) {
      if (!absl::StartsWith(it->first, prefix)) break;
      std::string rest = it->first.substr(prefix.size());
      std::string name = rest.substr(0, rest.find('/'));
      if (names.empty() || names.back() != name) names.push_back(name);
    }
    if (names.empty()) return absl::NotFoundError(path);
    return names;
  }

 private:
  std::map<std::string, std::string> files_;
};

using Files = std::map<std::string, std::string>;

std::string Deterministic(const google::protobuf::Message& message) {
  std::string bytes;
  google::protobuf::io::StringOutputStream out(&bytes);
  google::protobuf::io::CodedOutputStream coded(&out);
  coded.SetSerializationDeterministic(true);
  message.SerializeToCodedStream(&coded);
  return bytes;
}

// Everything a compile result says, as one comparable string.
std::string Describe(const NodeCompileResult& result) {
  std::string out;
  for (const CompileError& e : result.errors) {
    absl::StrAppend(&out, "error ", e.ToString(), " node_dependent=", e.node_dependent, "\n");
  }
  if (result.catalog != nullptr) {
    absl::StrAppend(&out, "digest ", result.catalog->digest(), "\n", "catalog ",
                    absl::CEscape(Deterministic(*result.catalog)), "\n");
  }
  for (const auto& [digest, content] : result.blobs) {
    absl::StrAppend(&out, "blob ", digest, " ", absl::CEscape(*content), "\n");
  }
  return out;
}

// A module `m` with a static file and a template reading the node name, a label, a fact and
// a var; everyone gets it.
Files BaseRepo() {
  return Files{
      {"plumb.yaml",
       "version: 1\nvars:\n  greeting: hello\ntargets:\n  - name: all\n    nodes: \"*\"\n"
       "    modules: [m]\n  - name: web\n    labels: {role: web}\n    modules: [m]\n"},
      {"modules/m/module.yaml",
       "vars:\n  port: 80\n  unused: x\nresources:\n"
       "  - file: /etc/static.conf\n    source: static.conf\n    mode: \"0644\"\n"
       "  - file: /etc/site.conf\n    template: site.mustache\n    mode: \"0640\"\n"},
      {"modules/m/files/static.conf", "static 1\n"},
      {"modules/m/templates/site.mustache",
       "{{node.name}} {{labels.role}} {{facts.os.id}} port {{vars.port}}\n"},
  };
}

std::vector<NodeInputs> Nodes() {
  std::vector<NodeInputs> nodes;
  for (int i = 0; i < 4; ++i) {
    nodes.push_back(NodeInputs{absl::StrCat("n", i),
                               {{"role", i % 2 ? "web" : "db"}},
                               {{"os.id", "debian"}, {"arch", "x86_64"}}});
  }
  return nodes;
}

// The results of the last CompileAll, held as the server's CatalogBuilder holds its groups:
// a cached render is reused only while some result still holds its content.
std::vector<NodeCompileResult>* Held() {
  static auto* held = new std::vector<NodeCompileResult>();
  return held;
}

// Compiles every node at `files` incrementally from `previous` and checks each result against
// a compile from scratch. Returns the new state; its results replace Held().
std::shared_ptr<const DesiredState> CompileAll(const Files& files, const std::string& revision,
                                               const DesiredState* previous,
                                               const std::vector<NodeInputs>& nodes) {
  MapTree tree(files);
  auto state = DesiredState::Parse(tree, revision, previous);
  EXPECT_TRUE(state->ok()) << (state->ok() ? "" : state->errors()[0].ToString());
  std::vector<NodeCompileResult> results;
  for (const NodeInputs& node : nodes) {
    NodeCompileResult got = state->CompileNode(node);
    NodeCompileResult want = DesiredState::Parse(tree, revision)->CompileNode(node);
    EXPECT_EQ(Describe(got), Describe(want)) << node.name << " at " << revision;
    results.push_back(std::move(got));
  }
  *Held() = std::move(results);
  return state;
}

TEST(IncrementalCompileTest, StaticFileChangeReusesEveryRender) {
  Files files = BaseRepo();
  std::vector<NodeInputs> nodes = Nodes();
  auto first = CompileAll(files, "r1", nullptr, nodes);
  EXPECT_EQ(first->stats().templates_rendered, 4);  // per node: it reads node.name
  files["modules/m/files/static.conf"] = "static 2\n";
  auto second = CompileAll(files, "r2", first.get(), nodes);
  EXPECT_EQ(second->stats().templates_rendered, 0);
  EXPECT_EQ(second->stats().templates_reused, 4);
}

TEST(IncrementalCompileTest, RenderWhoseContentNobodyHoldsRendersAgain) {
  Files files = BaseRepo();
  auto first = CompileAll(files, "r1", nullptr, Nodes());
  Held()->clear();  // as when every group naming the content was evicted
  files["modules/m/files/static.conf"] = "static 2\n";
  auto second = CompileAll(files, "r2", first.get(), Nodes());
  EXPECT_EQ(second->stats().templates_rendered, 4);
  EXPECT_EQ(second->stats().templates_reused, 0);
}

TEST(IncrementalCompileTest, WithoutPreviousEverythingRenders) {
  Files files = BaseRepo();
  auto first = CompileAll(files, "r1", nullptr, Nodes());
  files["modules/m/files/static.conf"] = "static 2\n";
  auto second = CompileAll(files, "r2", nullptr, Nodes());
  EXPECT_EQ(second->stats().templates_rendered, 4);
  EXPECT_EQ(second->stats().templates_reused, 0);
}

// One edit of the repository, and how many of the 4 nodes' renders it must redo.
struct RepoEdit {
  std::string what;
  std::string path;
  std::string from;
  std::string to;
  int rendered;
};

TEST(IncrementalCompileTest, ChangesToWhatTheTemplateReadsRenderAgain) {
  std::vector<RepoEdit> edits = {
      {"template text", "modules/m/templates/site.mustache", "port", "listen", 4},
      {"read var in the module", "modules/m/module.yaml", "port: 80", "port: 81", 4},
      {"unread var in the module", "modules/m/module.yaml", "unused: x", "unused: y", 0},
      {"read var overridden by a target", "plumb.yaml", "modules: [m]\n  - name: web",
       "modules: [m]\n    vars: {port: 8080}\n  - name: web", 4},
      {"read var overridden for web nodes only", "plumb.yaml", "labels: {role: web}",
       "labels: {role: web}\n    vars: {port: 9}", 2},
      {"unread var in plumb.yaml", "plumb.yaml", "greeting: hello", "greeting: hi", 0},
      {"the templated resource's own spec", "modules/m/module.yaml", "mode: \"0640\"",
       "mode: \"0600\"", 4},
      {"a line moved above the templated resource", "modules/m/module.yaml", "resources:\n",
       "resources:\n  - directory: /etc/x\n", 4},
  };
  std::vector<NodeInputs> nodes = Nodes();
  for (const RepoEdit& edit : edits) {
    SCOPED_TRACE(edit.what);
    Files files = BaseRepo();
    auto first = CompileAll(files, "r1", nullptr, nodes);
    std::string& text = files[edit.path];
    ASSERT_NE(text.find(edit.from), std::string::npos);
    text.replace(text.find(edit.from), edit.from.size(), edit.to);
    auto second = CompileAll(files, "r2", first.get(), nodes);
    EXPECT_EQ(second->stats().templates_rendered, edit.rendered);
    EXPECT_EQ(second->stats().templates_reused, 4 - edit.rendered);
  }
}

TEST(IncrementalCompileTest, ChangedNodeInputsRenderAgainUnreadOnesDoNot) {
  Files files = BaseRepo();
  std::vector<NodeInputs> nodes = Nodes();
  auto first = CompileAll(files, "r1", nullptr, nodes);
  auto second = CompileAll(files, "r2", first.get(), nodes);
  EXPECT_EQ(second->stats().templates_rendered, 0);
  std::vector<NodeInputs> changed = nodes;
  changed[0].facts["os.id"] = "ubuntu";  // read
  changed[1].labels["role"] = "cache";   // read
  changed[2].facts["arch"] = "arm64";    // not read
  changed[3].labels["dc"] = "b";         // not read
  auto third = CompileAll(files, "r3", second.get(), changed);
  EXPECT_EQ(third->stats().templates_rendered, 2);
  EXPECT_EQ(third->stats().templates_reused, 2);
  // A fact nested under one the template reads changes what it reads ("os.id" becomes a map).
  changed[2].facts["os.id.x"] = "1";
  auto fourth = CompileAll(files, "r4", third.get(), changed);
  EXPECT_EQ(fourth->stats().templates_rendered, 1);
}

// A random repository: a few modules of static and templated files, templates reading random
// inputs (some of which nodes lack: node-dependent errors), and random edits between revisions.
class RandomRepo {
 public:
  explicit RandomRepo(uint32_t seed) : rng_(seed) {
    for (int m = 0; m < 3; ++m) modules_.push_back(RandomModule(m));
    for (int n = 0; n < 10; ++n) nodes_.push_back(RandomNode(n));
  }
  Files files() const {
    Files files;
    std::string plumb = absl::StrCat("version: 1\nvars:\n  v0: ", repo_var_,
                                     "\ntargets:\n  - name: all\n    nodes: \"*\"\n"
                                     "    modules: [m0, m1]\n  - name: web\n"
                                     "    labels: {role: web}\n    modules: [m2]\n"
                                     "    vars: {v1: ",
                                     target_var_, "}\n");
    files["plumb.yaml"] = plumb;
    for (size_t m = 0; m < modules_.size(); ++m) {
      for (const auto& [path, text] : modules_[m])
        files[absl::StrCat("modules/m", m, "/", path)] = text;
    }
    return files;
  }
  const std::vector<NodeInputs>& nodes() const { return nodes_; }

  // One random edit: a static file, a template, a var, or a node's inputs.
  void Edit() {
    int m = Pick(3);
    switch (Pick(6)) {
      case 0:
        modules_[m][absl::StrCat("files/s", Pick(2), ".conf")] += "more\n";
        break;
      case 1:
        modules_[m][absl::StrCat("templates/t", Pick(2), ".mustache")] = RandomTemplate();
        break;
      case 2:
        modules_[m]["module.yaml"] = ModuleYaml(m, absl::StrCat(Pick(3)));
        break;
      case 3:
        repo_var_ = absl::StrCat("r", Pick(3));
        target_var_ = absl::StrCat("t", Pick(3));
        break;
      case 4:
        nodes_[Pick(nodes_.size())] = RandomNode(Pick(10));
        break;
      default:
        nodes_[Pick(nodes_.size())].labels["role"] = Pick(2) ? "web" : "db";
        break;
    }
  }

 private:
  int Pick(size_t n) { return static_cast<int>(rng_() % n); }
  std::string RandomTemplate() {
    static const char* const kReads[] = {"{{node.name}}",
                                         "{{labels.role}}",
                                         "{{labels.dc}}",
                                         "{{facts.os.id}}",
                                         "{{vars.v0}}",
                                         "{{vars.v1}}",
                                         "{{vars.mv}}",
                                         "{{#labels.dc}}dc {{labels.dc}}{{/labels.dc}}",
                                         "{{^facts.extra}}none{{/facts.extra}}",
                                         "static text"};
    std::string text;
    for (int i = 0, n = 1 + Pick(3); i < n; ++i) absl::StrAppend(&text, kReads[Pick(10)], "\n");
    return text;
  }
  std::string ModuleYaml(int m, const std::string& var) {
    std::string yaml = absl::StrCat("vars:\n  mv: ", var, "\n  v1: m", m, "\nresources:\n");
    for (int i = 0; i < 2; ++i) {
      absl::StrAppend(&yaml, "  - file: /etc/m", m, "/s", i, ".conf\n    source: s", i,
                      ".conf\n    mode: \"0644\"\n  - file: /etc/m", m, "/t", i,
                      ".conf\n    template: t", i, ".mustache\n    mode: \"0644\"\n");
    }
    return yaml;
  }
  std::map<std::string, std::string> RandomModule(int m) {
    std::map<std::string, std::string> files;
    files["module.yaml"] = ModuleYaml(m, "a");
    for (int i = 0; i < 2; ++i) {
      files[absl::StrCat("files/s", i, ".conf")] = absl::StrCat("static ", m, " ", i, "\n");
      files[absl::StrCat("templates/t", i, ".mustache")] = RandomTemplate();
    }
    return files;
  }
  NodeInputs RandomNode(int n) {
    NodeInputs node{absl::StrCat("node", n), {{"role", Pick(2) ? "web" : "db"}}, {}};
    if (Pick(4) != 0) node.labels["dc"] = absl::StrCat("dc", Pick(2));  // else: an error
    if (Pick(4) != 0) node.facts["os.id"] = Pick(2) ? "debian" : "ubuntu";
    if (Pick(3) == 0) node.facts["extra"] = "yes";
    return node;
  }

  std::mt19937 rng_;
  std::vector<std::map<std::string, std::string>> modules_;
  std::vector<NodeInputs> nodes_;
  std::string repo_var_ = "r0";
  std::string target_var_ = "t0";
};

TEST(IncrementalCompileTest, RandomRepositoriesCompileAsFromScratch) {
  int64_t reused = 0;
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    RandomRepo repo(seed);
    std::shared_ptr<const DesiredState> previous;
    for (int revision = 0; revision < 8; ++revision) {
      previous =
          CompileAll(repo.files(), absl::StrCat("r", revision), previous.get(), repo.nodes());
      reused += previous->stats().templates_reused;
      repo.Edit();
    }
  }
  EXPECT_GT(reused, 0);
}

}  // namespace
}  // namespace plumb
