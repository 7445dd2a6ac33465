#!/usr/bin/env bash
# Installs plumb-agent on this host from a .deb, enrolls it with a join token and starts it.
#
#   deploy/install-agent.sh --deb plumb-agent_0.1.0-1_amd64.deb --server plumb.example.org:7443 \
#       --token TOKEN [--ca-fingerprint SHA256] [--node NAME] [--label k=v ...]
set -euo pipefail

usage() { sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

deb="" server="" token="" fingerprint="" node="" labels=()
while [ $# -gt 0 ]; do
  case "$1" in
    --deb) deb="$2"; shift 2 ;;
    --server) server="$2"; shift 2 ;;
    --token) token="$2"; shift 2 ;;
    --ca-fingerprint) fingerprint="$2"; shift 2 ;;
    --node) node="$2"; shift 2 ;;
    --label) labels+=("$2"); shift 2 ;;
    -h|--help) usage ;;
    *) echo "install-agent.sh: unknown argument $1" >&2; usage ;;
  esac
done
[ -n "$deb" ] && [ -n "$server" ] && [ -n "$token" ] || usage
[ -f "$deb" ] || { echo "install-agent.sh: no such package file: $deb" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || { echo "install-agent.sh: run as root" >&2; exit 1; }

apt-get install -y -qq "$(realpath "$deb")"

enroll=(plumb-agent enroll --server "$server" --token "$token" --state_dir /var/lib/plumb)
[ -n "$fingerprint" ] && enroll+=(--ca-fingerprint "$fingerprint")
[ -n "$node" ] && enroll+=(--node "$node")
"${enroll[@]}"

# Point the config at the server; labels come from the token (bound at enrollment).
sed -i "s|^server:.*|server: $server|" /etc/plumb/agent.yaml
if [ -n "$node" ]; then
  if grep -q '^# node:' /etc/plumb/agent.yaml; then
    sed -i "s|^# node:.*|node: $node|" /etc/plumb/agent.yaml
  else
    echo "node: $node" >> /etc/plumb/agent.yaml
  fi
fi
for kv in "${labels[@]}"; do echo "install-agent.sh: label $kv is set by the token at enrollment" >&2; done

if [ -d /run/systemd/system ]; then
  systemctl enable --now plumb-agent.service
  echo "plumb-agent enrolled and started; see: journalctl -u plumb-agent -f"
else
  echo "plumb-agent enrolled; no systemd here: start it with plumb-agent --config /etc/plumb/agent.yaml"
fi
