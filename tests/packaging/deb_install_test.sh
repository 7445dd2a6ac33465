#!/usr/bin/env bash
# Installs the three .deb packages built by `cmake --build BUILD --target package` on this
# machine with dpkg, checks files, users, modes, that the binaries run from /usr/bin and that the
# systemd units are clean (systemd-analyze verify, security exposure, restart jitter), then
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
check "an unenrolled agent exits 78 (EX_CONFIG), saying to enroll" sh -c \
  '/usr/bin/plumb-agent --config /etc/plumb/agent.yaml 2>&1 | grep -q "enroll this node first"; /usr/bin/plumb-agent --config /etc/plumb/agent.yaml 2>/dev/null; [ $? -eq 78 ]'
check "systemd does not restart an unenrolled agent" \
  grep -qx "RestartPreventExitStatus=78" /usr/lib/systemd/system/plumb-agent.service
check "the units' Documentation= files are installed" sh -c '
  for u in /usr/lib/systemd/system/plumb-agent.service /usr/lib/systemd/system/plumb-server.service; do
    for f in $(sed -n "s|^Documentation=||p" "$u" | tr " " "\n" | sed "s|^file://||"); do
      test -s "$f" || exit 1
    done
  done'
check "getting-started ships with the agent package" test -s /usr/share/doc/plumb-agent/getting-started.md
check "agent unit installed" test -f /usr/lib/systemd/system/plumb-agent.service
check "server unit installed" test -f /usr/lib/systemd/system/plumb-server.service
check "server unit is hardened" sh -c 'grep -q "^ProtectSystem=strict" /usr/lib/systemd/system/plumb-server.service && grep -q "^NoNewPrivileges=true" /usr/lib/systemd/system/plumb-server.service'
units=/usr/lib/systemd/system
check "systemd-analyze verify: both units clean" \
  sh -c "[ -z \"\$(systemd-analyze verify $units/plumb-agent.service $units/plumb-server.service 2>&1)\" ]"
# --threshold is in tenths: 20 means an overall exposure of at most 2.0 (docs/operations.md).
check "server unit: systemd-analyze security exposure at most 2.0" \
  systemd-analyze security --offline=true --threshold=20 $units/plumb-server.service
check "server unit: runs as plumb, without capabilities, writes only its state" sh -c "
  grep -q '^User=plumb$' $units/plumb-server.service &&
  grep -q '^CapabilityBoundingSet=$' $units/plumb-server.service &&
  grep -q '^ReadWritePaths=/var/lib/plumb-server$' $units/plumb-server.service"
check "agent unit: runs as root, Restart=always" sh -c "
  ! grep -q '^User=' $units/plumb-agent.service && grep -q '^Restart=always$' $units/plumb-agent.service"
# The agent's restart jitter is an ExecStopPost= shell line; run it the way systemd would
# ($$ is $), with a `sleep` that records its argument instead of sleeping.
jitter="$(sed -n 's/^ExecStopPost=//p' $units/plumb-agent.service | sed 's/\$\$/$/g')"
fake_bin="$(mktemp -d)"
printf '#!/bin/sh\necho "$1" >>"%s/slept"\n' "$fake_bin" >"$fake_bin/sleep"
chmod +x "$fake_bin/sleep"
for _ in $(seq 1 20); do (export PATH="$fake_bin:$PATH" SERVICE_RESULT=exit-code; eval "$jitter"); done
(export PATH="$fake_bin:$PATH" SERVICE_RESULT=success; eval "$jitter")
check "agent unit: a failed agent waits 0-10 s more before its restart" sh -c "
  [ \$(wc -l <$fake_bin/slept) -eq 20 ] && [ \$(sort -u $fake_bin/slept | wc -l) -gt 1 ] &&
  ! grep -vqxE '[0-9]|10' $fake_bin/slept"
rm -rf "$fake_bin"
check "both units enabled by the packages" sh -c "
  test -L /etc/systemd/system/multi-user.target.wants/plumb-agent.service &&
  test -L /etc/systemd/system/multi-user.target.wants/plumb-server.service"
check "plumb system user exists" getent passwd plumb
check "/var/lib/plumb is 0700 root" test "$(mode_of /var/lib/plumb)" = "700 root root"
check "/var/lib/plumb-server is 0750 plumb" test "$(mode_of /var/lib/plumb-server)" = "750 plumb plumb"
check "dependencies declared (shlibdeps)" sh -c 'dpkg-query -W -f="\${Depends}" plumb-server | grep -q libgrpc'
check "the agent links OpenSSL shared (security updates reach it), gRPC statically" sh -c \
  'dpkg-query -W -f="\${Depends}" plumb-agent | grep -q libssl3 && ! dpkg-query -W -f="\${Depends}" plumb-agent | grep -q libgrpc'

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
check "units disabled after purge" sh -c '! ls /etc/systemd/system/*.wants | grep -q plumb'

echo "package checks: $passed ok, $failures failing"
[ "$failures" -eq 0 ]
