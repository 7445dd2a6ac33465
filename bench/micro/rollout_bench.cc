// Rollout controller micro-benchmark (issue 14): one 3-wave rollout (percent 1, 25, 100, no
// bake) over N nodes, driven the way the stream hub drives it (Decide, OnServed, OnReport per
// node, Tick after each report round), on a real SQLite store with synchronous=FULL in $TMPDIR
// (or /tmp). Reports the wall time of OnServed+OnReport per node (what the hub's thread waits
// for), the slowest single call, and the rows and bytes the controller handed the store.

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "benchmark/benchmark.h"
#include "bench/micro/rollout_bench_store.h"
#include "common/clock.h"
#include "server/rollout/rollout_controller.h"
#include "server/store/sqlite/sqlite_store.h"

namespace plumb {
namespace bench {
namespace {

v1::RolloutPolicy ThreeWaves() {
  v1::RolloutPolicy p;
  for (uint32_t percent : {1u, 25u, 100u}) p.add_waves()->set_percent(percent);
  p.set_max_failed_count(0);
  p.set_on_failure(v1::RolloutPolicy::ON_FAILURE_HALT);
  return p;
}

v1::Report RunOf(const std::string& rev) {
  v1::Report r;
  r.set_revision(rev);
  v1::ResourceResult* res = r.add_results();
  res->set_id("file:/etc/motd");
  res->set_outcome(v1::CHANGED);
  return r;
}

// Arg: number of nodes.
void BM_RolloutReports(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  std::vector<RolloutNode> fleet;
  for (int i = 0; i < n; ++i) fleet.push_back({absl::StrFormat("node-%05d", i), {}});
  v1::RolloutPolicy policy = ThreeWaves();
  SystemClock clock;
  double report_seconds = 0, max_call_us = 0, flush_seconds = 0;
  int64_t reports = 0, rows = 0, bytes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const char* tmp = getenv("TMPDIR");
    std::string dir = absl::StrFormat("%s/plumb-rollout-bench-XXXXXX", tmp ? tmp : "/tmp");
    if (mkdtemp(dir.data()) == nullptr) {
      state.SkipWithError("mkdtemp failed");
      return;
    }
    auto sqlite = SqliteStore::Open(dir + "/plumb.db", SqliteStore::Durability::kPowerLoss);
    if (!sqlite.ok()) {
      state.SkipWithError(std::string(sqlite.status().message()).c_str());
      return;
    }
    CountingRolloutStore store(sqlite->get());
    std::set<std::string> done;
    {
      RolloutController rollout(&store, &clock);
      state.ResumeTiming();
      rollout.OnNewRevision("B", "A", &policy);
      while (rollout.Status({}).phase() == v1::ROLLOUT_PROGRESSING) {
        for (const RolloutNode& node : fleet) {
          if (done.count(node.name) > 0 || rollout.Decide(node).revision != "B") continue;
          absl::Time start = absl::Now();
          rollout.OnServed(node, "B");
          rollout.OnReport(node, RunOf("B"));
          absl::Duration took = absl::Now() - start;
          report_seconds += absl::ToDoubleSeconds(took);
          max_call_us = std::max(max_call_us, absl::ToDoubleMicroseconds(took));
          ++reports;
          done.insert(node.name);
        }
        rollout.Tick(fleet);
      }
      absl::Time flush_start = absl::Now();
      FlushRollout(rollout);
      flush_seconds += absl::ToDoubleSeconds(absl::Now() - flush_start);
      state.PauseTiming();
    }
    rows += store.rows();
    bytes += store.bytes();
    sqlite->reset();
    for (const char* suffix : {"", "-wal", "-shm"}) unlink((dir + "/plumb.db" + suffix).c_str());
    rmdir(dir.c_str());
    state.ResumeTiming();
  }
  double iterations = static_cast<double>(state.iterations());
  state.counters["us_per_report"] = reports > 0 ? report_seconds * 1e6 / reports : 0;
  state.counters["max_call_us"] = max_call_us;
  state.counters["flush_ms"] = flush_seconds * 1e3 / iterations;
  state.counters["rows"] = static_cast<double>(rows) / iterations;
  state.counters["MB_written"] = static_cast<double>(bytes) / iterations / 1e6;
}
BENCHMARK(BM_RolloutReports)
    ->ArgName("nodes")
    ->Arg(1000)
    ->Arg(10000)
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace bench
}  // namespace plumb
