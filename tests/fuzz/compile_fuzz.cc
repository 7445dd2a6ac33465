// libFuzzer target over the YAML-to-catalog path: repository text in, DesiredState::Parse,
// CompileNode and GroupKey for two nodes. Must never crash, hang or trip a sanitizer, and
// every outcome must be coherent (located errors, or a sealed catalog with all its blobs).
//
// Input format: the text before the first "@@ <path>" line is plumb.yaml; each "@@ <path>"
// line starts the file at <path> (e.g. "@@ modules/web/module.yaml").

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/compiler.h"

namespace {

// A repository held in memory: path -> content.
class MemoryTree : public plumb::RepoTree {
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
      if (!name.empty() && (names.empty() || names.back() != name)) names.push_back(name);
    }
    if (names.empty()) return absl::NotFoundError(path);
    return names;
  }

 private:
  std::map<std::string, std::string> files_;
};

std::map<std::string, std::string> SplitFiles(const std::string& input) {
  std::map<std::string, std::string> files;
  std::string* current = &files["plumb.yaml"];
  size_t pos = 0;
  while (pos < input.size()) {
    size_t end = input.find('\n', pos);
    size_t next = end == std::string::npos ? input.size() : end + 1;
    std::string line = input.substr(pos, next - pos);
    if (absl::StartsWith(line, "@@ ")) {
      std::string path = line.substr(3);
      while (!path.empty() && path.back() == '\n') path.pop_back();
      current = &files[path];
    } else {
      current->append(line);
    }
    pos = next;
  }
  return files;
}

void Check(bool condition) {
  if (!condition) __builtin_trap();
}

void CheckErrors(const std::vector<plumb::CompileError>& errors) {
  for (const plumb::CompileError& e : errors) Check(!e.message.empty() && !e.location.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  MemoryTree tree(SplitFiles(std::string(reinterpret_cast<const char*>(data), size)));
  auto state = plumb::DesiredState::Parse(tree, "fuzz");
  CheckErrors(state->errors());
  const plumb::NodeInputs nodes[] = {
      {"web-1", {{"role", "web"}}, {{"os.id", "debian"}}},
      {"db-1", {}, {}},
  };
  for (const plumb::NodeInputs& node : nodes) {
    plumb::NodeCompileResult result = state->CompileNode(node);
    Check(state->GroupKey(node).size() == 64);
    CheckErrors(result.errors);
    if (!state->ok()) Check(!result.ok());
    if (!result.ok()) continue;
    Check(result.catalog->digest().size() == 64);
    for (const plumb::v1::Resource& r : result.catalog->resources()) {
      Check(!r.content_digest().empty() == (result.blobs.count(r.content_digest()) > 0));
    }
  }
  return 0;
}
