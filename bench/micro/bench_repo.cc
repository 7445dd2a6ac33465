#include "bench/micro/bench_repo.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace plumb {
namespace bench {

absl::StatusOr<std::string> MemoryTree::ReadFile(absl::string_view path) const {
  auto it = files_.find(std::string(path));
  if (it == files_.end()) return absl::NotFoundError(path);
  return it->second;
}

absl::StatusOr<std::vector<std::string>> MemoryTree::ListDir(absl::string_view path) const {
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

namespace {

// A module with a directory, `statics` static files, `templated` templated files and, when
// `service` is set, a package and a service that the templated files notify.
void AddModule(std::map<std::string, std::string>* files, const std::string& name, int statics,
               int templated, bool service, const std::string& extra_template_line) {
  std::string dir = absl::StrCat("/etc/", name);
  std::string yaml = absl::StrCat("vars:\n  ", name, "_port: 1", name.size(), "00\n  ", name,
                                  "_workers: 2\nresources:\n  - directory: ", dir,
                                  "\n    mode: \"0755\"\n");
  if (service) {
    absl::StrAppend(&yaml, "  - package: ", name, "-server\n  - service: ", name,
                    "\n    ensure: running\n    enabled: true\n    require: [package:", name,
                    "-server]\n");
  }
  for (int i = 0; i < statics; ++i) {
    std::string file = absl::StrFormat("static-%02d.conf", i);
    absl::StrAppend(&yaml, "  - file: ", dir, "/", file, "\n    source: ", file,
                    "\n    mode: \"0644\"\n    require: [directory:", dir, "]\n");
    (*files)[absl::StrCat("modules/", name, "/files/", file)] =
        absl::StrFormat("# %s static file %d\noption_a = %d\noption_b = \"%s\"\n", name, i, i * 7,
                        std::string(120, 'x'));
  }
  for (int i = 0; i < templated; ++i) {
    std::string file = absl::StrFormat("site-%02d.conf", i);
    absl::StrAppend(&yaml, "  - file: ", dir, "/", file, "\n    template: ", file,
                    ".mustache\n    mode: \"0640\"\n    require: [directory:", dir, "]\n");
    if (service) absl::StrAppend(&yaml, "    notify: [service:", name, "]\n");
    (*files)[absl::StrCat("modules/", name, "/templates/", file, ".mustache")] = absl::StrCat(
        "# ", name, " ", i, " for role {{labels.role}} in dc {{labels.dc}}\n", "listen {{vars.",
        name, "_port}};\nworkers {{vars.", name, "_workers}};\nntp {{vars.ntp_server}};\n",
        "os {{facts.os.id}}\n", extra_template_line);
  }
  (*files)[absl::StrCat("modules/", name, "/module.yaml")] = yaml;
}

}  // namespace

std::map<std::string, std::string> GenerateRepo(const BenchRepoOptions& options) {
  std::map<std::string, std::string> files;
  files["plumb.yaml"] = R"(version: 1
vars:
  ntp_server: pool.ntp.org
  admin: ops@example.org
targets:
  - name: everyone
    nodes: "*"
    modules: [base, ssh, ntp]
  - name: web
    labels: {role: web}
    modules: [web]
    vars: {web_workers: 8}
  - name: db
    labels: {role: db}
    modules: [db]
  - name: cache
    labels: {role: cache}
    modules: [cache]
  - name: dc-a
    labels: {dc: a}
    modules: [ntp]
    vars: {ntp_server: ntp-a.example.org}
)";
  AddModule(&files, "base", 8, 4, false, "");
  AddModule(&files, "ssh", 3, 2, true, "");
  AddModule(&files, "ntp", 1, 1, true, "");
  AddModule(&files, "web", 6, 6, true, absl::StrCat("# edition ", options.web_edition, "\n"));
  AddModule(&files, "db", 6, 4, true, "");
  AddModule(&files, "cache", 3, 3, true, "");
  std::string& base = files["modules/base/module.yaml"];
  absl::StrAppend(&base, "  - file: /etc/motd\n    template: motd.mustache\n    mode: \"0644\"\n");
  files["modules/base/templates/motd.mustache"] =
      options.per_node_template ? "Welcome to {{node.name}} ({{labels.role}})\n"
                                : "Welcome to a {{labels.role}} node\n";
  return files;
}

std::vector<NodeInputs> GenerateNodes(int count) {
  static const char* const kRoles[] = {"web", "db", "cache", "worker"};
  static const char* const kDcs[] = {"a", "b", "c", "d", "e"};
  std::vector<NodeInputs> nodes;
  nodes.reserve(count);
  for (int i = 0; i < count; ++i) {
    NodeInputs n;
    n.name = absl::StrFormat("node-%05d", i);
    n.labels = {{"role", kRoles[i % 4]}, {"dc", kDcs[(i / 4) % 5]}};
    n.facts = {{"os.id", "debian"}, {"os.version", "12"}, {"arch", "x86_64"}};
    nodes.push_back(std::move(n));
  }
  return nodes;
}

std::map<std::string, std::string> GenerateFilesRepo(int count) {
  std::map<std::string, std::string> files;
  files["plumb.yaml"] =
      "version: 1\ntargets:\n  - name: everyone\n    nodes: \"*\"\n    modules: [files]\n";
  std::string yaml = "resources:\n  - directory: /srv/bench\n    mode: \"0755\"\n";
  for (int i = 0; i < count; ++i) {
    std::string name = absl::StrFormat("f%05d.txt", i);
    absl::StrAppend(&yaml, "  - file: /srv/bench/", name, "\n    source: ", name,
                    "\n    mode: \"0644\"\n");
    // ~200 bytes, distinct per file.
    files[absl::StrCat("modules/files/files/", name)] = absl::StrFormat(
        "file %05d managed by the apply benchmark\n%s\n%s\n", i, std::string(76, 'a' + i % 26),
        std::string(76, 'A' + i % 26));
  }
  files["modules/files/module.yaml"] = yaml;
  return files;
}

}  // namespace bench
}  // namespace plumb
