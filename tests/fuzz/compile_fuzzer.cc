// libFuzzer target over the YAML-to-catalog path: the input is split into plumb.yaml, one
// module.yaml and one template; the compiler must never crash, hang or trip a sanitizer,
// whatever the bytes. Built only with clang (-DPLUMB_FUZZ=ON); tests/run.sh runs it for a
// bounded time over tests/fuzz/corpus.

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "common/compiler/compiler.h"
#include "common/compiler/rollout_waves.h"
#include "tests/fuzz/map_tree.h"

using plumb::fuzz::MapTree;

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
    if (state->rollout() != nullptr) {
      (void)plumb::AssignWaves(*state->rollout(), {{"web-1", {{"role", "web"}}}, {"db-1", {}}});
    }
  }
  return 0;
}
