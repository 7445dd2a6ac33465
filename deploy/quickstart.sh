#!/usr/bin/env bash
# From zero to a converged agent on one machine: installs the build dependencies (Debian 12),
# builds Plumb, creates a sample desired-state repository from deploy/examples/repo, starts
# plumb-server on 127.0.0.1 (embedded SQLite) and one plumb-agent whose root is a sandbox
# folder, waits until the agent is converged and shows `plumbctl nodes`.
#
#   deploy/quickstart.sh          set up and start (re-running restarts the daemons)
#   deploy/quickstart.sh stop     stop the daemons
set -euo pipefail
cd "$(dirname "$0")/.."
SRC="$(pwd)"
WS="${PLUMB_QUICKSTART_DIR:-$SRC/.quickstart}"
PORT="${PLUMB_QUICKSTART_PORT:-7443}"
HTTP_PORT="${PLUMB_QUICKSTART_HTTP_PORT:-7480}"
BIN="$SRC/build/bin"
CTL=("$BIN/plumbctl" --insecure --server "127.0.0.1:$PORT")

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

nohup "$BIN/plumb-server" --insecure --listen "127.0.0.1:$PORT" --http_listen "127.0.0.1:$HTTP_PORT" \
  --repo.url "$WS/repo.git" --repo.branch main --repo.poll 2s --state_dir "$WS/server" \
  >"$WS/server.log" 2>&1 &
echo $! >"$WS/server.pid"
nohup "$BIN/plumb-agent" --insecure --server "127.0.0.1:$PORT" --node demo-web-1 \
  --label role=web --label env=demo --root "$WS/root" --state_dir "$WS/agent" \
  --interval 1m --splay 5s >"$WS/agent.log" 2>&1 &
echo $! >"$WS/agent.pid"

echo "waiting for demo-web-1 to converge..."
for _ in $(seq 1 60); do
  if "${CTL[@]}" nodes 2>/dev/null | grep -q "demo-web-1 *converged"; then break; fi
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
