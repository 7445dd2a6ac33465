#!/usr/bin/env bash
# Resident memory of the plumb-agent daemon: a real plumb-server on 127.0.0.1 (plaintext)
# serving a generated repository of N files (~200 bytes each, like bench/apply.sh), and one
# daemon applying it under a temp root. Prints the daemon's VmRSS / RssAnon / RssFile / threads
# (from /proc) when it holds the 1-file catalog (idle), then after it applied and holds the
# N-file catalog, each read SETTLE seconds after the run finished.
#
#   bench/agent_rss.sh [N]    N files (default 5000)
#
# Environment:
#   PLUMB_BUILD_DIR   build directory with bin/{plumb-server,plumb-agent,plumbctl} (default build/)
#   SETTLE            seconds to wait after a run before reading /proc (default 3)
#   AGENT_WRAP        command to run the agent under, e.g. "heaptrack -o /tmp/agent" (the
#                     figures are then the wrapper's process, not the agent's)
#   AGENT_TLS=1       mutual TLS as in production (the server's built-in CA, a join token and
#                     `plumb-agent enroll`) instead of plaintext --insecure
#   AT_END            a command run (with AGENT_PID set) after the last reading, before the
#                     agent is stopped
#   RSS_MAP=1         also print bench/rss_map.py's breakdown (per mapping, the executable's
#                     resident pages per section and per input object) at each reading
set -euo pipefail
cd "$(dirname "$0")/.."
SRC="$(pwd)"
N="${1:-5000}"
BUILD="${PLUMB_BUILD_DIR:-$SRC/build}"
BIN="$BUILD/bin"
SETTLE="${SETTLE:-3}"
if [ ! -x "$BIN/plumb-server" ] || [ ! -x "$BIN/plumb-agent" ] || [ ! -x "$BIN/plumbctl" ]; then
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$BUILD" --target plumb-server plumb-agent plumbctl
fi

