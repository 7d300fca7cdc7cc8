#!/usr/bin/env bash
# The Wine 10 lane's system: Debian 13 ("trixie") with its Wine, in a
# debootstrap chroot cached under /var/cache/shmap (made once, ~1 minute of
# debootstrap and an apt-get of wine; reused by later runs on the machine).
#   wine10-chroot.sh setup     make it unless it is there (needs root)
#   wine10-chroot.sh mount     mount /proc, /dev and the repository inside
#   wine10-chroot.sh umount    undo mount
set -euo pipefail
source "$(dirname "$0")/common.sh"
ROOT=${SHMAP_WINE10_ROOT:-/var/cache/shmap/trixie-wine}
MIRROR=${SHMAP_DEBIAN_MIRROR:-http://deb.debian.org/debian}

setup() {
  [ -f "$ROOT/.shmap-ready" ] && return 0
  [ "$(id -u)" -eq 0 ] || { echo "wine10 lane: needs root for debootstrap/chroot" >&2; return 1; }
  need_pkgs debootstrap
  say "making the Wine 10 chroot in $ROOT (once per machine)"
  rm -rf "$ROOT"
  mkdir -p "$(dirname "$ROOT")"
  debootstrap --variant=minbase trixie "$ROOT" "$MIRROR" >/dev/null
  mount -t proc proc "$ROOT/proc"
  trap 'umount -l "$ROOT/proc" 2>/dev/null || true' RETURN
  chroot "$ROOT" /usr/bin/env DEBIAN_FRONTEND=noninteractive sh -c \
    'apt-get update -qq && apt-get install -y -qq --no-install-recommends wine wine64 >/dev/null'
  chroot "$ROOT" wine --version
  touch "$ROOT/.shmap-ready"
}

mounts() {
  mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
  mountpoint -q "$ROOT/dev" || mount --bind /dev "$ROOT/dev"
  # The repository at the same path inside, so CTest's absolute paths work.
  # A mount left by an interrupted run may point at an older checkout: the
  # bind is always made afresh.
  mkdir -p "$ROOT$SHMAP_ROOT"
  if mountpoint -q "$ROOT$SHMAP_ROOT"; then umount -l "$ROOT$SHMAP_ROOT"; fi
  mount --bind "$SHMAP_ROOT" "$ROOT$SHMAP_ROOT"
}

umounts() {
  for m in "$ROOT$SHMAP_ROOT" "$ROOT/dev" "$ROOT/proc"; do
    mountpoint -q "$m" && umount -l "$m" || true
  done
}

case ${1:-} in
setup) setup ;;
mount) mounts ;;
umount) umounts ;;
*) echo "usage: $0 setup|mount|umount" >&2; exit 2 ;;
esac
