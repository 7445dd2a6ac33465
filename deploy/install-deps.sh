#!/usr/bin/env bash
# Installs the Debian 12 packages Plumb builds and tests with. Idempotent: does nothing when
# everything is already there. Run as root (or with sudo available).
set -euo pipefail

BUILD_PACKAGES=(
  build-essential cmake ninja-build pkg-config ccache git
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  libgit2-dev libsqlite3-dev libpq-dev libyaml-dev libssl-dev grpc-proto
  libgtest-dev libgmock-dev libbenchmark-dev
)
# postgresql-15: the PostgreSQL store tests; chromium, chromium-driver, python3-selenium: the
# console's browser suite; debootstrap, systemd-container (systemd-nspawn), dpkg-dev, iproute2:
# the host suite (tests/hosts/).
TEST_PACKAGES=(python3 python3-grpcio python3-grpc-tools sqlite3 clang libclang-rt-14-dev prometheus
  postgresql-15
  chromium chromium-driver python3-selenium
  debootstrap systemd-container dpkg-dev iproute2)

want=("${BUILD_PACKAGES[@]}")
if [ "${1:-}" = "--with-tests" ]; then want+=("${TEST_PACKAGES[@]}"); fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
# promtool comes with the prometheus package, whose service we do not want running on a test host.
if printf '%s\n' "${missing[@]}" | grep -qx prometheus && [ -d /run/systemd/system ]; then
  $SUDO systemctl disable --now prometheus.service >/dev/null 2>&1 || true
fi
# Likewise the cluster Debian creates with postgresql-15: tests start their own throwaway cluster
# (tests/testing/pg_cluster.sh).
if printf '%s\n' "${missing[@]}" | grep -qx postgresql-15 && [ -d /run/systemd/system ]; then
  $SUDO systemctl disable --now postgresql.service >/dev/null 2>&1 || true
fi
