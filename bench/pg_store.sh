#!/usr/bin/env bash
# PostgreSQL store micro-benchmark (bench/micro/pg_store_bench.cc) on a throwaway local cluster
# with PostgreSQL's default durability (fsync on, synchronous_commit on), over a unix socket;
# prints Google Benchmark's table. Compare with `micro_bench --benchmark_filter=PutReport`
# (SQLite). Needs postgresql-15 (deploy/install-deps.sh --with-tests).
#
#   bench/pg_store.sh [extra micro_bench flags]
#
# Environment: PLUMB_BUILD_DIR (default build/).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${PLUMB_BUILD_DIR:-$(pwd)/build}"
if [ ! -x "$BUILD/bin/micro_bench" ]; then
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$BUILD" --target micro_bench
fi
dir=$(PLUMB_PG_DURABLE=1 tests/testing/pg_cluster.sh start $$)
trap 'tests/testing/pg_cluster.sh stop "$dir"' EXIT
psql -h "$dir" -U plumb -d postgres -qc "CREATE DATABASE bench"
PLUMB_BENCH_PG_URL="postgresql://plumb@/bench?host=$dir" \
  "$BUILD/bin/micro_bench" --benchmark_filter=PgPutReports "$@"
