#!/usr/bin/env bash
# Runs every Plumb test: installs what is missing (Debian 12, apt-get), builds, then runs the
# unit tests (GoogleTest) and end-to-end tests (real server and agents on 127.0.0.1) via CTest.
# Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

bash deploy/install-deps.sh --with-tests

BUILD_DIR="${PLUMB_BUILD_DIR:-build}"
JOBS="${PLUMB_JOBS:-$(nproc)}"
start=$(date +%s)
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPLUMB_BUILD_TESTS=ON >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS"
echo "build took $(( $(date +%s) - start ))s"

status=0
(cd "$BUILD_DIR" && ctest --output-on-failure -j "$JOBS" --timeout 600) || status=1

# Fuzzing: the YAML-to-catalog path under libFuzzer with ASan/UBSan (clang), bounded in time.
if [ "${PLUMB_SKIP_FUZZ:-}" != 1 ]; then
  FUZZ_DIR="${PLUMB_FUZZ_BUILD_DIR:-build-fuzz}"
  CC=clang CXX=clang++ cmake -S . -B "$FUZZ_DIR" -G Ninja -DPLUMB_FUZZ=ON -DPLUMB_BUILD_TESTS=OFF \
    -DPLUMB_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$FUZZ_DIR" -j "$JOBS" --target compile_fuzzer
  work=$(mktemp -d)
  if timeout 120 "$FUZZ_DIR/bin/compile_fuzzer" -max_total_time="${PLUMB_FUZZ_SECONDS:-30}" \
      -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "$work" tests/fuzz/corpus \
      >"$work.log" 2>&1; then
    echo "fuzz: compile_fuzzer ran clean: $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work.log")"
  else
    echo "fuzz: compile_fuzzer FAILED:"; tail -40 "$work.log"; status=1
  fi
  rm -rf "$work" "$work.log"
fi

# Packaging: build the .deb files and install, remove and purge them on this machine (root only);
# then docs/getting-started.md step by step with them (server, install-agent.sh, a converged
# agent, a second commit), bounded in time, everything purged afterwards.
if [ "$(id -u)" -eq 0 ] && [ "${PLUMB_SKIP_PACKAGE_TEST:-}" != 1 ]; then
  cmake --build "$BUILD_DIR" --target package >/dev/null
  bash tests/packaging/deb_install_test.sh "$BUILD_DIR" || status=1
  timeout 600 bash tests/packaging/getting_started_test.sh "$BUILD_DIR" || status=1
fi
exit $status
