// libFuzzer target over the YAML-to-catalog path: the input is split into plumb.yaml, one
// module.yaml and one template; the compiler must never crash, hang or trip a sanitizer,
// whatever the bytes. Built only with clang (-DPLUMB_FUZZ=ON); tests/run.sh runs it for a
// bounded time over tests/fuzz/corpus.

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "common/compiler.h"
#include "common/repo_tree.h"

namespace {

// A repository held in memory.
class MapTree : public plumb::RepoTree {
 public:
  explicit MapTree(std::map<std::string, std::string> files) : files_(std::move(files)) {}
  absl::StatusOr<std::string> ReadFile(absl::string_view path) const override {
    auto it = files_.find(std::string(path));
    if (it == files_.end()) return absl::NotFoundError("no such file");
    return it->second;
  }
  absl::StatusOr<std::vector<std::string>> ListDir(absl::string_view path) const override {
    std::string prefix = path.empty() ? "" : std::string(path) + "/";
    std::vector<std::string> names;
    for (const auto& [name, content] : files_) {
      if (name.compare(0, prefix.size(), prefix) != 0) continue;
      std::string rest = name.substr(prefix.size());
      std::string first = rest.substr(0, rest.find('/'));
      if (names.empty() || names.back() != first) names.push_back(first);
    }
    if (names.empty()) return absl::NotFoundError("no such directory");
    return names;
  }

 private:
  std::map<std::string, std::string> files_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  // Sections are separated by a line "%%".
  std::string parts[3];
  size_t start = 0;
  for (int i = 0; i < 3; ++i) {
    size_t sep = i < 2 ? input.find("\n%%\n", start) : std::string::npos;
    parts[i] = input.substr(start, sep == std::string::npos ? std::string::npos : sep - start);
    if (sep == std::string::npos) break;
    start = sep + 4;
  }
  MapTree tree({{"plumb.yaml", parts[0]},
                {"modules/m/module.yaml", parts[1]},
                {"modules/m/templates/t.mustache", parts[2]},
                {"modules/m/files/f.txt", "static"}});
  auto state = plumb::DesiredState::Parse(tree, "fuzz");
  if (state->ok()) {
    plumb::NodeInputs node{"web-1", {{"role", "web"}}, {{"os.id", "debian"}}};
    (void)state->GroupKey(node);
    (void)state->CompileNode(node);
  }
  return 0;
}
