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

# Fuzzing under libFuzzer with ASan/UBSan (clang), each target bounded in time
# (PLUMB_FUZZ_SECONDS, default 30): the YAML-to-catalog path (compile_fuzzer) and the server's
# half of the Sync protocol fed AgentMessage sequences (agent_stream_fuzzer). New inputs go to a
# temp dir; the seed corpora in tests/fuzz/ are only read; a failing input is left in the
# current directory (crash-*, leak-*, timeout-*, oom-*), named in the log.
if [ "${PLUMB_SKIP_FUZZ:-}" != 1 ]; then
  FUZZ_DIR="${PLUMB_FUZZ_BUILD_DIR:-build-fuzz}"
  FUZZ_SECONDS="${PLUMB_FUZZ_SECONDS:-30}"
  CC=clang CXX=clang++ cmake -S . -B "$FUZZ_DIR" -G Ninja -DPLUMB_FUZZ=ON -DPLUMB_BUILD_TESTS=OFF \
    -DPLUMB_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$FUZZ_DIR" -j "$JOBS" --target compile_fuzzer agent_stream_fuzzer
  for target in compile_fuzzer:tests/fuzz/corpus agent_stream_fuzzer:tests/fuzz/agent_stream_corpus; do
    fuzzer="${target%%:*}"
    extra=()
    # Each of its inputs reaches thousands of coverage features, which makes libFuzzer's
    # entropic schedule cost more than it finds: without it, ~3x the executions and more
    # coverage in the same time.
    if [ "$fuzzer" = agent_stream_fuzzer ]; then extra=(-entropic=0); fi
    work=$(mktemp -d)
    if timeout $((FUZZ_SECONDS + 90)) "$FUZZ_DIR/bin/$fuzzer" -max_total_time="$FUZZ_SECONDS" \
        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "${extra[@]}" "$work" \
        "${target#*:}" >"$work.log" 2>&1; then
      units=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work.log" | grep -o '[0-9]*$')
      echo "fuzz: $fuzzer ran clean: $units units in ${FUZZ_SECONDS}s"
    else
      echo "fuzz: $fuzzer FAILED:"; grep -v '^#[0-9]' "$work.log" | tail -40; status=1
    fi
    rm -rf "$work" "$work.log"
  done
fi

# Packaging: build the .deb files and install, remove and purge them on this machine (root only);
# then docs/getting-started.md step by step with them (server, install-agent.sh, a converged
# agent, a second commit), bounded in time, everything purged afterwards.
if [ "$(id -u)" -eq 0 ] && [ "${PLUMB_SKIP_PACKAGE_TEST:-}" != 1 ]; then
  cmake --build "$BUILD_DIR" --target package >/dev/null
  bash tests/packaging/deb_install_test.sh "$BUILD_DIR" || status=1
  timeout 600 bash tests/packaging/getting_started_test.sh "$BUILD_DIR" || status=1
fi

# The host suite: three Debian 12 machines booted with systemd as PID 1 (systemd-nspawn) on a
# private test network, the agent .deb installed with install-agent.sh, nginx and friends
# managed through commits, reboots and a powered-off machine (tests/hosts/hosts_test.sh).
# Root only. Its root file system is built once (2-4 min, Debian's mirror) and cached in
# /var/cache/plumb-hosts; a run with the cache takes about 2-3 minutes. Exit 77 is a skip
# (no root, namespaces or nspawn here), printed with the reason.
if [ "$(id -u)" -eq 0 ] && [ "${PLUMB_SKIP_HOSTS_TEST:-}" != 1 ]; then
  hosts_rc=0
  cmake --build "$BUILD_DIR" --target package >/dev/null
  timeout 900 bash tests/hosts/hosts_test.sh "$BUILD_DIR" || hosts_rc=$?
  if [ "$hosts_rc" -ne 0 ] && [ "$hosts_rc" -ne 77 ]; then status=1; fi
fi
exit $status
