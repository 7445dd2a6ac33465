#!/bin/sh
# A throwaway PostgreSQL cluster for tests (C++ tests/testing/pg_cluster.h and tests/e2e).
#
#   pg_cluster.sh start OWNER_PID       makes a directory DIR under $TMPDIR and prints it; starts a
#                                       cluster with its data in DIR/data, listening only on a unix
#                                       socket in DIR (port 5432), superuser "plumb", trust
#                                       authentication. A watchdog stops it and removes DIR when
#                                       OWNER_PID exits (a crashed or killed test leaks nothing).
#   pg_cluster.sh stop DIR              stops the cluster (immediate) and removes DIR.
#   pg_cluster.sh pause DIR             stops the server, keeping its data (an outage);
#   pg_cluster.sh resume DIR            starts it again.
#
# Run as root (CI), the cluster runs as `nobody` (PostgreSQL refuses to run as root). initdb runs
# once per machine and user: its output is kept as a template under $TMPDIR and copied (~50 ms),
# so a test process pays ~0.3 s for its cluster instead of ~1.5 s.
# PLUMB_PG_DURABLE=1 keeps PostgreSQL's durability settings (fsync on; benchmarks).
set -eu

PGBIN=${PLUMB_PG_BIN:-}
if [ -z "$PGBIN" ]; then
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && PGBIN=$d; done
fi
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
  echo "pg_cluster.sh: no PostgreSQL server found (apt-get install postgresql-15)" >&2
  exit 2
fi

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi
}

stop() {
  dir=$1
  if [ -f "$dir/data/postmaster.pid" ]; then
    (cd / && as_owner "$PGBIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1) || true
  fi
  rm -rf "$dir"
}

template() {
  version=$("$PGBIN/pg_ctl" --version | awk '{print $3}')
  # Bump the -vN when the template's setup below changes, so cached ones are rebuilt.
  tmpl=${TMPDIR:-/tmp}/plumb-pg-template-$version-v3-$(id -u)
  # flock: parallel test processes build the template once.
  exec 9>"$tmpl.lock"
  flock 9
  if [ ! -f "$tmpl/ready" ]; then
    rm -rf "$tmpl"
    mkdir -p "$tmpl"
    [ "$(id -u)" -eq 0 ] && chown nobody "$tmpl"
    (cd / && as_owner "$PGBIN/initdb" -D "$tmpl/data" -A trust -U plumb -E UTF8 --locale=C \
      --wal-segsize=1 --no-sync >"$tmpl.log" 2>&1) || { cat "$tmpl.log" >&2; exit 1; }
    # Role plumb_pw (made by tests that check passwords) must authenticate; everyone else is
    # trusted. First match wins in pg_hba.conf.
    hba=$tmpl/data/pg_hba.conf
    { echo "local all plumb_pw scram-sha-256"; cat "$hba"; } >"$hba.new"
    cat "$hba.new" >"$hba" && rm -f "$hba.new"
    touch "$tmpl/ready"
  fi
  exec 9>&-
  echo "$tmpl/data"
}

run_server() {
  dir=$1
  # Durability is pointless for a throwaway test cluster; these make it fast.
  fast="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  [ "${PLUMB_PG_DURABLE:-0}" = 1 ] && fast=""
  (cd / && as_owner "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 30 \
    -o "-k $dir -c listen_addresses= $fast -c max_connections=60" \
    start >/dev/null) || { cat "$dir/log" >&2; exit 1; }
}

start() {
  owner=$1
  data=$(template)
  # Not under the test's own (0700) temp dir: the cluster's user must reach the socket directory.
  dir=$(mktemp -d "${TMPDIR:-/tmp}/plumb-pg.XXXXXX")
  [ "$(id -u)" -eq 0 ] && chown nobody "$dir"
  chmod 0755 "$dir"
  cp -a "$data" "$dir/data"
  run_server "$dir"
  script=$0
  setsid sh -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; "$2" stop "$3"' \
    watchdog "$owner" "$script" "$dir" </dev/null >/dev/null 2>&1 &
  echo "$dir"
}

pause() {
  (cd / && as_owner "$PGBIN/pg_ctl" -D "$1/data" -m fast -w stop >/dev/null)
}

case "${1:-}" in
  start) start "$2" ;;
  stop) stop "$2" ;;
  pause) pause "$2" ;;
  resume) run_server "$2" ;;
  *) echo "usage: pg_cluster.sh start OWNER_PID | stop DIR | pause DIR | resume DIR" >&2; exit 2 ;;
esac
