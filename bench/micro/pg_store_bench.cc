// PostgreSQL store micro-benchmark: reports stored per second through PgStore, one report per
// transaction and in group-commit batches, reports of 40 results (one changed), as
// store_bench.cc measures SQLite. Needs a database: PLUMB_BENCH_PG_URL=postgresql://...
// (skipped without it). bench/pg_store.sh starts a throwaway cluster (durable: fsync on) and
// runs it. Each run empties the tables first.

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "bench/micro/bench_reports.h"
#include "benchmark/benchmark.h"
#include "server/store/postgres/pg_conn.h"
#include "server/store/postgres/pg_store.h"

namespace plumb {
namespace bench {
namespace {

// Opens PgStore on $PLUMB_BENCH_PG_URL with empty tables, or skips the benchmark.
std::unique_ptr<PgStore> OpenBenchStore(benchmark::State& state) {
  const char* url = getenv("PLUMB_BENCH_PG_URL");
  if (url == nullptr || *url == '\0') {
    state.SkipWithError("PLUMB_BENCH_PG_URL is not set (bench/pg_store.sh sets it)");
    return nullptr;
  }
  auto store = PgStore::Open(url);
  auto admin = PgConn::Connect(url, "");
  absl::Status status = !store.ok() ? store.status() : admin.status();
  if (status.ok()) status = (*admin)->ExecScript("TRUNCATE reports, resource_events");
  if (!status.ok()) {
    state.SkipWithError(std::string(status.message()).c_str());
    return nullptr;
  }
  return std::move(*store);
}

void BM_PgPutReportsBatched(benchmark::State& state) {
  std::unique_ptr<PgStore> store = OpenBenchStore(state);
  if (store == nullptr) return;
  int64_t n = 0;
  const int batch = static_cast<int>(state.range(0));
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<v1::Report> reports;
    for (int i = 0; i < batch; ++i) reports.push_back(MakeReport(n++, 40));
    std::vector<const v1::Report*> pointers;
    for (const v1::Report& r : reports) pointers.push_back(&r);
    state.ResumeTiming();
    auto stored = store->PutReports(pointers);
    if (!stored.ok()) {
      state.SkipWithError(std::string(stored.status().message()).c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_PgPutReportsBatched)
    ->ArgName("batch")
    ->Arg(1)
    ->Arg(10)
    ->Arg(100)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace bench
}  // namespace plumb
