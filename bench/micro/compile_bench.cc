// Compiler micro-benchmarks: parsing the generated repository, compiling a fleet's catalogs
// one by one and with GroupKey sharing, and the server's work for a one-module change.

#include <set>

#include "absl/strings/str_cat.h"
#include "bench/micro/bench_repo.h"
#include "benchmark/benchmark.h"
#include "common/compiler/compiler.h"

namespace plumb {
namespace bench {
namespace {

std::shared_ptr<const DesiredState> ParseOrDie(const BenchRepoOptions& options,
                                               const std::string& revision,
                                               benchmark::State& state) {
  MemoryTree tree(GenerateRepo(options));
  auto parsed = DesiredState::Parse(tree, revision);
  if (!parsed->ok()) state.SkipWithError(parsed->errors()[0].ToString().c_str());
  return parsed;
}

// Compiles once per distinct GroupKey, as the server does; returns how many compiles ran.
// With `held`, the results are kept there (replacing what it held), as the server's
// CatalogBuilder keeps its groups: renders are reused only while their contents are held.
int CompileGrouped(const DesiredState& desired, const std::vector<NodeInputs>& nodes,
                   benchmark::State& state, std::vector<NodeCompileResult>* held = nullptr) {
  std::set<std::string> groups;
  std::vector<NodeCompileResult> results;
  for (const NodeInputs& node : nodes) {
    if (!groups.insert(desired.GroupKey(node)).second) continue;
    NodeCompileResult result = desired.CompileNode(node);
    if (!result.ok()) state.SkipWithError(result.errors[0].ToString().c_str());
    benchmark::DoNotOptimize(result.catalog);
    if (held != nullptr) results.push_back(std::move(result));
  }
  if (held != nullptr) *held = std::move(results);
  return static_cast<int>(groups.size());
}

void BM_ParseRepository(benchmark::State& state) {
  MemoryTree tree(GenerateRepo({}));
  for (auto _ : state) {
    auto parsed = DesiredState::Parse(tree, "rev");
    benchmark::DoNotOptimize(parsed);
  }
}
BENCHMARK(BM_ParseRepository)->Unit(benchmark::kMicrosecond);

// Every node compiled on its own, no sharing. Args: nodes.
void BM_CompileEveryNode(benchmark::State& state) {
  auto desired = ParseOrDie({}, "rev", state);
  std::vector<NodeInputs> nodes = GenerateNodes(static_cast<int>(state.range(0)));
  int64_t resources = 0;
  for (auto _ : state) {
    state.PauseTiming();
    desired = ParseOrDie({}, "rev", state);  // no renders reused from the last iteration
    state.ResumeTiming();
    for (const NodeInputs& node : nodes) {
      NodeCompileResult result = desired->CompileNode(node);
      resources += result.catalog->resources_size();
    }
  }
  state.counters["resources/node"] =
      static_cast<double>(resources) / (state.iterations() * nodes.size());
  state.SetItemsProcessed(state.iterations() * nodes.size());
}
BENCHMARK(BM_CompileEveryNode)->Arg(1000)->Unit(benchmark::kMillisecond);

// GroupKey for every node, one compile per group. Args: nodes, per-node template (0/1).
void BM_CompileGrouped(benchmark::State& state) {
  BenchRepoOptions options;
  options.per_node_template = state.range(1) != 0;
  auto desired = ParseOrDie(options, "rev", state);
  std::vector<NodeInputs> nodes = GenerateNodes(static_cast<int>(state.range(0)));
  int groups = 0;
  for (auto _ : state) {
    // A fresh parse each time: the compile must not reuse the last iteration's renders.
    state.PauseTiming();
    desired = ParseOrDie(options, "rev", state);
    state.ResumeTiming();
    groups = CompileGrouped(*desired, nodes, state);
  }
  state.counters["groups"] = groups;
  state.SetItemsProcessed(state.iterations() * nodes.size());
}
BENCHMARK(BM_CompileGrouped)
    ->Args({1000, 0})
    ->Args({1000, 1})
    ->Args({10000, 0})
    ->Args({10000, 1})
    ->Unit(benchmark::kMillisecond);

// GroupKey alone, per node: the cost every Hello and every new revision pays per agent.
void BM_GroupKey(benchmark::State& state) {
  auto desired = ParseOrDie({}, "rev", state);
  std::vector<NodeInputs> nodes = GenerateNodes(1000);
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(desired->GroupKey(nodes[i++ % nodes.size()]));
  }
}
BENCHMARK(BM_GroupKey);

// The revision before the measured ones, compiled for every node (what the server had served).
// Not inlined, so that callgrind can leave it out: --toggle-collect='*BM_OneModuleChange*'
// --toggle-collect='*WarmUp*' counts the measured iterations only.
__attribute__((noinline)) std::shared_ptr<const DesiredState> WarmUp(
    const BenchRepoOptions& options, const std::vector<NodeInputs>& nodes,
    benchmark::State& state, std::vector<NodeCompileResult>* held) {
  auto desired = ParseOrDie(options, "rev0", state);
  CompileGrouped(*desired, nodes, state, held);
  return desired;
}

// A one-module change reaching a fleet: parse the new revision, then GroupKey for every node
// and one compile per group. Args: nodes, per-node template (0/1), incremental (0/1: parse
// with the previous revision, whose catalogs were compiled, as the server does).
void BM_OneModuleChange(benchmark::State& state) {
  BenchRepoOptions options;
  options.per_node_template = state.range(1) != 0;
  bool incremental = state.range(2) != 0;
  std::vector<NodeInputs> nodes = GenerateNodes(static_cast<int>(state.range(0)));
  std::shared_ptr<const DesiredState> previous;
  std::vector<NodeCompileResult> held;  // the served revision's results
  if (incremental) previous = WarmUp(options, nodes, state, &held);
  int edition = 0;
  CompileStats stats;
  for (auto _ : state) {
    options.web_edition = ++edition;
    state.PauseTiming();
    MemoryTree tree(GenerateRepo(options));
    state.ResumeTiming();
    auto desired = DesiredState::Parse(tree, absl::StrCat("rev", edition), previous.get());
    CompileGrouped(*desired, nodes, state, &held);
    stats = desired->stats();
    if (incremental) previous = desired;
  }
  state.counters["rendered"] = static_cast<double>(stats.templates_rendered);
  state.counters["reused"] = static_cast<double>(stats.templates_reused);
  state.SetItemsProcessed(state.iterations() * nodes.size());
}
BENCHMARK(BM_OneModuleChange)
    ->Args({10000, 0, 0})
    ->Args({10000, 1, 0})
    ->Args({10000, 1, 1})
    ->Args({2000, 1, 0})
    ->Args({2000, 1, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace bench
}  // namespace plumb
