#!/usr/bin/env bash
# Fleet load test: a real plumb-server on 127.0.0.1 with a generated desired-state repository,
# N simulated agents (bench/loadgen, one gRPC connection each by default), a one-line commit
# and FleetService.Sync; prints how fast the commit reached every agent and what the server
# spent per agent (RSS, CPU).
#
#   bench/fleet.sh [N]            N agents (default 1000)
#
# Environment:
#   PLUMB_BUILD_DIR       build directory with bin/{plumb-server,plumbctl,loadgen}
#                         (default build/; configured and built here if a binary is missing)
#   FLEET_CHANNELS        gRPC connections to spread the agents over (default N)
#   FLEET_RAMP            agents started per second (default 2000; 0: all at once)
#   FLEET_APPLY_DELAY     simulated apply time before each report (default 100ms)
#   FLEET_DURATION        cap on the loadgen run (default 170s; the script adds ~10 s)
#   FLEET_PER_NODE=1      the motd template reads node.name: one catalog per node, no sharing
#   FLEET_TLS=1           mutual TLS: the server's built-in CA (plumb-server ca init), every
#                         simulated agent its own connection and certificate minted from it
#   FLEET_CONSOLE=1       (with FLEET_TLS=1) the web console on; with every agent connected,
#                         time five loads of its fleet page and of a status-filtered page
#   FLEET_PERF=1          record the server with perf during the run and print the top symbols
#   FLEET_PERF_ARGS       perf record options (default "-F 499 -g"; "-F 199 --call-graph dwarf"
#                         gives whole stacks through Debian's libraries, at a cost)
#   FLEET_KEEP=1          keep the temp dir (server log, database, perf.data)
#   FLEET_REPLICAS=2      two plumb-server replicas on one throwaway PostgreSQL
#                         (tests/testing/pg_cluster.sh, durable settings); the agents' connections
#                         alternate between them; prints each replica's peak RSS and what
#                         PostgreSQL wrote (transactions, rows by table) per stored report.
#                         Plaintext only (the identity store is per replica for now).
set -euo pipefail
cd "$(dirname "$0")/.."
SRC="$(pwd)"
N="${1:-1000}"
BUILD="${PLUMB_BUILD_DIR:-$SRC/build}"
BIN="$BUILD/bin"
CHANNELS="${FLEET_CHANNELS:-$N}"
RAMP="${FLEET_RAMP:-2000}"
APPLY_DELAY="${FLEET_APPLY_DELAY:-100ms}"
DURATION="${FLEET_DURATION:-170s}"

if [ ! -x "$BIN/plumb-server" ] || [ ! -x "$BIN/plumbctl" ] || [ ! -x "$BIN/loadgen" ]; then
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$BUILD" --target plumb-server plumbctl loadgen
fi

# Each agent is one connection: the server needs one fd per agent, and so does loadgen.
want_fds=$((N + 4096))
if [ "$(ulimit -n)" -lt "$want_fds" ]; then
  ulimit -n "$want_fds" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
fi
echo "open-file limit: $(ulimit -n)"

REPLICAS="${FLEET_REPLICAS:-1}"
if [ "$REPLICAS" -gt 1 ] && [ "${FLEET_TLS:-0}" = 1 ]; then
  echo "FLEET_REPLICAS: plaintext only for now" >&2
  exit 2
fi

WS="$(mktemp -d /tmp/plumb-fleet.XXXXXX)"
SERVER_PID=""
SERVER2_PID=""
PG_DIR=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  if [ -n "$SERVER2_PID" ]; then kill "$SERVER2_PID" 2>/dev/null || true; wait "$SERVER2_PID" 2>/dev/null || true; fi
  if [ -n "$PG_DIR" ]; then "$SRC/tests/testing/pg_cluster.sh" stop "$PG_DIR" || true; fi
  if [ "${FLEET_KEEP:-0}" = 1 ]; then echo "kept $WS"; else rm -rf "$WS"; fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# ---- the desired-state repository: modules base, ssh, ntp, web, db, cache ----
