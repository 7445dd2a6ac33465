# shellcheck shell=bash disable=SC2016,SC2154  # dpkg-query formats; rev1 and helpers come from hosts_test.sh
# The host suite's scenarios (sourced by hosts_test.sh after the machines are up and enrolled;
# uses its check, wait_until, step, ctl, commit, on and machine_* helpers). Waits are on
# conditions, each bounded by $TIMEOUT.

converged_at() { ctl nodes | grep -qE "^$1 +converged +$2"; }
nginx_pid() { on "$1" systemctl show -p MainPID --value nginx; }
active() { on "$1" systemctl is-active --quiet "$2"; }
sync_to() {  # sync_to REV: the server fetches now and serves REV
  ctl sync >/dev/null 2>&1
  wait_until serving "$1"
}
same() { [ "$1" = "$2" ]; }
not() { ! "$@"; }
differ() { [ -n "$1" ] && [ -n "$2" ] && [ "$1" != "$2" ]; }
declare -A PID SEEDED

first_converge() {
  step "first converge"
  local m
  for m in "${MACHINES[@]}"; do check "$m: converged at the first commit" wait_until converged_at "$m" "$rev1"; done
  for m in "${MACHINES[@]}"; do
    check "$m: nginx-light installed from the machine's apt cache" \
      test "$(on "$m" dpkg-query -W -f='${Status}' nginx-light)" = "install ok installed"
    check "$m: nginx running and enabled" on "$m" sh -c 'systemctl is-active nginx && systemctl is-enabled nginx'
    check "$m: appsvc is uid 990 in group appsvc (gid 990)" \
      test "$(on "$m" id -u appsvc):$(on "$m" id -g appsvc)" = "990:990"
    check "$m: managehome made /srv/appsvc, owned by appsvc" \
      test "$(on "$m" stat -c '%U:%G' /srv/appsvc)" = "appsvc:appsvc"
    check "$m: /srv/appsvc/data is appsvc's, mode 0750" \
      test "$(on "$m" stat -c '%U:%G %a' /srv/appsvc/data)" = "appsvc:appsvc 750"
    SEEDED[$m]="$(on "$m" cat /srv/appsvc/data/seeded-at)"
    check "$m: the exec seeded once" test -n "${SEEDED[$m]}"
    check "$m: plumb-hosts-pin held at 1.0 though 2.0 is the candidate" same \
      "$(on "$m" dpkg-query -W -f='${Version}' plumb-hosts-pin) $(on "$m" apt-cache policy \
        plumb-hosts-pin | awk '/Candidate/ {print $2}')" "1.0 2.0"
    PID[$m]="$(nginx_pid "$m")"
  done
  for m in web-01 web-02; do
    check "$m: the managed drop-in was loaded (daemon-reload before the restart)" \
      on "$m" sh -c 'systemctl show -p Environment nginx | grep -q PLUMB_SITE=v1 &&
                     systemctl show -p NeedDaemonReload --value nginx | grep -qx no'
    check "$m: nginx serves the web site" on "$m" grep -q "web $m v1" /etc/nginx/conf.d/site.conf
  done
  check "api-01: the API site, not the web one" \
    on api-01 sh -c 'test -f /etc/nginx/conf.d/api.conf && ! test -e /etc/nginx/conf.d/site.conf'
}

template_change() {
  step "a template change restarts nginx on the web hosts only"
  sed -i 's/ v1\\n/ v2\\n/' modules/web/templates/site.conf.mustache
  sed -i 's/PLUMB_SITE=v1/PLUMB_SITE=v2/' modules/web/templates/dropin.conf.mustache
  rev2="$(commit "web: v2 of the site")"
  check "the server serves the template change" sync_to "$rev2"
  local m
  for m in web-01 web-02; do
    check "$m: converged at the template change" wait_until converged_at "$m" "$rev2"
    check "$m: the new site is in place" on "$m" grep -q "web $m v2" /etc/nginx/conf.d/site.conf
    check "$m: nginx restarted (new MainPID)" differ "$(nginx_pid "$m")" "${PID[$m]}"
    check "$m: the changed drop-in is in effect" on "$m" sh -c \
      'systemctl show -p Environment nginx | grep -q PLUMB_SITE=v2'
    PID[$m]="$(nginx_pid "$m")"
  done
  check "api-01: runs its interval after the commit" ctl run api-01
  check "api-01: nginx not restarted" same "$(nginx_pid api-01)" "${PID[api-01]}"
}

