// micro_bench's main: Google Benchmark's, with Plumb's logging kept to warnings (the apply
// benchmark's first, converging run would otherwise log every file it creates).

#include "benchmark/benchmark.h"
#include "common/logging.h"

int main(int argc, char** argv) {
  plumb::SetLogLevel(plumb::LogLevel::kWarning);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