# add_module NAME STATIC_FILES TEMPLATED_FILES SERVICE(0|1)
add_module() {
  local name=$1 statics=$2 templated=$3 service=$4 dir="/etc/$1" m="$WORK/modules/$1" i f
  mkdir -p "$m/files" "$m/templates"
  {
    printf 'vars:\n  %s_port: 8%03d\n  %s_workers: 2\nresources:\n' "$name" "${#name}" "$name"
    printf '  - directory: %s\n    mode: "0755"\n' "$dir"
    if [ "$service" = 1 ]; then
      printf '  - package: %s-server\n  - service: %s\n    ensure: running\n' "$name" "$name"
      printf '    enabled: true\n    require: [package:%s-server]\n' "$name"
    fi
    for i in $(seq 0 $((statics - 1))); do
      f="$(printf 'static-%02d.conf' "$i")"
      printf '  - file: %s/%s\n    source: %s\n    mode: "0644"\n    require: [directory:%s]\n' \
        "$dir" "$f" "$f" "$dir"
      printf '# %s static file %s\noption_a = %s\noption_b = "%0120d"\n' "$name" "$i" "$i" 0 \
        >"$m/files/$f"
    done
    for i in $(seq 0 $((templated - 1))); do
      f="$(printf 'site-%02d.conf' "$i")"
      printf '  - file: %s/%s\n    template: %s.mustache\n    mode: "0640"\n' "$dir" "$f" "$f"
      printf '    require: [directory:%s]\n' "$dir"
      if [ "$service" = 1 ]; then printf '    notify: [service:%s]\n' "$name"; fi
      printf '# %s %s for role {{labels.role}} in dc {{labels.dc}}\nlisten {{vars.%s_port}};\n' \
        "$name" "$i" "$name" >"$m/templates/$f.mustache"
      printf 'workers {{vars.%s_workers}};\nntp {{vars.ntp_server}};\nos {{facts.os.id}}\n' \
        "$name" >>"$m/templates/$f.mustache"
    done
  } >"$m/module.yaml"
}

WORK="$WS/work"
git init -q --bare -b main "$WS/repo.git"
git clone -q "$WS/repo.git" "$WORK" 2>/dev/null
cat >"$WORK/plumb.yaml" <<'YAML'
version: 1
vars:
  ntp_server: pool.ntp.org
  admin: ops@example.org
targets:
  - name: everyone
    nodes: "*"
    modules: [base, ssh, ntp]
  - name: web
    labels: {role: web}
    modules: [web]
    vars: {web_workers: 8}
  - name: db
    labels: {role: db}
    modules: [db]
  - name: cache
    labels: {role: cache}
    modules: [cache]
  - name: dc-a
    labels: {dc: a}
    modules: [ntp]
    vars: {ntp_server: ntp-a.example.org}
YAML
add_module base 8 4 0
add_module ssh 3 2 1
add_module ntp 1 1 1
add_module web 6 6 1
add_module db 6 4 1
add_module cache 3 3 1
printf '  - file: /etc/motd\n    template: motd.mustache\n    mode: "0644"\n' >>"$WORK/modules/base/module.yaml"
if [ "${FLEET_PER_NODE:-0}" = 1 ]; then
  echo 'Welcome to {{node.name}} ({{labels.role}})' >"$WORK/modules/base/templates/motd.mustache"
else
  echo 'Welcome to a {{labels.role}} node' >"$WORK/modules/base/templates/motd.mustache"
fi
"$BIN/plumbctl" validate "$WORK" >/dev/null
git_c() { git -C "$WORK" -c user.name=bench -c user.email=bench@localhost "$@"; }
git_c add -A
git_c commit -q -m "Generated fleet repository"
git_c push -q origin HEAD:main

# The one-line commit loadgen runs once every agent is connected and has reported.
cat >"$WS/commit.sh" <<SH
#!/usr/bin/env bash
set -e
if [ -n "\${CONSOLE_URL:-}" ]; then
  for page in / "/?status=converged"; do
    for _ in 1 2 3 4 5; do
      curl -sf -o /dev/null -w "console \$page: %{time_starttransfer} s to first byte, %{time_total} s total, %{size_download} bytes\n" \
        --cacert "$WS/server/ca/ca.pem" --cert "$WS/server/operators/bench.pem" \
        --key "$WS/server/operators/bench.key" "\$CONSOLE_URL\$page"
    done
  done >"$WS/console.txt" 2>&1 || echo "console: a request failed" >>"$WS/console.txt"
