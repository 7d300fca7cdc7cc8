#!/usr/bin/env bash
# The Debian 13 ("trixie") system for the Wine 10 lane and the newer real
# peers (QEMU 10, virtiofsd 1.13): a debootstrap chroot cached under
# /var/cache/shmap (made once, a minute or two of debootstrap and apt-get;
# reused by later runs on the machine). The marker names the package set,
# so a cache made with fewer packages is completed, not trusted.
#   wine10-chroot.sh setup     make it unless it is there (needs root)
#   wine10-chroot.sh mount     mount /proc, /dev and the repository inside
#   wine10-chroot.sh umount    undo mount
set -euo pipefail
source "$(dirname "$0")/common.sh"
ROOT=${SHMAP_WINE10_ROOT:-/var/cache/shmap/trixie-wine}
MIRROR=${SHMAP_DEBIAN_MIRROR:-http://deb.debian.org/debian}

PKGS="wine wine64 qemu-system-x86 virtiofsd"
MARK="$ROOT/.shmap-ready-2"

setup() {
  [ -f "$MARK" ] && return 0
  [ "$(id -u)" -eq 0 ] || { echo "wine10 lane: needs root for debootstrap/chroot" >&2; return 1; }
  need_pkgs debootstrap
  if [ ! -x "$ROOT/usr/bin/apt-get" ]; then
    say "making the Debian 13 chroot in $ROOT (once per machine)"
    rm -rf "$ROOT"
    mkdir -p "$(dirname "$ROOT")"
    debootstrap --variant=minbase trixie "$ROOT" "$MIRROR" >/dev/null
  fi
  say "installing $PKGS in the Debian 13 chroot"
  mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
  trap 'umount -l "$ROOT/proc" 2>/dev/null || true' RETURN
  chroot "$ROOT" /usr/bin/env DEBIAN_FRONTEND=noninteractive sh -c \
    "apt-get update -qq && apt-get install -y -qq --no-install-recommends $PKGS >/dev/null"
  chroot "$ROOT" wine --version
  chroot "$ROOT" qemu-system-x86_64 --version | head -1
  touch "$MARK"
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
