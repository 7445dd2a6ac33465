# shellcheck shell=bash
# Machines for the host suite (sourced by hosts_test.sh): a private test network and Debian 12
# machines booted by systemd-nspawn with systemd as PID 1.
#
# Network: a network namespace plumbh-hub holds a bridge (10.77.0.1/24, where plumb-server
# listens); each machine NAME gets its own namespace plumbh-NAME with eth0 (a veth whose other
# end is on the bridge) and loopback. Nothing routes out: the machines see the server only.
# Disks: an overlay over the cached root file system (lower, never written), one upper
# directory per machine under $WORK, so a machine keeps its state across reboots.
# Needs: WORK (scratch dir), ROOTFS (cached root), and root.

HUB=plumbh-hub
NET_PREFIX=10.77.0
SERVER_IP="$NET_PREFIX.1"

# in_ns NAMESPACE COMMAND...: runs a host command inside a network namespace.
in_ns() { ip netns exec "$@"; }

network_up() {
  ip netns add "$HUB"
  in_ns "$HUB" ip link set lo up
  in_ns "$HUB" ip link add br0 type bridge
  in_ns "$HUB" ip addr add "$SERVER_IP/24" dev br0
  in_ns "$HUB" ip link set br0 up
}

network_down() {
  local ns
  for ns in $(ip netns list | awk '/^plumbh-/ {print $1}'); do ip netns del "$ns" 2>/dev/null; done
}

# machine_create NAME IP: its disk (overlay) and its network namespace, wired to the bridge.
machine_create() {
  local name="$1" ip="$2" dir="$WORK/machines/$1"
  mkdir -p "$dir/upper" "$dir/work" "$dir/root"
  mount -t overlay "overlay-$name" -o "lowerdir=$ROOTFS,upperdir=$dir/upper,workdir=$dir/work" \
    "$dir/root"
  ip netns add "plumbh-$name"
  ip link add "v-$name" netns "$HUB" type veth peer name eth0 netns "plumbh-$name"
  in_ns "$HUB" ip link set "v-$name" master br0 up
  in_ns "plumbh-$name" ip link set lo up
  in_ns "plumbh-$name" ip addr add "$ip/24" dev eth0
  in_ns "plumbh-$name" ip link set eth0 up
}

# machine_boot NAME: starts the machine (systemd as PID 1) and waits until systemd says the boot
# finished (running or degraded). Its console goes to $WORK/machines/NAME/console.log.
machine_boot() {
  local name="$1" dir="$WORK/machines/$1"
  # --keep-unit and --register=no: the host has no systemd (or is another container); the
  # machine's own systemd does not need one.
  systemd-nspawn --quiet -b -D "$dir/root" --machine="$name" --register=no --keep-unit \
    --network-namespace-path="/run/netns/plumbh-$name" \
    --bind-ro="$WORK/debs:/root/plumb" </dev/null >>"$dir/console.log" 2>&1 8>&- &
  echo $! >"$dir/nspawn.pid"
  wait_until machine_booted "$name"
}

# The machine's PID 1 as the host sees it (the child of systemd-nspawn).
machine_leader() {
  local pid
  pid="$(cat "$WORK/machines/$1/nspawn.pid" 2>/dev/null)" || return 1
  pgrep -P "$pid" | head -1
}

# on NAME COMMAND...: runs a command inside the machine (all its namespaces), as root.
on() {
  local name="$1" leader
  shift
  leader="$(machine_leader "$name")" || return 1
  [ -n "$leader" ] || return 1
  nsenter -t "$leader" -a env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 HOME=/root "$@"
}

machine_booted() {
  local state
  state="$(on "$1" systemctl is-system-running 2>/dev/null)"
  [ "$state" = running ] || [ "$state" = degraded ]
}

# machine_poweroff NAME: a clean shutdown (systemd-nspawn turns SIGTERM into a poweroff of the
# machine's systemd), waited for.
machine_poweroff() {
  local pid
  pid="$(cat "$WORK/machines/$1/nspawn.pid" 2>/dev/null)" || return 0
  kill -TERM "$pid" 2>/dev/null
  wait_until process_gone "$pid" || kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  rm -f "$WORK/machines/$1/nspawn.pid"
}

# process_gone PID: exited (a zombie not yet reaped counts as gone).
process_gone() { [ ! -e "/proc/$1" ] || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }

machines_destroy() {
  local dir
  for dir in "$WORK"/machines/*; do
    [ -d "$dir" ] || continue
    machine_poweroff "$(basename "$dir")"
    umount "$dir/root" 2>/dev/null
  done
}
