// Agent micro-benchmark: checking a catalog of many files that are already converged (the
// idempotent re-run every agent does on every interval), through the real ApplyEngine and
// filesystem under a temporary root.

#include <stdlib.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "agent/engine/apply_engine.h"
#include "agent/host/filesystem.h"
#include "bench/micro/bench_repo.h"
#include "benchmark/benchmark.h"
#include "common/clock.h"
#include "common/compiler/compiler.h"

namespace plumb {
namespace bench {
namespace {

// File contents straight from the compile result, as masterless apply does.
class CompiledBlobs : public BlobSource {
 public:
  explicit CompiledBlobs(const NodeCompileResult* result) : result_(result) {}
  absl::StatusOr<std::string> Get(const std::string& digest) override {
    auto it = result_->blobs.find(digest);
    if (it == result_->blobs.end()) return absl::NotFoundError(digest);
    return *it->second;
  }

 private:
  const NodeCompileResult* result_;  // owned by the benchmark body
};

int Count(const v1::Report& report, v1::ResourceOutcome outcome) {
  int n = 0;
  for (const v1::ResourceResult& r : report.results()) n += r.outcome() == outcome;
  return n;
}

// Args: files.
void BM_ApplyUnchangedFiles(benchmark::State& state) {
  const int files = static_cast<int>(state.range(0));
  MemoryTree tree(GenerateFilesRepo(files));
  auto desired = DesiredState::Parse(tree, "rev");
  NodeCompileResult compiled = desired->CompileNode({"bench", {}, {}});
  if (!compiled.ok()) {
    state.SkipWithError("the files repository does not compile");
    return;
  }
  char root_template[] = "/tmp/plumb-apply-bench-XXXXXX";
  std::string root = mkdtemp(root_template);
  CompiledBlobs blobs(&compiled);
  SystemClock clock;
  std::unique_ptr<Filesystem> fs = NewRootedFilesystem(root);
  ApplyEngine engine(fs.get(), root, &blobs, /*runner=*/nullptr, &clock);
  v1::Report first = engine.Run(*compiled.catalog, {});
  if (Count(first, v1::FAILED) > 0) state.SkipWithError("the first apply failed");
  int unchanged = 0;
  for (auto _ : state) {
    v1::Report report = engine.Run(*compiled.catalog, {});
    unchanged = Count(report, v1::UNCHANGED);
  }
  if (unchanged != files + 1) state.SkipWithError("a re-run changed something");
  state.SetItemsProcessed(state.iterations() * files);
  std::filesystem::remove_all(root);
}
BENCHMARK(BM_ApplyUnchangedFiles)->Arg(1000)->Arg(5000)->Arg(10000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace bench
}  // namespace plumb
