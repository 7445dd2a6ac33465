#!/usr/bin/env bash
# From zero to a converged agent on one machine: installs the build dependencies (Debian 12),
# builds Plumb, creates a sample desired-state repository from deploy/examples/repo, starts
# plumb-server on 127.0.0.1 (embedded SQLite) and one plumb-agent whose root is a sandbox
# folder, waits until the agent is converged and shows `plumbctl nodes`.
# Everything speaks mutual TLS, as in production: the server's built-in CA (`ca init`), an
# operator certificate for plumbctl, and the agent enrolled with a one-use join token.
#
#   deploy/quickstart.sh          set up and start (re-running restarts the daemons)
#   deploy/quickstart.sh stop     stop the daemons
set -euo pipefail
cd "$(dirname "$0")/.."
SRC="$(pwd)"
WS="${PLUMB_QUICKSTART_DIR:-$SRC/.quickstart}"
PORT="${PLUMB_QUICKSTART_PORT:-7443}"
HTTP_PORT="${PLUMB_QUICKSTART_HTTP_PORT:-7480}"
CONSOLE_PORT="${PLUMB_QUICKSTART_CONSOLE_PORT:-7444}"
BIN="$SRC/build/bin"
CTL=("$BIN/plumbctl" --config "$WS/plumbctl.yaml")

stop() {
  for name in agent server; do
    if [ -f "$WS/$name.pid" ]; then
      kill "$(cat "$WS/$name.pid")" 2>/dev/null || true
      rm -f "$WS/$name.pid"
    fi
  done
}

if [ "${1:-}" = "stop" ]; then
  stop
  echo "stopped; state stays in $WS (remove it to start over)"
  exit 0
fi

bash deploy/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target plumb-server plumb-agent plumbctl

stop
mkdir -p "$WS"
if [ ! -d "$WS/repo.git" ]; then
  git init -q --bare -b main "$WS/repo.git"
  git clone -q "$WS/repo.git" "$WS/checkout" 2>/dev/null
  cp -r deploy/examples/repo/. "$WS/checkout/"
  git -C "$WS/checkout" add -A
  git -C "$WS/checkout" -c user.name="Plumb Quickstart" -c user.email=quickstart@localhost \
    commit -q -m "Sample desired state from deploy/examples/repo"
  git -C "$WS/checkout" push -q origin HEAD:main
fi
mkdir -p "$WS/root"

# The built-in CA and an operator certificate for plumbctl (kept across re-runs).
[ -f "$WS/server/ca/ca.key" ] || "$BIN/plumb-server" ca init --state_dir "$WS/server" >/dev/null
[ -f "$WS/server/operators/quickstart.pem" ] ||
  "$BIN/plumb-server" ca issue-operator quickstart --state_dir "$WS/server" >/dev/null
cat >"$WS/plumbctl.yaml" <<YAML
server: 127.0.0.1:$PORT
ca: $WS/server/ca/ca.pem
cert: $WS/server/operators/quickstart.pem
key: $WS/server/operators/quickstart.key
YAML

# The web console's sign-in token (an operator token; kept across re-runs, readable by you only).
# It goes in a config file, not on the command line (which every local user can read).
if [ ! -s "$WS/console-token" ]; then
  (umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WS/console-token")
fi
(umask 077 && printf 'console_listen: 127.0.0.1:%s\noperator_tokens: ["%s"]\n' \
  "$CONSOLE_PORT" "$(cat "$WS/console-token")" >"$WS/server.yaml")
nohup "$BIN/plumb-server" --config "$WS/server.yaml" \
  --listen "127.0.0.1:$PORT" --http_listen "127.0.0.1:$HTTP_PORT" \
  --repo.url "$WS/repo.git" --repo.branch main --repo.poll 2s --state_dir "$WS/server" \
  >"$WS/server.log" 2>&1 &
echo $! >"$WS/server.pid"
for _ in $(seq 1 60); do
  if "${CTL[@]}" revisions >/dev/null 2>&1; then break; fi
  sleep 0.5
done

# Enroll the agent once (again if the CA was made anew): a one-use token binds its labels.
if ! cmp -s "$WS/agent/tls/ca.pem" "$WS/server/ca/ca.pem"; then
  rm -f "$WS/agent/tls/agent.pem" "$WS/agent/tls/ca.pem"
  TOKEN="$("${CTL[@]}" token create --uses 1 --ttl 10m --label role=web --label env=demo \
    --node-glob 'demo-*' 2>/dev/null)" || {
    echo "cannot create a join token; see $WS/server.log" >&2
    exit 1
  }
  "$BIN/plumb-agent" enroll --server "127.0.0.1:$PORT" --node demo-web-1 \
    --state_dir "$WS/agent" --token "$TOKEN" \
    --ca-fingerprint "$("$BIN/plumb-server" ca fingerprint --state_dir "$WS/server")" >/dev/null
fi
nohup "$BIN/plumb-agent" --server "127.0.0.1:$PORT" --node demo-web-1 \
  --root "$WS/root" --state_dir "$WS/agent" \
  --interval 1m --splay 5s >"$WS/agent.log" 2>&1 &
echo $! >"$WS/agent.pid"

echo "waiting for demo-web-1 to converge..."
for _ in $(seq 1 60); do
  status="$("${CTL[@]}" nodes 2>/dev/null || true)"
  if grep -q "demo-web-1 *converged" <<<"$status"; then break; fi
  # On a re-run the agent already holds the catalog and has nothing to apply, so it has not
  # reported since reconnecting: ask it for a run.
  if grep -q "demo-web-1 *unknown.*connected" <<<"$status"; then
    "${CTL[@]}" run demo-web-1 >/dev/null 2>&1 || true
  fi
  sleep 0.5
done
echo
"${CTL[@]}" nodes
"${CTL[@]}" nodes | grep -q "demo-web-1 *converged" || {
  echo "the agent did not converge; see $WS/server.log and $WS/agent.log" >&2
  exit 1
}
cat <<MSG

Plumb is running:
  server  127.0.0.1:$PORT   (log $WS/server.log, database $WS/server/plumb.db)
  agent   demo-web-1        (log $WS/agent.log, managing files under $WS/root)
  console https://127.0.0.1:$CONSOLE_PORT/   sign in with the token in $WS/console-token
          (the certificate is the server's, from the CA in $WS/server/ca/ca.pem)
  TLS     CA in $WS/server/ca; agent identity in $WS/agent/tls;
          plumbctl's operator credentials in $WS/plumbctl.yaml

Managed files are in $WS/root/etc/plumb-demo. Try a change:
  cd $WS/checkout
  \$EDITOR modules/base/templates/motd.mustache
  git commit -am "Change the motd" && git push origin HEAD:main
Within a few seconds (the server polls every 2s) the agent rewrites
$WS/root/etc/plumb-demo/motd, and these show the new revision:
  ${CTL[*]} nodes
  ${CTL[*]} revisions
  ${CTL[*]} reports demo-web-1
Stop everything with: deploy/quickstart.sh stop
MSG
