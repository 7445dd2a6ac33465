// Random mutations of a valid repository must never crash or hang the compiler, and every
// outcome must be coherent: located errors, or a sealed catalog whose blobs are all there.
// A cheap, deterministic cousin of the libFuzzer target (same seed repository).

#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/compiler/compiler.h"
#include "gtest/gtest.h"

namespace plumb {
namespace {

// A repository held in memory: path -> content.
class MemoryTree : public RepoTree {
 public:
  explicit MemoryTree(std::map<std::string, std::string> files) : files_(std::move(files)) {}
  absl::StatusOr<std::string> ReadFile(absl::string_view path) const override {
    auto it = files_.find(std::string(path));
    if (it == files_.end()) return absl::NotFoundError(path);
    return it->second;
  }
  absl::StatusOr<std::vector<std::string>> ListDir(absl::string_view path) const override {
    std::string prefix = path.empty() ? "" : absl::StrCat(path, "/");
    std::vector<std::string> names;
    for (const auto& [file, content] : files_) {
      if (!absl::StartsWith(file, prefix)) continue;
      std::string rest = file.substr(prefix.size());
      std::string name = rest.substr(0, rest.find('/'));
      if (names.empty() || names.back() != name) names.push_back(name);
    }
    if (names.empty()) return absl::NotFoundError(path);
    return names;
  }

 private:
  std::map<std::string, std::string> files_;
};

std::map<std::string, std::string> SeedRepo() {
  return {
      {"plumb.yaml", R"(version: 1
vars: {ntp: pool.ntp.org, list: [a, b]}
targets:
  - name: all
    nodes: ["*", "web-[0-9]*"]
    modules: [base]
  - name: web
    labels: {role: web}
    facts: {os.id: debian}
    modules: [web, base]
    vars: {port: 8080}
)"},
      {"modules/base/module.yaml", R"(vars: {port: 80}
resources:
  - file: /etc/ntp.conf
    template: ntp.mustache
    mode: "0644"
    notify: [service:ntp]
  - package: ntp
  - service: ntp
    ensure: running
    enabled: true
    require: package:ntp
  - user: app
    uid: 1000
    groups: [adm]
  - group: adm
    gid: 4
)"},
      {"modules/base/templates/ntp.mustache",
       "server {{vars.ntp}}\n{{#vars.list}}\n- "
       "{{.}}\n{{/vars.list}}\n{{^labels.role}}none{{/labels.role}}\n"},
      {"modules/web/module.yaml", R"(resources:
  - directory: /srv/www
    mode: "0755"
  - file: /srv/www/index.html
    source: index.html
    require: [directory:/srv/www]
  - symlink: /srv/current
    target: /srv/www
  - exec: reload
    command: [systemctl, reload, nginx]
    refreshonly: true
    subscribe: file:/srv/www/index.html
    env: {A: b}
)"},
      {"modules/web/files/index.html", "<h1>hi</h1>\n"},
  };
}

const std::vector<std::string>& Tokens() {
  static const auto* tokens = new std::vector<std::string>{"{{",
                                                           "}}",
                                                           "{{#",
                                                           "{{/",
                                                           "{{^",
                                                           "{{{",
                                                           ":",
                                                           "- ",
                                                           "\n",
                                                           "  ",
                                                           "[",
                                                           "]",
                                                           "{",
                                                           "}",
                                                           "&a ",
                                                           "*a",
                                                           "..",
                                                           "/",
                                                           "\"",
                                                           "'",
                                                           "0644",
                                                           "644",
                                                           "require: [x:y]",
                                                           "file: ",
                                                           "template: ",
                                                           "vars.",
                                                           "facts.",
                                                           "\t",
                                                           "#",
                                                           "!!",
                                                           "~",
                                                           "---\n",
                                                           "? ",
                                                           "|",
                                                           ">"};
  return *tokens;
}

std::string Mutate(std::string text, std::mt19937* rng) {
  int edits = 1 + static_cast<int>((*rng)() % 4);
  for (int i = 0; i < edits; ++i) {
    size_t at = text.empty() ? 0 : (*rng)() % (text.size() + 1);
    switch ((*rng)() % 4) {
      case 0:  // delete a span
        text.erase(at, (*rng)() % 8);
        break;
      case 1:  // insert a token
        text.insert(at, Tokens()[(*rng)() % Tokens().size()]);
        break;
      case 2:  // flip a byte
        if (at < text.size()) text[at] = static_cast<char>((*rng)() % 256);
        break;
      default:  // duplicate a span
        text.insert(at, text.substr((*rng)() % (text.size() + 1), (*rng)() % 40));
    }
  }
  return text;
}

void CheckCoherent(const std::vector<CompileError>& errors) {
  for (const CompileError& e : errors) {
    EXPECT_FALSE(e.message.empty());
    EXPECT_TRUE(absl::StartsWith(e.location, "plumb.yaml") ||
                absl::StartsWith(e.location, "modules/"))
        << e.ToString();
  }
}

TEST(CompileRobustnessTest, MutatedRepositoriesGiveErrorsOrCoherentCatalogs) {
  std::mt19937 rng(20240611);
  const std::map<std::string, std::string> seed = SeedRepo();
  std::vector<NodeInputs> nodes = {
      {"web-1", {{"role", "web"}}, {{"os.id", "debian"}}},
      {"db-1", {}, {}},
  };
  int compiled = 0;
  for (int iteration = 0; iteration < 1500; ++iteration) {
    std::map<std::string, std::string> files = seed;
    auto victim = files.begin();
    std::advance(victim, rng() % files.size());
    victim->second = Mutate(victim->second, &rng);
    MemoryTree tree(files);
    auto state = DesiredState::Parse(tree, "rev");
    CheckCoherent(state->errors());
    for (const NodeInputs& node : nodes) {
      NodeCompileResult result = state->CompileNode(node);
      state->GroupKey(node);
      CheckCoherent(result.errors);
      if (!state->ok()) {
        EXPECT_FALSE(result.ok());
        continue;
      }
      if (!result.ok()) {
        EXPECT_FALSE(result.errors.empty());
        continue;
      }
      ++compiled;
      EXPECT_EQ(result.catalog->digest().size(), 64u);
      for (const v1::Resource& r : result.catalog->resources()) {
        EXPECT_EQ(r.version().size(), 64u);
        if (!r.content_digest().empty()) {
          EXPECT_TRUE(result.blobs.count(r.content_digest())) << r.id();
        }
      }
    }
    if (HasFailure()) {
      ADD_FAILURE() << "mutated " << victim->first << ":\n" << victim->second;
      break;
    }
  }
  // Some mutations are harmless (comments, whitespace); the good path is exercised too.
  EXPECT_GT(compiled, 0);
}

}  // namespace
}  // namespace plumb
