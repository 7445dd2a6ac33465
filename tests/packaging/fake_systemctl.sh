#!/usr/bin/env bash
# A stand-in for systemctl on a machine without a running systemd (test containers), put on
# PATH as `systemctl` by getting_started_test.sh. It starts a unit the way systemd would run
# its [Service]: ExecStart= from the installed unit file, as User=/Group= (setpriv, no new
# privileges), with a clean environment, StateDirectory= created, output to a log file, and
# the main PID recorded so `stop` and `is-active` can answer.
#
#   FAKE_SYSTEMD_DIR   where PIDs, logs and the call log go (required)
#   FAKE_SYSTEMD_UNITS where unit files are read (default /usr/lib/systemd/system)
#
# Handled: start, stop, restart, enable [--now], disable [--now], is-active, is-enabled,
# daemon-reload. Anything else fails, so a script relying on more is noticed.
set -uo pipefail
state="${FAKE_SYSTEMD_DIR:?fake systemctl: FAKE_SYSTEMD_DIR is not set}"
units="${FAKE_SYSTEMD_UNITS:-/usr/lib/systemd/system}"
mkdir -p "$state"
echo "systemctl $*" >>"$state/calls.log"

unit_name() { case "$1" in *.service) echo "$1" ;; *) echo "$1.service" ;; esac; }

# The value of KEY= in the unit's [Service] section (the last one wins, as in systemd).
unit_key() {
  awk -v key="$2" '
    /^\[/ { in_service = ($0 == "[Service]") }
    in_service && index($0, key "=") == 1 { value = substr($0, length(key) + 2) }
    END { print value }' "$units/$1"
}

main_pid() {
  local pid
  pid="$(cat "$state/$1.pid" 2>/dev/null)" || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

start_unit() {
  local unit="$1" exec_start user group dir mode
  [ -f "$units/$unit" ] || { echo "Unit $unit not found." >&2; return 5; }
  main_pid "$unit" >/dev/null && return 0
  exec_start="$(unit_key "$unit" ExecStart)"
  exec_start="${exec_start#[-@+!:]}"  # systemd's prefixes: not used by Plumb's units
  user="$(unit_key "$unit" User)"
  group="$(unit_key "$unit" Group)"
  [ -n "$exec_start" ] || { echo "fake systemctl: $unit has no ExecStart=" >&2; return 1; }
  for dir in $(unit_key "$unit" StateDirectory); do
    mode="$(unit_key "$unit" StateDirectoryMode)"
    install -d -m "${mode:-0755}" -o "${user:-root}" -g "${group:-${user:-root}}" "/var/lib/$dir"
  done
  local -a run=(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
  if [ -n "$user" ]; then
    local home
    home="$(getent passwd "$user" | cut -d: -f6)"
    run+=(HOME="$home" USER="$user" LOGNAME="$user"
          setpriv --reuid="$user" --regid="${group:-$user}" --init-groups --no-new-privs --)
  fi
  # Word splitting as systemd does for a command line without quotes (Plumb's have none).
  # shellcheck disable=SC2206
  local -a argv=($exec_start)
  (cd / && exec setsid "${run[@]}" "${argv[@]}" </dev/null >>"$state/$unit.log" 2>&1) &
  echo $! >"$state/$unit.pid"
}

stop_unit() {
  local pid
  pid="$(main_pid "$1")" || { rm -f "$state/$1.pid"; return 0; }
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
  rm -f "$state/$1.pid"
}

cmd="${1:-}"
shift || true
now=0
args=()
for a in "$@"; do
  case "$a" in
    --now) now=1 ;;
    -q|--quiet|--no-reload|--no-block|--system) ;;
    -*) echo "fake systemctl: unsupported option $a" >&2; exit 1 ;;
    *) args+=("$(unit_name "$a")") ;;
  esac
done

status=0
case "$cmd" in
  daemon-reload) ;;
  enable|disable)
    for u in "${args[@]}"; do
      if [ "$cmd" = enable ]; then touch "$state/$u.enabled"; else rm -f "$state/$u.enabled"; fi
      if [ "$now" = 1 ]; then
        if [ "$cmd" = enable ]; then start_unit "$u" || status=$?; else stop_unit "$u"; fi
      fi
    done ;;
  start) for u in "${args[@]}"; do start_unit "$u" || status=$?; done ;;
  stop) for u in "${args[@]}"; do stop_unit "$u"; done ;;
  restart) for u in "${args[@]}"; do stop_unit "$u"; start_unit "$u" || status=$?; done ;;
  is-active)
    for u in "${args[@]}"; do
      if main_pid "$u" >/dev/null; then echo active; else echo inactive; status=3; fi
    done ;;
  is-enabled)
    for u in "${args[@]}"; do
      if [ -e "$state/$u.enabled" ]; then echo enabled; else echo disabled; status=1; fi
    done ;;
  *) echo "fake systemctl: unsupported command '$cmd'" >&2; status=1 ;;
esac
exit "$status"
