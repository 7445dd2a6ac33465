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

# Packaging: build the .deb files and install, remove and purge them on this machine (root only).
if [ "$(id -u)" -eq 0 ] && [ "${PLUMB_SKIP_PACKAGE_TEST:-}" != 1 ]; then
  cmake --build "$BUILD_DIR" --target package >/dev/null
  bash tests/packaging/deb_install_test.sh "$BUILD_DIR" || status=1
fi
exit $status
