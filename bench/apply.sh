#!/usr/bin/env bash
# Side-by-side apply benchmark: the same workload (N files of ~200 bytes, mode 0644, under one
# directory) for plumb-agent (masterless apply), puppet apply, cf-agent and ansible-playbook.
# Phases: first apply into an empty directory, idempotent re-apply, and repair after deleting
# 10% of the files and editing another 10%. Each phase runs 3 times (3 trials, each
# first -> re-apply -> damage -> repair); the table shows the median wall time, the peak RSS
# of the largest process (GNU time -v) and the ratio to plumb. Any run is cut at 120 s; a phase
# cut once is not run again in later trials, and a cut first apply is replaced by a copy of
# the converged directory so that the next phases still measure what they are meant to.
#
#   bench/apply.sh [N]        N files (default 1000)
#
# Environment:
#   PLUMB_BUILD_DIR   build directory with bin/plumb-agent (default build/; built if missing)
#   APPLY_TOOLS       tools to run (default "plumb puppet cfengine ansible")
#   APPLY_TRIALS      trials per tool (default 3)
#   APPLY_TIMEOUT     cap per run in seconds (default 120)
# Installs puppet-agent, cfengine3, ansible-core and time with apt-get when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC="$(pwd)"
N="${1:-1000}"
BUILD="${PLUMB_BUILD_DIR:-$SRC/build}"
TOOLS="${APPLY_TOOLS:-plumb puppet cfengine ansible}"
TRIALS="${APPLY_TRIALS:-3}"
CAP="${APPLY_TIMEOUT:-120}"

if [ ! -x "$BUILD/bin/plumb-agent" ]; then
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$BUILD" --target plumb-agent
fi

# ---- the other tools, from Debian ----
declare -A PKG=([puppet]=puppet-agent [cfengine]=cfengine3 [ansible]=ansible-core)
missing=()
dpkg-query -W -f='${Status}' time 2>/dev/null | grep -q "install ok installed" || missing+=(time)
for t in $TOOLS; do
  p="${PKG[$t]:-}"
  [ -z "$p" ] && continue
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  # policy-rc.d: do not start cf-execd/cf-serverd or the puppet daemon on install.
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    >/dev/null
  rm -f /usr/sbin/policy-rc.d
fi

WS="$(mktemp -d /tmp/plumb-apply.XXXXXX)"
trap 'rm -rf "$WS"' EXIT

# ---- inputs for every tool, generated together so the files are byte-identical ----
python3 - "$WS" "$N" <<'PY'
import json, os, sys
ws, n = sys.argv[1], int(sys.argv[2])
def content(i):
    a, b = chr(ord('a') + i % 26) * 76, chr(ord('A') + i % 26) * 76
    return "file %05d managed by the apply benchmark\n%s\n%s\n" % (i, a, b)
names = ["f%05d.txt" % i for i in range(n)]
# plumb: one module, content inline (plumb-agent apply REPO --root ROOT writes ROOT/srv/bench)
os.makedirs(ws + "/plumb/repo/modules/files")
with open(ws + "/plumb/repo/plumb.yaml", "w") as f:
    f.write('version: 1\ntargets:\n  - name: everyone\n    nodes: "*"\n    modules: [files]\n')
with open(ws + "/plumb/repo/modules/files/module.yaml", "w") as f:
    f.write('resources:\n  - directory: /srv/bench\n    mode: "0755"\n')
    for i, name in enumerate(names):
        f.write('  - file: /srv/bench/%s\n    content: %s\n    mode: "0644"\n'
                % (name, json.dumps(content(i))))
# puppet
dest = ws + "/puppet/dest"
os.makedirs(ws + "/puppet")
with open(ws + "/puppet/site.pp", "w") as f:
    f.write("file { '%s': ensure => directory, mode => '0755' }\n" % dest)
    for i, name in enumerate(names):
        c = content(i).replace("\n", "\\n")
        f.write("file { '%s/%s': ensure => file, mode => '0644', content => \"%s\" }\n"
                % (dest, name, c))
