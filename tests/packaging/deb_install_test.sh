#!/usr/bin/env bash
# Installs the three .deb packages built by `cmake --build BUILD --target package` on this
# machine with dpkg, checks files, users, modes and that the binaries run from /usr/bin, then
# removes (state kept) and purges (state gone). Needs root. Usage: deb_install_test.sh BUILD_DIR
set -uo pipefail
BUILD="${1:?usage: deb_install_test.sh BUILD_DIR}"
failures=0
passed=0
check() {  # check "description" command...
  local what="$1"; shift
  if "$@" >/dev/null 2>&1; then passed=$((passed + 1)); else echo "FAIL: $what"; failures=$((failures + 1)); fi
}
mode_of() { stat -c '%a %U %G' "$1"; }

debs=("$BUILD"/plumb-agent_*.deb "$BUILD"/plumb-server_*.deb "$BUILD"/plumbctl_*.deb)
for d in "${debs[@]}"; do [ -f "$d" ] || { echo "FAIL: missing package $d"; exit 1; }; done

cleanup() { dpkg -P plumb-agent plumb-server plumbctl >/dev/null 2>&1 || true; }
trap cleanup EXIT
cleanup

check "dpkg -i installs all three" dpkg -i "${debs[@]}"
check "plumb-agent --version from /usr/bin" sh -c '/usr/bin/plumb-agent --version | grep -q "^plumb-agent "'
check "plumb-server --version from /usr/bin" sh -c '/usr/bin/plumb-server --version | grep -q "^plumb-server "'
check "plumbctl --version from /usr/bin" sh -c '/usr/bin/plumbctl --version | grep -q "^plumbctl "'
check "agent config installed" test -f /etc/plumb/agent.yaml
check "server config installed" test -f /etc/plumb/server.yaml
check "agent config is a conffile" sh -c 'dpkg-query -W -f="\${Conffiles}" plumb-agent | grep -q /etc/plumb/agent.yaml'
check "server config is a conffile" sh -c 'dpkg-query -W -f="\${Conffiles}" plumb-server | grep -q /etc/plumb/server.yaml'
check "agent unit installed" test -f /usr/lib/systemd/system/plumb-agent.service
check "server unit installed" test -f /usr/lib/systemd/system/plumb-server.service
check "server unit is hardened" sh -c 'grep -q "^ProtectSystem=strict" /usr/lib/systemd/system/plumb-server.service && grep -q "^NoNewPrivileges=true" /usr/lib/systemd/system/plumb-server.service'
check "plumb system user exists" getent passwd plumb
check "/var/lib/plumb is 0700 root" test "$(mode_of /var/lib/plumb)" = "700 root root"
check "/var/lib/plumb-server is 0750 plumb" test "$(mode_of /var/lib/plumb-server)" = "750 plumb plumb"
check "dependencies declared (shlibdeps)" sh -c 'dpkg-query -W -f="\${Depends}" plumb-agent | grep -q libgrpc'

echo keep > /var/lib/plumb/marker
check "dpkg -r removes the packages" dpkg -r plumb-agent plumb-server plumbctl
check "binaries gone after remove" test ! -e /usr/bin/plumb-agent
check "agent state kept after remove" test -f /var/lib/plumb/marker
check "server state kept after remove" test -d /var/lib/plumb-server
check "dpkg -P purges" dpkg -P plumb-agent plumb-server plumbctl
check "agent state gone after purge" test ! -e /var/lib/plumb
check "server state gone after purge" test ! -e /var/lib/plumb-server
check "plumb user gone after purge" sh -c '! getent passwd plumb'
check "configs gone after purge" test ! -e /etc/plumb/agent.yaml

echo "package checks: $passed ok, $failures failing"
[ "$failures" -eq 0 ]
