#!/usr/bin/env bash
# Follows docs/getting-started.md ("On real hosts") with the packages built by
# `cmake --build BUILD --target package`, as a person on a fresh Debian 12 host would: installs
# plumb-server and plumbctl, creates the desired-state repository with the git CLI, configures
# /etc/plumb/server.yaml, `ca init` as the plumb user, starts the server from its installed unit,
# issues an operator certificate and a join token, runs deploy/install-agent.sh, waits until
# the node converges, pushes a second commit and sees it applied. Also the ways
# install-agent.sh must fail: bad usage (exit 2) and a wrong token (exit 1, nothing enrolled,
# configured or started). Purges everything at the end, on failure too.
#
# What differs from the doc, so that the machine is left as it was found:
#  - the repository, the checkout, $HOME and the managed file live in a temp dir (the doc's
#    /srv/plumb.git, ~/plumb-repo and /etc/plumb-demo); the server listens on free ports on
#    127.0.0.1 only;
#  - there is no running systemd here: `systemctl` is fake_systemctl.sh, which starts a unit's
#    ExecStart= as its User= and records the PID; install-agent.sh runs in a private mount
#    namespace with a tmpfs on /run holding /run/systemd/system, so it takes its systemd path
#    without changing the host's /run.
# Needs root. Usage: getting_started_test.sh BUILD_DIR
set -uo pipefail
BUILD="$(realpath "${1:?usage: getting_started_test.sh BUILD_DIR}")"
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
TIMEOUT="${PLUMB_GETTING_STARTED_TIMEOUT:-60}"  # seconds for each wait
failures=0
passed=0
check() {  # check "description" command...
  local what="$1"; shift
  if "$@" >/dev/null 2>&1; then passed=$((passed + 1)); else echo "FAIL: $what"; failures=$((failures + 1)); fi
}
wait_until() {  # wait_until command...: polls for up to $TIMEOUT seconds
  local deadline=$((SECONDS + TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}
free_port() {
  local p
  for _ in $(seq 1 50); do
    p="$(shuf -i 20000-60000 -n 1)"
    if [ -z "$(ss -Htan "( sport = :$p )")" ]; then echo "$p"; return 0; fi
  done
  return 1
}

[ "$(id -u)" -eq 0 ] || { echo "getting_started_test.sh: needs root"; exit 1; }
server_deb="$(ls "$BUILD"/plumb-server_*.deb 2>/dev/null | head -1)"
ctl_deb="$(ls "$BUILD"/plumbctl_*.deb 2>/dev/null | head -1)"
agent_deb="$(ls "$BUILD"/plumb-agent_*.deb 2>/dev/null | head -1)"
for d in "$server_deb" "$ctl_deb" "$agent_deb"; do
  [ -f "$d" ] || { echo "FAIL: missing packages in $BUILD (build the package target)"; exit 1; }
done

WORK="$(mktemp -d /tmp/plumb-getting-started.XXXXXX)"
chmod 0755 "$WORK"  # the plumb user reads the repository in here
REPO="$WORK/plumb.git"
MANAGED="$WORK/managed"
export HOME="$WORK/home" FAKE_SYSTEMD_DIR="$WORK/systemd"
mkdir -p "$HOME" "$WORK/bin" && chmod 0700 "$HOME"
install -m 0755 "$SRC/tests/packaging/fake_systemctl.sh" "$WORK/bin/systemctl"
export PATH="$WORK/bin:$PATH"
# apt runs maintainer scripts with its own PATH (DPkg::Path); they get the fake systemctl too,
# also under install-agent.sh's apt-get, so nothing is enabled on the host for real.
printf 'DPkg::Path "%s";\n' "$PATH" >"$WORK/apt.conf"
export APT_CONFIG="$WORK/apt.conf"
host_had_run_systemd=0
[ -e /run/systemd/system ] && host_had_run_systemd=1

cleanup() {
  for unit in plumb-agent.service plumb-server.service; do
    systemctl stop "$unit" >/dev/null 2>&1
    # The fake's stop kills by PID; this is the fallback if that failed.
    if [ -f "$FAKE_SYSTEMD_DIR/$unit.pid" ]; then kill -KILL "$(cat "$FAKE_SYSTEMD_DIR/$unit.pid")" 2>/dev/null; fi
  done
  dpkg -P plumb-agent plumb-server plumbctl >/dev/null 2>&1 || true
  cd / && rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
cleanup_before() { dpkg -P plumb-agent plumb-server plumbctl >/dev/null 2>&1 || true; }
cleanup_before
cd "$HOME" || exit 1

show_logs() {  # on a failure, what the daemons said
  for f in "$FAKE_SYSTEMD_DIR"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -20 "$f"; }; done
}

# Step 2: install the server and plumbctl.
apt-get install -y -qq "$server_deb" "$ctl_deb" >"$WORK/apt.out" 2>&1; rc=$?
check "apt-get install plumb-server and plumbctl" test "$rc" -eq 0
check "installing prints no warnings" sh -c "! grep -i warning $WORK/apt.out"
check "plumb user created" getent passwd plumb

# Step 3: the desired-state repository, readable by the plumb user.
check "git init --bare" git init -q --bare -b main "$REPO"
git config --global user.name "Plumb Test"
git config --global user.email test@localhost
check "git clone" git clone -q "$REPO" "$HOME/plumb-repo"
cd "$HOME/plumb-repo" || exit 1
mkdir -p modules/hello
cat >plumb.yaml <<'EOF'
version: 1
targets:
  - name: web
    labels: {role: web}
    modules: [hello]
EOF
cat >modules/hello/module.yaml <<EOF
resources:
  - directory: $MANAGED
    mode: "0755"
  - file: $MANAGED/hello.txt
    content: "Hello from Plumb\n"
    mode: "0644"
    require: [directory:$MANAGED]
EOF
check "plumbctl validate the checkout" plumbctl validate . --node web-01 --label role=web
check "first commit pushed" sh -c 'git add -A && git commit -q -m "Hello from Plumb" && git push -q origin HEAD:main'
first_rev="$(git rev-parse --short=12 HEAD)"

# Step 4: configure and start the server.
PORT="$(free_port)" HTTP_PORT="$(free_port)"
conf=/etc/plumb/server.yaml
sed -i -e "s|^listen:.*|listen: 127.0.0.1:$PORT|" \
  -e "s|^http_listen:.*|http_listen: 127.0.0.1:$HTTP_PORT|" \
  -e "s|^  url:.*|  url: file://$REPO|" \
  -e "s|^# tls:.*|tls:|" -e "s|^#   san:.*|  san: [localhost, 127.0.0.1]|" "$conf"
check "server.yaml edited" sh -c "grep -q '^listen: 127.0.0.1:$PORT' $conf && grep -q '^  san: \[localhost, 127.0.0.1\]' $conf && grep -q '^  url: file://$REPO' $conf"
check "ca init as the plumb user" runuser -u plumb -- plumb-server ca init --config "$conf"
check "CA key belongs to plumb, mode 0600" \
  test "$(stat -c '%a %U' /var/lib/plumb-server/ca/ca.key)" = "600 plumb"
check "systemctl start plumb-server" systemctl start plumb-server
server_pid="$(cat "$FAKE_SYSTEMD_DIR/plumb-server.service.pid" 2>/dev/null)"
check "plumb-server is active" systemctl is-active plumb-server
check "plumb-server runs as plumb" test "$(ps -o user= -p "${server_pid:-0}")" = plumb

# Step 5: an operator certificate for plumbctl.
check "ca issue-operator alice" \
  runuser -u plumb -- plumb-server ca issue-operator alice --config "$conf"
mkdir -p "$HOME/.config/plumb"
cat >"$HOME/.config/plumb/plumbctl.yaml" <<EOF
server: 127.0.0.1:$PORT
ca: /var/lib/plumb-server/ca/ca.pem
cert: /var/lib/plumb-server/operators/alice.pem
key: /var/lib/plumb-server/operators/alice.key
EOF
revision_served() { plumbctl revisions | grep -qE "^$first_rev +serving"; }
check "plumbctl revisions: the first commit is serving" wait_until revision_served

# Step 6: a join token and the CA fingerprint, then install-agent.sh on the "agent host".
token="$(plumbctl token create --ttl 1h --uses 1 --label role=web --node-glob 'web-*' 2>/dev/null)"
fingerprint="$(runuser -u plumb -- plumb-server ca fingerprint --config "$conf" 2>/dev/null)"
check "token created" test -n "$token"
check "CA fingerprint printed" test -n "$fingerprint"
as_on_systemd_host() {  # runs a command where /run/systemd/system exists, host's /run untouched
  unshare -m --propagation private bash -c \
    'mount -t tmpfs -o mode=0755 tmpfs /run && mkdir -p /run/systemd/system && exec "$@"' _ "$@"
}
install_agent() { as_on_systemd_host bash "$SRC/deploy/install-agent.sh" "$@"; }

out="$WORK/install-agent.out"
install_agent >"$out" 2>&1; rc=$?
check "install-agent.sh without arguments: usage, exit 2" sh -c "[ $rc -eq 2 ] && grep -q -- '--token TOKEN' $out"
install_agent --deb "$agent_deb" --server "127.0.0.1:$PORT" >"$out" 2>&1; rc=$?
check "install-agent.sh without --token: usage, exit 2" sh -c "[ $rc -eq 2 ] && grep -q -- '--token TOKEN' $out"
install_agent --deb "$agent_deb" --server "127.0.0.1:$PORT" --token >"$out" 2>&1; rc=$?
check "install-agent.sh --token without a value: exit 2" sh -c "[ $rc -eq 2 ] && grep -q -- '--token needs a value' $out"

install_agent --deb "$agent_deb" --server "127.0.0.1:$PORT" --token wrong-token \
  --ca-fingerprint "$fingerprint" --node web-01 >"$out" 2>&1; rc=$?
check "wrong token: exit 1" test "$rc" -eq 1
check "wrong token: the server's refusal is shown" grep -q "plumb-agent: enroll refused: .*token" "$out"
check "wrong token: install-agent.sh says what state it left" \
  grep -q "install-agent.sh: enrollment with 127.0.0.1:$PORT failed.*not enrolled" "$out"
check "wrong token: no certificate written" \
  sh -c '! ls /var/lib/plumb/tls/agent.pem /var/lib/plumb/tls/ca.pem'
check "wrong token: agent.yaml untouched" grep -q "^server: plumb.example.org:7443" /etc/plumb/agent.yaml
check "the agent package enabled its unit" grep -qx "systemctl enable plumb-agent.service" "$FAKE_SYSTEMD_DIR/calls.log"
check "wrong token: agent not started" sh -c '! systemctl is-active plumb-agent && ! grep -q "restart plumb-agent" "$FAKE_SYSTEMD_DIR/calls.log"'

wrong_fingerprint="$(printf '%064d' 0)"
install_agent --deb "$agent_deb" --server "127.0.0.1:$PORT" --token "$token" \
  --ca-fingerprint "$wrong_fingerprint" --node web-01 >"$out" 2>&1; rc=$?
check "wrong fingerprint: exit 1, says the server cannot be verified" sh -c \
  "[ $rc -eq 1 ] && grep -q 'enroll failed: cannot verify the server at 127.0.0.1:$PORT' $out"
check "wrong fingerprint: nothing enrolled" \
  sh -c '! ls /var/lib/plumb/tls/agent.pem && grep -q "^server: plumb.example.org:7443" /etc/plumb/agent.yaml'
[ "$failures" -eq 0 ] || { cat "$out"; show_logs; }

install_agent --deb "$agent_deb" --server "127.0.0.1:$PORT" --token "$token" \
  --ca-fingerprint "$fingerprint" --node web-01 >"$out" 2>&1; rc=$?
check "install-agent.sh enrolls and starts the agent" \
  sh -c "[ $rc -eq 0 ] && grep -q 'plumb-agent enrolled and started' $out"
check "agent.yaml points at the server" grep -q "^server: 127.0.0.1:$PORT$" /etc/plumb/agent.yaml
check "agent.yaml names the node" grep -q "^node: web-01$" /etc/plumb/agent.yaml
check "plumb-agent enabled and active" sh -c 'systemctl is-enabled plumb-agent && systemctl is-active plumb-agent'
[ "$rc" -eq 0 ] || cat "$out"

# Step 7: converged, and the file from git is there.
converged_at() {  # converged_at REV: web-01 converged at that revision
  plumbctl nodes | grep -E "^web-01 +converged +$1"
}
content_is() { [ "$(cat "$MANAGED/hello.txt" 2>/dev/null)" = "$1" ]; }
check "plumbctl nodes: web-01 converged at the first commit" wait_until converged_at "$first_rev"
check "the managed file has the content from git" content_is "Hello from Plumb"
check "web-01 has exactly the labels its token bound" \
  sh -c "plumbctl -o json node web-01 | python3 -c 'import json,sys; sys.exit(json.load(sys.stdin)[\"labels\"] != {\"role\": \"web\"})'"

# Step 8: a second commit, fetched at once with plumbctl sync.
sed -i 's/Hello from Plumb/Hello again/' modules/hello/module.yaml
check "second commit pushed" sh -c 'git commit -q -am "Say hello again" && git push -q origin HEAD:main'
second_rev="$(git rev-parse --short=12 HEAD)"
check "plumbctl sync" plumbctl sync
check "the second commit is applied" wait_until content_is "Hello again"
check "plumbctl nodes: web-01 converged at the second commit" wait_until converged_at "$second_rev"
[ "$failures" -eq 0 ] || { plumbctl nodes; show_logs; }

# The end: stopping and purging leaves nothing behind.
agent_pid="$(cat "$FAKE_SYSTEMD_DIR/plumb-agent.service.pid" 2>/dev/null)"
systemctl stop plumb-agent plumb-server
check "daemons stopped" sh -c "! kill -0 ${agent_pid:-0} && ! kill -0 ${server_pid:-0}"
check "dpkg -P purges all three" dpkg -P plumb-agent plumb-server plumbctl
check "plumb user gone" sh -c '! getent passwd plumb'
check "/etc/plumb gone" test ! -e /etc/plumb
check "state directories gone" sh -c 'test ! -e /var/lib/plumb && test ! -e /var/lib/plumb-server'
check "no unit enabled on the host" sh -c '! ls /etc/systemd/system/*.wants | grep -q plumb'
check "host /run/systemd/system unchanged" test "$([ -e /run/systemd/system ] && echo 1 || echo 0)" = "$host_had_run_systemd"

echo "getting-started checks: $passed ok, $failures failing"
[ "$failures" -eq 0 ]