# cfengine: content attribute (3.16+), perms body inline, no masterfiles needed
dest = ws + "/cfengine/dest"
os.makedirs(ws + "/cfengine")
with open(ws + "/cfengine/policy.cf", "w") as f:
    f.write('body common control\n{\n  bundlesequence => { "bench" };\n}\n')
    f.write('body perms p644\n{\n  mode => "644";\n}\n')
    f.write('body perms p755\n{\n  mode => "755";\n}\n')
    f.write('bundle agent bench\n{\n  files:\n')
    f.write('    "%s/." create => "true", perms => p755;\n' % dest)
    for i, name in enumerate(names):
        f.write('    "%s/%s" create => "true", perms => p644, content => "%s";\n'
                % (dest, name, content(i)))
    f.write('}\n')
os.chmod(ws + "/cfengine/policy.cf", 0o600)
# ansible: copy module in a loop, local connection, no fact gathering
dest = ws + "/ansible/dest"
os.makedirs(ws + "/ansible")
with open(ws + "/ansible/files.yml", "w") as f:
    f.write("files:\n")
    for i, name in enumerate(names):
        f.write("  - {path: %s, content: %s}\n" % (json.dumps(dest + "/" + name),
                                                    json.dumps(content(i))))
with open(ws + "/ansible/play.yml", "w") as f:
    f.write("""- hosts: localhost
  gather_facts: false
  vars_files: [files.yml]
  tasks:
    - file: {path: %s, state: directory, mode: "0755"}
    - copy: {dest: "{{ item.path }}", content: "{{ item.content }}", mode: "0644"}
      loop: "{{ files }}"
      loop_control: {label: "{{ item.path }}"}
""" % json.dumps(dest))
PY

dest_of() {
  case "$1" in
    plumb) echo "$WS/plumb/root/srv/bench" ;;
    *) echo "$WS/$1/dest" ;;
  esac
}

# tool_command TOOL: sets CMD (argv) and CWD for one run of TOOL.
tool_command() {
  CWD="$WS"
  case "$1" in
    plumb)
      CMD=("$BUILD/bin/plumb-agent" apply "$WS/plumb/repo" --node bench --root "$WS/plumb/root"
        --state_dir "$WS/plumb/state") ;;
    puppet)
      CMD=(puppet apply --detailed-exitcodes --color=false --vardir "$WS/puppet/var"
        --confdir "$WS/puppet/etc" --codedir "$WS/puppet/code" --logdir "$WS/puppet/log"
        --rundir "$WS/puppet/run" "$WS/puppet/site.pp") ;;
    cfengine)
      CMD=(cf-agent -K -f "$WS/cfengine/policy.cf") ;;
    ansible)
      CWD="$WS/ansible"
      CMD=(env ANSIBLE_LOCAL_TEMP="$WS/ansible/tmp" ANSIBLE_HOME="$WS/ansible/home"
        ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3 ANSIBLE_NOCOLOR=1
        ansible-playbook -i localhost, -c local play.yml) ;;
  esac
}

version_of() {
  case "$1" in
    plumb) "$BUILD/bin/plumb-agent" --version 2>&1 | head -1 ;;
    puppet) echo "puppet apply $(puppet --version 2>/dev/null)" ;;
    cfengine) cf-agent --version 2>/dev/null | head -1 ;;
    ansible) ansible-playbook --version 2>/dev/null | head -1 ;;
  esac
}

# The converged directory: made by plumb once, copied in when a tool's own run was cut, so
# that the next phase still starts from the state it is meant to measure.
REFERENCE="$WS/reference"
prepare_reference() {
  rm -rf "$WS/plumb/root" "$WS/plumb/state"
  tool_command plumb
  "${CMD[@]}" >/dev/null 2>&1
  cp -a "$(dest_of plumb)" "$REFERENCE"
  rm -rf "$WS/plumb/root" "$WS/plumb/state"
}

