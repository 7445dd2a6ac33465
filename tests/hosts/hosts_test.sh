#!/usr/bin/env bash
# The host suite: three Debian 12 machines with systemd as PID 1 (systemd-nspawn), each in its
# own network namespace on a private test network, and one plumb-server on that network.
# plumb-agent is installed in each from the project's .deb with deploy/install-agent.sh, as
# docs/getting-started.md says; the desired state is tests/hosts/repo (nginx with its sites from
# templates, notified by them; a drop-in for its unit; a service account owning its directory;
# a one-time exec; a pinned package). Scenarios, in order: first converge; a template change
# restarts nginx on the matching hosts only (and its changed drop-in is loaded); a commit
# changing nothing relevant restarts nothing; a pin moved while another apt run holds the dpkg
# lock; a hand-stopped service started again by the next interval; `systemctl restart
# plumb-agent`; a reboot; a machine powered off during a commit converges on return.
#
# What differs from getting-started.md: plumb-server runs from BUILD/bin in the network
# namespace of the test network's bridge (not installed on this host), and the agents' interval
# is 15s (so the hand-stopped service comes back within seconds, not 5 minutes).
#
# Root file system: tests/hosts/build_rootfs.sh (cached, see there). Needs root, debootstrap,
# systemd-container (systemd-nspawn), iproute2, overlayfs. Usage: hosts_test.sh BUILD_DIR.
# Exit 0 all passed, 1 a failure, 77 skipped (the reason is printed).
set -uo pipefail
BUILD="$(realpath "${1:?usage: hosts_test.sh BUILD_DIR}")"
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
TIMEOUT="${PLUMB_HOSTS_TIMEOUT:-90}"  # seconds for each wait
MACHINES=(web-01 web-02 api-01)
declare -A ROLE=([web-01]=web [web-02]=web [api-01]=api)
declare -A IP=([web-01]=10.77.0.11 [web-02]=10.77.0.12 [api-01]=10.77.0.13)
failures=0
passed=0
started=$SECONDS
check() {  # check "description" command...
  local what="$1"; shift
  if "$@" >/dev/null 2>&1; then passed=$((passed + 1)); else echo "FAIL: $what"; failures=$((failures + 1)); fi
}
wait_until() {  # wait_until command...: polls for up to $TIMEOUT seconds
  local deadline=$((SECONDS + TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.3
  done
}
skip() { echo "hosts_test.sh: SKIP: $*"; exit 77; }
step() { echo "hosts_test.sh: [$((SECONDS - started))s] $*"; }

[ "$(id -u)" -eq 0 ] || skip "needs root"
for tool in systemd-nspawn debootstrap ip nsenter dpkg-scanpackages; do
  command -v "$tool" >/dev/null || skip "needs $tool (deploy/install-deps.sh --with-tests)"
done
if ! ip netns add plumbh-probe 2>/dev/null; then skip "cannot create network namespaces"; fi
ip netns del plumbh-probe
agent_deb="$(ls "$BUILD"/plumb-agent_*.deb 2>/dev/null | head -1)"
[ -f "$agent_deb" ] || { echo "FAIL: no plumb-agent .deb in $BUILD (build the package target)"; exit 1; }
for bin in plumb-server plumbctl; do
  [ -x "$BUILD/bin/$bin" ] || { echo "FAIL: no $BUILD/bin/$bin"; exit 1; }
done

# One run at a time on a host: the network namespaces and addresses are fixed.
exec 8>/run/plumb-hosts-test.lock
flock -w 900 8 || { echo "FAIL: another host suite holds /run/plumb-hosts-test.lock"; exit 1; }
WORK="$(mktemp -d /tmp/plumb-hosts.XXXXXX)"
source "$SRC/tests/hosts/machines.sh"
cleanup() {
  [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  machines_destroy
  network_down
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
network_down  # leftovers of an interrupted run

# The agent's dependencies come from its own .deb: download them into the root's apt cache.
deps="$(dpkg-deb -f "$agent_deb" Depends | tr ',' '\n' | sed 's/[|(].*//; s/ //g' | grep .)"
step "root file system (cached in ${PLUMB_HOSTS_CACHE:-/var/cache/plumb-hosts})"
# shellcheck disable=SC2086
ROOTFS="$(bash "$SRC/tests/hosts/build_rootfs.sh" $deps 2>"$WORK/rootfs.log")" ||
  { tail -30 "$WORK/rootfs.log"; echo "FAIL: build_rootfs.sh"; exit 1; }
mkdir -p "$WORK/debs" && cp "$agent_deb" "$SRC/deploy/install-agent.sh" "$WORK/debs/"

# The server, on the test network only, with its CA, an operator certificate for plumbctl and
# the desired-state repository (a bare repository and a checkout, pushed with git).
network_up
REPO="$WORK/plumb.git"
git init -q --bare -b main "$REPO"
export HOME="$WORK/home" GIT_AUTHOR_NAME=Plumb GIT_AUTHOR_EMAIL=test@localhost
export GIT_COMMITTER_NAME=Plumb GIT_COMMITTER_EMAIL=test@localhost
mkdir -p "$HOME" && git clone -q "$REPO" "$WORK/checkout" 2>/dev/null
cp -r "$SRC/tests/hosts/repo/." "$WORK/checkout/"
cd "$WORK/checkout" || exit 1
commit() {  # commit MESSAGE: commits and pushes the checkout, prints the short revision
  git add -A && git commit -q -m "$1" && git push -q origin HEAD:main && git rev-parse --short=12 HEAD
}
rev1="$(commit "The fleet: nginx, sites, a service account, a pinned tool")"
cat >"$WORK/server.yaml" <<EOF
listen: $SERVER_IP:7443
http_listen: 127.0.0.1:7480
repo:
  url: file://$REPO
  branch: main
  poll: 2s
state_dir: $WORK/server
tls:
  san: [$SERVER_IP]
EOF
ctl() { in_ns "$HUB" "$BUILD/bin/plumbctl" --config "$WORK/plumbctl.yaml" "$@"; }
"$BUILD/bin/plumb-server" ca init --config "$WORK/server.yaml" >/dev/null 2>&1
"$BUILD/bin/plumb-server" ca issue-operator hosts --config "$WORK/server.yaml" >/dev/null 2>&1
cat >"$WORK/plumbctl.yaml" <<EOF
server: $SERVER_IP:7443
ca: $WORK/server/ca/ca.pem
cert: $WORK/server/operators/hosts.pem
key: $WORK/server/operators/hosts.key
EOF
# `ip netns exec` execs the server: $! is the server's PID. fd 8 (the run lock) stays here.
ip netns exec "$HUB" "$BUILD/bin/plumb-server" --config "$WORK/server.yaml" >"$WORK/server.log" 2>&1 8>&- &
server_pid=$!
fingerprint="$("$BUILD/bin/plumb-server" ca fingerprint --config "$WORK/server.yaml" 2>/dev/null)"
serving() { ctl revisions | grep -qE "^$1 +serving"; }
check "the server serves the first commit" wait_until serving "$rev1"

step "booting ${MACHINES[*]}"
for m in "${MACHINES[@]}"; do machine_create "$m" "${IP[$m]}"; done
for m in "${MACHINES[@]}"; do
  check "$m boots with systemd as PID 1" machine_boot "$m"
  check "$m has systemd as PID 1" test "$(on "$m" cat /proc/1/comm)" = systemd
done
[ "$failures" -eq 0 ] || { tail -30 "$WORK"/machines/*/console.log; exit 1; }

# docs/getting-started.md step 6, on each machine.
step "install-agent.sh on each machine"
for m in "${MACHINES[@]}"; do
  token="$(ctl token create --ttl 1h --uses 1 --label "role=${ROLE[$m]}" --node-glob "$m" 2>/dev/null)"
  on "$m" bash /root/plumb/install-agent.sh --deb "/root/plumb/$(basename "$agent_deb")" \
    --server "$SERVER_IP:7443" --token "$token" --ca-fingerprint "$fingerprint" --node "$m" \
    >"$WORK/install-$m.log" 2>&1
  check "$m: install-agent.sh enrolls and starts the agent" grep -q "plumb-agent enrolled and started" "$WORK/install-$m.log"
  check "$m: plumb-agent enabled and active under systemd" on "$m" sh -c 'systemctl is-enabled plumb-agent && systemctl is-active plumb-agent'
  on "$m" sed -i -e 's/^interval:.*/interval: 15s/' -e 's/^splay:.*/splay: 1s/' /etc/plumb/agent.yaml
  on "$m" systemctl restart plumb-agent
done
[ "$failures" -eq 0 ] || { cat "$WORK"/install-*.log; exit 1; }

source "$SRC/tests/hosts/scenarios.sh"
run_scenarios

echo "hosts_test.sh: $passed ok, $failures failing, $((SECONDS - started))s"
if [ "$failures" -ne 0 ]; then
  ctl nodes
  tail -20 "$WORK/server.log"
  for m in "${MACHINES[@]}"; do echo "--- $m"; on "$m" journalctl -u plumb-agent --no-pager -n 30; done
fi
[ "$failures" -eq 0 ]
