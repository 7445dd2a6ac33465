#!/usr/bin/env bash
# Regenerates agent/hot_code.ld, the code sections the plumb-agent daemon executes, from
# callgrind profiles of the daemon in bench/agent_rss.sh's scenario (idle, then a run of N
# files), over plaintext and over mutual TLS. Then rebuild plumb-agent. Needs valgrind (apt-get install valgrind; not a build
# dependency) and a build of the static agent (its link map, build/plumb-agent.map).
#
#   bench/agent_code_order.sh [N]    N files (default 300: the same code as 5,000, faster)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${PLUMB_BUILD_DIR:-$(pwd)/build}"
N="${1:-300}"
command -v valgrind >/dev/null || { echo "needs valgrind" >&2; exit 1; }
OUT="$(mktemp -d /tmp/plumb-code-order.XXXXXX)"
# Profiled without the current layout: valgrind reads no symbols outside .text.
relink() {
  cmake -S . -B "$BUILD" -DPLUMB_AGENT_HOT_CODE="$1" >/dev/null
  nice -n 19 cmake --build "$BUILD" --target plumb-agent >/dev/null
}
trap 'rm -rf "$OUT"; relink ON' EXIT
relink OFF
# Plaintext (what bench/agent_rss.sh measures) and mutual TLS (what production runs).
for tls in 0 1; do
  # Dumped while the daemon runs: what only its exit runs (destructors, OpenSSL's cleanup) is
  # not part of what stays resident, and is left out.
  AGENT_TLS=$tls AGENT_WRAP="valgrind --tool=callgrind --demangle=no --callgrind-out-file=$OUT/daemon.$tls.cg" \
    AT_END='callgrind_control -d "$AGENT_PID" >/dev/null && sleep 2' \
    SETTLE="${SETTLE:-10}" PLUMB_BUILD_DIR="$BUILD" bench/agent_rss.sh "$N"
done
ls -la "$OUT"
python3 bench/agent_code_order.py --binary "$BUILD/bin/plumb-agent" --map "$BUILD/plumb-agent.map" \
  --out agent/hot_code.ld "$OUT"/daemon.0.cg.1 "$OUT"/daemon.1.cg.1