WS="$(mktemp -d /tmp/plumb-agent-rss.XXXXXX)"
SERVER_PID=""
AGENT_PID=""
# The agent runs in a process group of its own (setsid), so that a wrapper and the agent it
# started stop together.
cleanup() {
  if [ -n "$AGENT_PID" ]; then
    kill -- "-$AGENT_PID" 2>/dev/null || true
    wait "$AGENT_PID" 2>/dev/null || true
  fi
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WS"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# module.yaml with `count` files under /srv/bench
write_module() {
  python3 - "$1" "$2" <<'PY'
import json, sys
path, n = sys.argv[1], int(sys.argv[2])
def content(i):
    a, b = chr(ord('a') + i % 26) * 76, chr(ord('A') + i % 26) * 76
    return "file %05d managed by the apply benchmark\n%s\n%s\n" % (i, a, b)
with open(path, "w") as f:
    f.write('resources:\n  - directory: /srv/bench\n    mode: "0755"\n')
    for i in range(n):
        f.write('  - file: /srv/bench/f%05d.txt\n    content: %s\n    mode: "0644"\n'
                % (i, json.dumps(content(i))))
PY
}

WORK="$WS/work"
git init -q --bare -b main "$WS/repo.git"
git clone -q "$WS/repo.git" "$WORK" 2>/dev/null
mkdir -p "$WORK/modules/files"
printf 'version: 1\ntargets:\n  - name: everyone\n    nodes: "*"\n    modules: [files]\n' \
  >"$WORK/plumb.yaml"
write_module "$WORK/modules/files/module.yaml" 1
git_c() { git -C "$WORK" -c user.name=bench -c user.email=bench@localhost "$@"; }
git_c add -A && git_c commit -q -m "one file" && git_c push -q origin HEAD:main

PORT="$(free_port)"
HTTP_PORT="$(free_port)"
SECURITY=(--insecure)
CTL_SECURITY=(--insecure)
if [ "${AGENT_TLS:-0}" = 1 ]; then
  "$BIN/plumb-server" ca init --state_dir "$WS/server" >/dev/null
  "$BIN/plumb-server" ca issue-operator ops --state_dir "$WS/server" >/dev/null
  SECURITY=()
  CTL_SECURITY=(--ca "$WS/server/ca/ca.pem" --cert "$WS/server/operators/ops.pem"
                --key "$WS/server/operators/ops.key")
fi
"$BIN/plumb-server" "${SECURITY[@]}" --listen "127.0.0.1:$PORT" --http_listen "127.0.0.1:$HTTP_PORT" \
  --repo.url "$WS/repo.git" --repo.poll 1h --state_dir "$WS/server" --log_level warn \
  >"$WS/server.log" 2>&1 &
SERVER_PID=$!
ctl() { PLUMBCTL_CONFIG="$WS/no-plumbctl.yaml" "$BIN/plumbctl" "${CTL_SECURITY[@]}" \
  --server "127.0.0.1:$PORT" "$@"; }
for _ in $(seq 1 100); do
  ctl -o json revisions 2>/dev/null | grep -q '"serving": *true' && break
  sleep 0.1
done

if [ "${AGENT_TLS:-0}" = 1 ]; then
  "$BIN/plumb-agent" enroll --server "127.0.0.1:$PORT" --node bench --state_dir "$WS/agent" \
    --token "$(ctl token create 2>/dev/null)" \
    --ca-fingerprint "$("$BIN/plumb-server" ca fingerprint --state_dir "$WS/server")" >/dev/null
fi
# shellcheck disable=SC2086
setsid ${AGENT_WRAP:-} "$BIN/plumb-agent" "${SECURITY[@]}" --server "127.0.0.1:$PORT" --node bench --state_dir "$WS/agent" \
  --root "$WS/root" --interval 1h --splay 0s --log_level info >"$WS/agent.log" 2>&1 &
AGENT_PID=$!

# wait_for_files COUNT RUNS: until the root holds COUNT managed files and the agent has logged
# RUNS finished runs (files appear at the commit, before the run's report is made).
runs_finished() { grep -c 'msg="run finished"' "$WS/agent.log" || true; }
wait_for_files() {
  for _ in $(seq 1 1200); do
    have=$( (ls "$WS/root/srv/bench" 2>/dev/null || true) | grep -c '^f.*\.txt$' || true)
    [ "$have" -ge "$1" ] && [ "$(runs_finished)" -ge "$2" ] && return 0
    sleep 0.1
  done
  echo "the agent did not converge to $1 files; its log:" >&2
  tail -20 "$WS/agent.log" >&2
  exit 1
}
rss() {
  awk -v label="$1" '/^VmRSS|^RssAnon|^RssFile|^Threads/ { v[$1] = $2 }
    END { printf "%-34s VmRSS %6.1f MB  RssAnon %5.1f MB  RssFile %5.1f MB  threads %s\n",
          label, v["VmRSS:"] / 1024, v["RssAnon:"] / 1024, v["RssFile:"] / 1024, v["Threads:"] }' \
    "/proc/$AGENT_PID/status"
  if [ "${RSS_MAP:-0}" = 1 ]; then
    map_args=()
    [ -f "$BUILD/plumb-agent.map" ] && map_args=(--map "$BUILD/plumb-agent.map")
    python3 "$SRC/bench/rss_map.py" "$AGENT_PID" "${map_args[@]}" | sed 's/^/    /'
  fi
}

wait_for_files 1 1
sleep "$SETTLE"
rss "idle, 1-resource catalog"

write_module "$WORK/modules/files/module.yaml" "$N"
git_c add -A && git_c commit -q -m "$N files" && git_c push -q origin HEAD:main
runs_before="$(runs_finished)"
ctl sync >/dev/null
wait_for_files "$N" $((runs_before + 1))
sleep "$SETTLE"
rss "holding the $N-file catalog"
if [ -n "${AT_END:-}" ]; then AGENT_PID="$AGENT_PID" bash -c "$AT_END"; fi
echo "peak: $(awk '/^VmHWM/ { printf "%.1f MB", $2 / 1024 }' "/proc/$AGENT_PID/status")"