irrelevant_commit() {
  step "a commit changing nothing relevant restarts nothing"
  echo "Ask on #ops before changing the pin." >>README.md
  rev3="$(commit "README: who to ask")"
  check "the server serves the README commit" sync_to "$rev3"
  check "every agent runs after the README commit" ctl run "${MACHINES[@]}"
  local m
  for m in "${MACHINES[@]}"; do
    check "$m: nginx not restarted by the README commit" same "$(nginx_pid "$m")" "${PID[$m]}"
  done
}

# Another apt run holds the dpkg lock on web-01 (as unattended-upgrades does at boot) while the
# pin moves to 2.0: web-01's apt-get waits for it, the others go ahead; once the lock is free
# web-01 converges with no failed run.
pin_under_dpkg_lock() {
  step "a pin moved while another apt run holds the dpkg lock on web-01"
  on web-01 python3 -c '
import fcntl, os, time
f = open("/var/lib/dpkg/lock-frontend", "w")
fcntl.lockf(f, fcntl.LOCK_EX)
open("/run/plumb-lock-held", "w").close()
deadline = time.time() + 300
while not os.path.exists("/run/plumb-lock-release") and time.time() < deadline:
    time.sleep(0.2)
' >/dev/null 2>&1 &
  local holder=$!
  check "web-01: the dpkg lock is held" wait_until on web-01 test -e /run/plumb-lock-held
  sed -i 's/ensure: "1.0"/ensure: "2.0"/' modules/base/module.yaml
  rev4="$(commit "base: plumb-hosts-pin 2.0")"
  check "the server serves the new pin" sync_to "$rev4"
  check "web-02: converged at the new pin" wait_until converged_at web-02 "$rev4"
  check "api-01: converged at the new pin" wait_until converged_at api-01 "$rev4"
  check "web-01: apt-get is waiting for the lock, not failed" \
    on web-01 pgrep -f "apt-get.*plumb-hosts-pin=2.0"
  on web-01 touch /run/plumb-lock-release
  wait "$holder" 2>/dev/null
  check "web-01: converged at the new pin once the lock is free" wait_until converged_at web-01 "$rev4"
  local m
  for m in "${MACHINES[@]}"; do
    check "$m: plumb-hosts-pin is 2.0" test "$(on "$m" dpkg-query -W -f='${Version}' plumb-hosts-pin)" = 2.0
  done
  check "web-01: no failed package run" not grep -q plumb-hosts-pin \
    <<<"$(ctl resources --status failed --node web-01)"
}

hand_stopped_service() {
  step "a hand-stopped nginx is started again by the next interval"
  on api-01 systemctl stop nginx
  check "api-01: nginx stopped by hand" not active api-01 nginx
  check "api-01: nginx running again" wait_until active api-01 nginx
  PID[api-01]="$(nginx_pid api-01)"
}

agent_restart_and_reboot() {
  step "systemctl restart plumb-agent; a reboot"
  on web-02 systemctl restart plumb-agent
  check "web-02: plumb-agent active after its restart" wait_until active web-02 plumb-agent
  check "web-02: the restarted agent runs and is converged" wait_until ctl run web-02
  check "web-02: restarting the agent restarted nothing" same "$(nginx_pid web-02)" "${PID[web-02]}"

  machine_poweroff web-01
  check "web-01: boots again" machine_boot web-01
  check "web-01: plumb-agent started at boot" wait_until active web-01 plumb-agent
  check "web-01: nginx started at boot (enabled)" wait_until active web-01 nginx
  check "web-01: the rebooted agent runs and is converged" wait_until ctl run web-01
  check "web-01: converged at the last commit after the reboot" converged_at web-01 "$rev4"
  check "web-01: the exec did not run again" same "$(on web-01 cat /srv/appsvc/data/seeded-at)" "${SEEDED[web-01]}"
  PID[web-01]="$(nginx_pid web-01)"
}

offline_during_commit() {
  step "api-01 powered off during a commit"
  machine_poweroff api-01
  sed -i 's/return 200 "api/return 200 "api v2/' modules/api/templates/api.conf.mustache
  rev5="$(commit "api: v2")"
  check "the server serves the API change" sync_to "$rev5"
  check "api-01: boots again" machine_boot api-01
  check "api-01: converged at the API change on return" wait_until converged_at api-01 "$rev5"
  check "api-01: the new API site is in place" on api-01 grep -q "api v2 api-01" /etc/nginx/conf.d/api.conf
  check "api-01: nginx running" active api-01 nginx
  local m
  for m in web-01 web-02; do
    check "$m: nginx not restarted by the API change" same "$(nginx_pid "$m")" "${PID[$m]}"
  done
}

run_scenarios() {
  first_converge
  template_change
  irrelevant_commit
  pin_under_dpkg_lock
  hand_stopped_service
  agent_restart_and_reboot
  offline_during_commit
}