# measure TOOL PHASE: one timed run; appends "seconds kb" (or "timeout kb") to
# $WS/results/TOOL.PHASE. Wall time from the clock around the run (GNU time's is in 10 ms
# steps), peak RSS from GNU time -v: the largest single process of the run.
measure() {
  local tool=$1 phase=$2 out="$WS/time.txt" rc=0 start end kb wall
  tool_command "$tool"
  start=$(date +%s%N)
  (cd "$CWD" && /usr/bin/time -v -o "$out" timeout -k 5 "$CAP" "${CMD[@]}") \
    >"$WS/$tool.$phase.log" 2>&1 || rc=$?
  end=$(date +%s%N)
  kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$out")
  wall=$(awk -v ns=$((end - start)) 'BEGIN { printf "%.4f", ns / 1e9 }')
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then wall=timeout; fi
  # 2 is puppet's --detailed-exitcodes for "changes were made".
  if [ "$wall" != timeout ] && [ "$rc" != 0 ] && ! { [ "$tool" = puppet ] && [ "$rc" = 2 ]; }; then
    echo "warning: $tool $phase exited $rc:" >&2
    tail -5 "$WS/$tool.$phase.log" >&2
  fi
  echo "$wall $kb" >>"$WS/results/$tool.$phase"
  if [ "$wall" = timeout ]; then CUT["$tool.$phase"]=1; fi
  [ "$wall" != timeout ]
}

# timed TOOL PHASE: measure, except that a phase already cut once is not run again (the median
# of the trials is then over the cap anyway): it is recorded as cut, and fails like a cut run.
declare -A CUT=()
timed() {
  if [ -n "${CUT["$1.$2"]:-}" ]; then
    echo "timeout" >>"$WS/results/$1.$2"
    return 1
  fi
  measure "$1" "$2"
}

damage() {
  python3 - "$1" "$N" <<'PY'
import os, sys
dest, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    p = "%s/f%05d.txt" % (dest, i)
    if i % 10 == 0:
        os.remove(p)
    elif i % 10 == 5:
        with open(p, "a") as f:
            f.write("a local edit\n")
PY
}

mkdir -p "$WS/results"
if [[ " $TOOLS " == *" cfengine "* ]] && [ ! -f /var/lib/cfengine3/ppkeys/localhost.priv ]; then
  cf-key >/dev/null 2>&1 || true
fi
prepare_reference
for tool in $TOOLS; do
  echo "== $(version_of "$tool"): $TRIALS trials" >&2
  for trial in $(seq 1 "$TRIALS"); do
    dest="$(dest_of "$tool")"
    # A fresh host each trial: plumb's state_dir (its compile cache) goes too.
    rm -rf "$WS/plumb/root" "$WS/plumb/state" "$dest" "$WS/puppet/var"
    if ! timed "$tool" first; then
      rm -rf "$dest"
      mkdir -p "$(dirname "$dest")"
      cp -a "$REFERENCE" "$dest"
    fi
    timed "$tool" idempotent || true
    damage "$dest"
    timed "$tool" repair || true
  done
done

# ---- the table ----
VERSIONS="$(for t in $TOOLS; do version_of "$t"; done)"
python3 - "$WS/results" "$N" "$CAP" "$TOOLS" "$VERSIONS" <<'PY'
import os, statistics, sys
res, n, cap, tools = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split()
versions = dict(zip(tools, sys.argv[5].splitlines()))
phases = [("first", "first apply"), ("idempotent", "idempotent re-apply"), ("repair", "repair 10% deleted + 10% edited")]
def load(tool, phase):
    rows = [l.split() for l in open(os.path.join(res, "%s.%s" % (tool, phase)))]
    times = [None if r[0] == "timeout" else float(r[0]) for r in rows]
    kbs = [int(r[1]) for r in rows if len(r) > 1 and r[1].isdigit()]
    # Median of the runs, a cut run counting as longer than any finished one.
    ordered = sorted(times, key=lambda t: float("inf") if t is None else t)
    return ordered[len(ordered) // 2], max(kbs) if kbs else None
data = {(t, p): load(t, p) for t in tools for p, _ in phases}
print("| tool | " + " | ".join(label for _, label in phases) + " |")
print("|---|" + "---|" * len(phases))
for t in tools:
    cells = []
    for p, _ in phases:
        sec, kb = data[(t, p)]
        base = data.get(("plumb", p), (None, None))[0]
        s = (">%s s" % cap) if sec is None else "%.3f s" % sec
        if t != "plumb" and base:
            s += " (>%.0fx)" % (float(cap) / base) if sec is None else " (%.1fx)" % (sec / base)
        s += ", %.0f MB" % (kb / 1024.0) if kb else ""
        cells.append(s)
    print("| %s | %s |" % (versions.get(t, t), " | ".join(cells)))
print("\n%s files of ~200 bytes, mode 0644; median of the runs' wall time, peak RSS of the"
      " largest process; (Nx) = time relative to plumb-agent in the same run." % n)
PY