fi
sed -i 's/^option_a = .*/option_a = changed-\$(date +%s%N)/' "$WORK/modules/base/files/static-00.conf"
git -C "$WORK" -c user.name=bench -c user.email=bench@localhost commit -q -am "One-line change"
git -C "$WORK" push -q origin HEAD:main
SH

# ---- the server ----
PORT="$(free_port)"
HTTP_PORT="$(free_port)"
CTL=("$BIN/plumbctl" --server "127.0.0.1:$PORT")
SECURITY=(--insecure)
LOADGEN_TLS=()
if [ "${FLEET_TLS:-0}" = 1 ]; then
  "$BIN/plumb-server" ca init --state_dir "$WS/server" >/dev/null
  "$BIN/plumb-server" ca issue-operator bench --state_dir "$WS/server" >/dev/null
  SECURITY=()
  CTL+=(--ca "$WS/server/ca/ca.pem" --cert "$WS/server/operators/bench.pem"
        --key "$WS/server/operators/bench.key")
  LOADGEN_TLS=(--tls-ca-dir "$WS/server/ca")
else
  CTL+=(--insecure)
fi
CONSOLE=()
if [ "${FLEET_CONSOLE:-0}" = 1 ] && [ "${FLEET_TLS:-0}" = 1 ]; then
  CONSOLE_PORT="$(free_port)"
  CONSOLE=(--console_listen "127.0.0.1:$CONSOLE_PORT")
  export CONSOLE_URL="https://127.0.0.1:$CONSOLE_PORT"
fi
STORE=()
if [ "$REPLICAS" -gt 1 ]; then
  PG_DIR="$(PLUMB_PG_DURABLE=1 "$SRC/tests/testing/pg_cluster.sh" start $$ | tail -1)"
  psql -h "$PG_DIR" -U plumb -d postgres -qAtc "CREATE DATABASE plumb"
  # pg_stat_statements (in Debian's postgresql-15) counts each statement's calls and rows.
  psql -h "$PG_DIR" -U plumb -d postgres -qAtc \
    "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'"
  "$SRC/tests/testing/pg_cluster.sh" pause "$PG_DIR"
  "$SRC/tests/testing/pg_cluster.sh" resume "$PG_DIR"
  psql -h "$PG_DIR" -U plumb -d plumb -qAtc "CREATE EXTENSION pg_stat_statements"
  STORE=(--store.url "postgresql://plumb@/plumb?host=$PG_DIR")
fi
"$BIN/plumb-server" "${SECURITY[@]}" "${CONSOLE[@]}" "${STORE[@]}" --listen "127.0.0.1:$PORT" --http_listen "127.0.0.1:$HTTP_PORT" \
  --repo.url "$WS/repo.git" --repo.poll 1h --state_dir "$WS/server" --log_level warn \
  >"$WS/server.log" 2>&1 &
SERVER_PID=$!
SERVERS="127.0.0.1:$PORT"
serving() {
  "${CTL[@]}" -o json revisions 2>/dev/null | grep -q '"serving": *true'
}
for _ in $(seq 1 100); do
  if serving; then break; fi
  sleep 0.1
done
serving || { echo "the server serves no revision; its log:" >&2; cat "$WS/server.log" >&2; exit 1; }
pg() { psql -h "$PG_DIR" -U plumb -d plumb -qAtF ' ' -c "$1"; }
# PostgreSQL's write counters: transactions committed, rows inserted/updated/deleted.
pg_writes() {
  pg "SELECT xact_commit, tup_inserted, tup_updated, tup_deleted FROM pg_stat_database
      WHERE datname = 'plumb'"
}
if [ "$REPLICAS" -gt 1 ]; then
  # The second replica (a follower: the first holds the leadership), started once the first
  # serves, so that the loadgen's Sync goes to the leader.
  PORT2="$(free_port)"
  "$BIN/plumb-server" --insecure "${STORE[@]}" --listen "127.0.0.1:$PORT2" \
    --http_listen "127.0.0.1:$(free_port)" --repo.url "$WS/repo.git" --repo.poll 1h \
    --state_dir "$WS/server-2" --log_level warn >"$WS/server-2.log" 2>&1 &
  SERVER2_PID=$!
  for _ in $(seq 1 100); do
    if "$BIN/plumbctl" --insecure --server "127.0.0.1:$PORT2" revisions >/dev/null 2>&1; then break; fi
    sleep 0.1
  done
  SERVERS="127.0.0.1:$PORT,127.0.0.1:$PORT2"
  pg "SELECT pg_stat_reset(), pg_stat_statements_reset()" >/dev/null
  PG_BEFORE="$(pg_writes)"
