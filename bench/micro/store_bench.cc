// Store micro-benchmark: reports stored per second with SQLite's synchronous=FULL (what
// plumb-server uses: an acknowledged report survives power loss) against NORMAL (survives
// only a process crash). Wall-clock time: the cost is fsync, not CPU. The database lives in
// $TMPDIR (or /tmp): run it on the disk the server's state_dir is on to measure that disk.

#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "bench/micro/bench_reports.h"
#include "benchmark/benchmark.h"
#include "server/store/sqlite/sqlite_store.h"
#include "server/store/store.h"

namespace plumb {
namespace bench {
namespace {

// A store in a fresh directory under $TMPDIR (or /tmp), removed afterwards. On failure it
// marks the benchmark skipped and get() is null.
class BenchStore {
 public:
  BenchStore(benchmark::State& state, SqliteStore::Durability durability) {
    const char* tmp = getenv("TMPDIR");
    dir_ = absl::StrFormat("%s/plumb-store-bench-XXXXXX", tmp != nullptr ? tmp : "/tmp");
    if (mkdtemp(dir_.data()) == nullptr) {
      state.SkipWithError("mkdtemp failed");
      dir_.clear();
      return;
    }
    auto store = SqliteStore::Open(dir_ + "/plumb.db", durability);
    if (!store.ok()) {
      state.SkipWithError(std::string(store.status().message()).c_str());
      return;
    }
    store_ = std::move(*store);
  }
  ~BenchStore() {
    store_.reset();
    if (dir_.empty()) return;
    for (const char* suffix : {"", "-wal", "-shm"}) unlink((dir_ + "/plumb.db" + suffix).c_str());
    rmdir(dir_.c_str());
  }
  SqliteStore* get() { return store_.get(); }

 private:
  std::string dir_;
  std::unique_ptr<SqliteStore> store_;
};

// Arg: 1 = synchronous=FULL (kPowerLoss), 0 = NORMAL (kProcessCrash).
void BM_PutReport(benchmark::State& state) {
  BenchStore store(state, state.range(0) == 1 ? SqliteStore::Durability::kPowerLoss
                                              : SqliteStore::Durability::kProcessCrash);
  if (store.get() == nullptr) return;
  int64_t n = 0;
  for (auto _ : state) {
    state.PauseTiming();
    v1::Report report = MakeReport(n++, 40);
    state.ResumeTiming();
    auto stored = store.get()->PutReport(report);
    if (!stored.ok()) {
      state.SkipWithError(std::string(stored.status().message()).c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PutReport)
    ->ArgName("full")
    ->Arg(0)
    ->Arg(1)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// Stores `reports` in one PutReports (timed); false after marking the benchmark failed.
bool StoreBatch(benchmark::State& state, Store* store, const std::vector<v1::Report>& reports) {
  std::vector<const v1::Report*> pointers;
  for (const v1::Report& r : reports) pointers.push_back(&r);
  auto stored = store->PutReports(pointers);
  if (!stored.ok()) {
    state.SkipWithError(std::string(stored.status().message()).c_str());
    return false;
  }
  return true;
}

// Group commit: the hub's report intake stores the reports waiting in its queue in one
// transaction (Store::PutReports). Reports of 40 results, `batch` per transaction, FULL.
void BM_PutReportsBatched(benchmark::State& state) {
  BenchStore store(state, SqliteStore::Durability::kPowerLoss);
  if (store.get() == nullptr) return;
  int64_t n = 0;
  const int batch = static_cast<int>(state.range(0));
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<v1::Report> reports;
    for (int i = 0; i < batch; ++i) reports.push_back(MakeReport(n++, 40));
    state.ResumeTiming();
    if (!StoreBatch(state, store.get(), reports)) break;
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_PutReportsBatched)
    ->ArgName("batch")
    ->Arg(1)
    ->Arg(10)
    ->Arg(100)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// The connect burst of `FLEET_RAMP=0 bench/fleet.sh 10000`: every agent's first report marks
// all 36 resources of its catalog changed (36 resource events per report), ids shaped like
// loadgen's (node, run, random), 100 reports per transaction, FULL. 100 iterations store the
// burst's 10,000 reports into one growing database, as the server does.
void BM_PutFirstReports(benchmark::State& state) {
  BenchStore store(state, SqliteStore::Durability::kPowerLoss);
  if (store.get() == nullptr) return;
  const int batch = static_cast<int>(state.range(0));
  int64_t n = 0;
  uint64_t random = 0x9e3779b97f4a7c15ULL;
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<v1::Report> reports;
    for (int i = 0; i < batch; ++i) {
      v1::Report report = MakeReport(n, 36);
      random = random * 6364136223846793005ULL + 1442695040888963407ULL;
      report.set_node(absl::StrFormat("node-%05d", (n * 7919) % 10000));
      report.set_id(absl::StrFormat("%s-1-%016x", report.node(), random));
      for (v1::ResourceResult& r : *report.mutable_results()) {
        r.set_outcome(v1::CHANGED);
        r.set_message("updated by the load generator");
      }
      reports.push_back(std::move(report));
      ++n;
    }
    state.ResumeTiming();
    if (!StoreBatch(state, store.get(), reports)) break;
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_PutFirstReports)
    ->ArgName("batch")
    ->Arg(100)
    ->Iterations(100)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace bench
}  // namespace plumb
