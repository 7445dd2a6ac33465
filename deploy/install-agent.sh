#!/usr/bin/env bash
# Installs plumb-agent on this host from a .deb, enrolls it with a join token and starts it.
#
#   deploy/install-agent.sh --deb plumb-agent_0.1.0-1_amd64.deb --server plumb.example.org:7443 \
#       --token TOKEN [--ca-fingerprint SHA256] [--node NAME]
#
# Run as root. The token comes from `plumbctl token create`, the fingerprint from
# `plumb-server ca fingerprint` (docs/getting-started.md). If enrollment fails, the package stays
# installed but /etc/plumb/agent.yaml is left as it was and the agent is not started: fix the
# cause and run the script again.
set -euo pipefail

usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
fail() { echo "install-agent.sh: $*" >&2; exit 1; }

deb="" server="" token="" fingerprint="" node=""
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage ;;
    --deb|--server|--token|--ca-fingerprint|--node)
      [ $# -ge 2 ] && [ -n "$2" ] || { echo "install-agent.sh: $1 needs a value" >&2; usage; }
      case "$1" in
        --deb) deb="$2" ;;
        --server) server="$2" ;;
        --token) token="$2" ;;
        --ca-fingerprint) fingerprint="$2" ;;
        --node) node="$2" ;;
      esac
      shift 2 ;;
    --label)
      echo "install-agent.sh: labels are bound to the join token: plumbctl token create --label k=v" >&2
      exit 2 ;;
    *) echo "install-agent.sh: unknown argument $1" >&2; usage ;;
  esac
done
[ -n "$deb" ] && [ -n "$server" ] && [ -n "$token" ] || usage
[ -f "$deb" ] || fail "no such package file: $deb"
[ "$(id -u)" -eq 0 ] || fail "run as root"

apt-get install -y -qq "$(realpath "$deb")" || fail "installing $deb failed"

enroll=(plumb-agent enroll --server "$server" --token "$token" --state_dir /var/lib/plumb)
[ -n "$fingerprint" ] && enroll+=(--ca-fingerprint "$fingerprint")
[ -n "$node" ] && enroll+=(--node "$node")
if ! "${enroll[@]}"; then
  fail "enrollment with $server failed (see the line above); plumb-agent is installed but" \
    "not enrolled, its configuration is unchanged and it was not started"
fi

# Point the config at the server; labels come from the token (bound at enrollment).
sed -i "s|^server:.*|server: $server|" /etc/plumb/agent.yaml
if [ -n "$node" ]; then
  if grep -q '^#\? *node:' /etc/plumb/agent.yaml; then
    sed -i "s|^#\? *node:.*|node: $node|" /etc/plumb/agent.yaml
  else
    echo "node: $node" >> /etc/plumb/agent.yaml
  fi
fi

if [ -d /run/systemd/system ]; then
  # restart, not start: a re-enrolled agent that was already running reads its new config.
  systemctl enable plumb-agent.service
  systemctl restart plumb-agent.service
  echo "plumb-agent enrolled and started; see: journalctl -u plumb-agent -f"
else
  echo "plumb-agent enrolled; no systemd here: start it with plumb-agent --config /etc/plumb/agent.yaml"
fi
