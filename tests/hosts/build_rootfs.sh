#!/usr/bin/env bash
# Builds (once) the Debian 12 root file system the host suite boots with systemd-nspawn, and
# prints its path. Cached in $PLUMB_HOSTS_CACHE (default /var/cache/plumb-hosts), outside the
# clone, as rootfs-<key>: the key is the SHA-256 of this script, so editing it builds a new one.
# Rebuild by hand: rm -rf /var/cache/plumb-hosts/rootfs-*. The packages named on the command
# line (the plumb-agent .deb's dependencies) are downloaded into its apt cache each call: a
# no-op (no network) when they are there already, a short download when the agent gained one.
#
# What is in it: debootstrap --variant=minbase with systemd, dbus, iproute2, python3-minimal;
# apt lists for bookworm, -updates and -security, and in /var/cache/apt/archives (downloaded,
# not installed) nginx-light and the given packages, so the machines install them with no
# network; a local apt repository (file:/opt/plumb-hosts-repo) holding plumb-hosts-pin 1.0
# and 2.0, for pinning a version; apt's daily timers masked (the machines are offline);
# no /etc/hostname (the machine name is the host name). About 2-4 minutes and ~330 MB.
#
# Needs root, debootstrap, dpkg-deb and dpkg-scanpackages, and Debian's package mirror.
# Usage: build_rootfs.sh [PACKAGE...]; all output but the path goes to stderr.
set -euo pipefail
CACHE="${PLUMB_HOSTS_CACHE:-/var/cache/plumb-hosts}"
MIRROR="${PLUMB_HOSTS_MIRROR:-http://deb.debian.org/debian}"
extra=("$@")
key="$(sha256sum "$0" | cut -c1-16)"
dest="$CACHE/rootfs-$key"
in_root() { chroot "$1" env DEBIAN_FRONTEND=noninteractive LANG=C "${@:2}"; }
download() {  # download ROOT PACKAGE...: into ROOT's apt cache, not installed
  local root="$1" rc=0
  shift
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  in_root "$root" apt-get -q -y --download-only install "$@" >&2 || rc=$?
  rm -f "$root/etc/resolv.conf"
  return "$rc"
}

mkdir -p "$CACHE"
exec 9>"$CACHE/.build.lock"
flock 9  # one build at a time; a second caller waits and reuses it
if [ -f "$dest/.plumb-hosts-complete" ]; then
  [ "${#extra[@]}" -eq 0 ] || download "$dest" "${extra[@]}"
  echo "$dest"
  exit 0
fi
tmp="$CACHE/.building-$key"
rm -rf "$tmp"
start=$SECONDS
echo "build_rootfs.sh: debootstrap bookworm into $tmp (cache miss)" >&2
debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,iproute2,python3-minimal,procps \
  bookworm "$tmp" "$MIRROR" >"$CACHE/debootstrap-$key.log" 2>&1 ||
  { tail -20 "$CACHE/debootstrap-$key.log" >&2; exit 1; }

# Two versions of a tiny package in a local repository: the pinning scenario.
repo="$tmp/opt/plumb-hosts-repo"
mkdir -p "$repo"
for v in 1.0 2.0; do
  pkg="$(mktemp -d)"
  mkdir -p "$pkg/DEBIAN" "$pkg/usr/share/plumb-hosts-pin"
  printf 'Package: plumb-hosts-pin\nVersion: %s\nArchitecture: all\nMaintainer: Plumb <tests@plumb.invalid>\nDescription: a package to pin in the host suite\n' "$v" >"$pkg/DEBIAN/control"
  echo "$v" >"$pkg/usr/share/plumb-hosts-pin/version"
  dpkg-deb --build --root-owner-group "$pkg" "$repo/plumb-hosts-pin_${v}_all.deb" >/dev/null
  rm -rf "$pkg"
done
(cd "$repo" && dpkg-scanpackages -m . /dev/null >Packages 2>/dev/null)

cat >"$tmp/etc/apt/sources.list" <<EOF
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb ${MIRROR%/debian}/debian-security bookworm-security main
deb [trusted=yes] file:/opt/plumb-hosts-repo ./
EOF
cp /etc/resolv.conf "$tmp/etc/resolv.conf"
in_root "$tmp" apt-get -q update >&2
# The daemon the suite's repository manages, and the plumb-agent .deb's dependencies.
download "$tmp" nginx-light "${extra[@]}"
rm -f "$tmp/etc/hostname"
ln -sf /dev/null "$tmp/etc/systemd/system/apt-daily.timer"
ln -sf /dev/null "$tmp/etc/systemd/system/apt-daily-upgrade.timer"
echo "build_rootfs.sh: built in $((SECONDS - start))s" >&2
touch "$tmp/.plumb-hosts-complete"
rm -rf "$dest"
mv "$tmp" "$dest"
# Older roots are stale (another script version): keep only this one.
for old in "$CACHE"/rootfs-*; do [ "$old" = "$dest" ] || rm -rf "$old"; done
echo "$dest"