fi

PERF_PID=""
if [ "${FLEET_PERF:-0}" = 1 ]; then
  # shellcheck disable=SC2086
  perf record -q ${FLEET_PERF_ARGS:--F 499 -g} -p "$SERVER_PID" -o "$WS/perf.data" >/dev/null 2>&1 &
  PERF_PID=$!
fi

echo "fleet: $N agents, $CHANNELS connections, server pid $SERVER_PID on 127.0.0.1:$PORT," \
  "per-node templates: ${FLEET_PER_NODE:-0}, mutual TLS: ${FLEET_TLS:-0}"
rc=0
timeout --kill-after=5 $(( ${DURATION%s} + 10 )) "$BIN/loadgen" --agents "$N" \
  --server "$SERVERS" --channels "$CHANNELS" --ramp "$RAMP" \
  --apply-delay "$APPLY_DELAY" --duration "$DURATION" --server-pid "$SERVER_PID" \
  --labels 'role=web|db|cache|worker,dc=a|b|c|d|e' --commit-cmd "bash $WS/commit.sh" \
  "${LOADGEN_TLS[@]}" || rc=$?

if [ -n "$PERF_PID" ]; then
  kill -INT "$PERF_PID" 2>/dev/null || true
  wait "$PERF_PID" 2>/dev/null || true
  echo
  echo "server profile (perf, self time, top symbols):"
  perf report -i "$WS/perf.data" --no-children --sort dso,symbol --stdio 2>/dev/null \
    | grep -E '^ +[0-9]' | head -25
fi
if [ -f "$WS/console.txt" ]; then echo; cat "$WS/console.txt"; fi
if [ "$REPLICAS" -gt 1 ]; then
  echo
  for pid in "$SERVER_PID" "$SERVER2_PID"; do
    echo "replica pid $pid: peak RSS $(awk '/VmHWM/ {printf "%.0f MiB", $2 / 1024}' "/proc/$pid/status")"
  done
  reports="$(pg "SELECT count(*) FROM reports")"
  read -r x0 i0 u0 d0 <<<"$PG_BEFORE"
  read -r x1 i1 u1 d1 <<<"$(pg_writes)"
  echo "PostgreSQL during the run: $reports reports stored; $((x1 - x0)) transactions," \
    "$((i1 - i0)) rows inserted, $((u1 - u0)) updated, $((d1 - d0)) deleted"
  awk -v r="$reports" -v x=$((x1 - x0)) -v i=$((i1 - i0)) -v u=$((u1 - u0)) -v d=$((d1 - d0)) \
    'BEGIN { if (r > 0) printf "per stored report: %.2f transactions, %.2f rows inserted, %.2f updated, %.2f deleted\n", x / r, i / r, u / r, d / r }'
  echo "write statements (pg_stat_statements): calls, rows, statement"
  pg "SELECT calls, rows, left(regexp_replace(query, '\s+', ' ', 'g'), 90) FROM pg_stat_statements
      WHERE query ~* '^\s*(insert|update|delete|lock)' ORDER BY calls DESC LIMIT 15" | sed 's/^/  /'
  pg "SELECT sum(calls), sum(rows) FROM pg_stat_statements
      WHERE query ~* '^\s*(insert|update|delete)'" | awk -v r="$reports" \
    '{ if (r > 0) printf "per stored report: %.2f write statements, %.2f rows written\n", $1 / r, $2 / r }'
  echo "rows written by table (inserted/updated/deleted):"
  pg "SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables
      WHERE n_tup_ins + n_tup_upd + n_tup_del > 0 ORDER BY relname" | sed 's/^/  /'
fi
echo
echo "server log: $(grep -c 'level=warn' "$WS/server.log" || true) warnings," \
  "$(grep -c 'level=error' "$WS/server.log" || true) errors"
if [ "$REPLICAS" -gt 1 ]; then
  echo "replica 2 log: $(grep -c 'level=warn' "$WS/server-2.log" || true) warnings," \
    "$(grep -c 'level=error' "$WS/server-2.log" || true) errors"
fi
grep -m3 'level=error' "$WS/server.log" || true
exit "$rc"
