#!/usr/bin/env bash
# Build shmap for Windows with mingw-w64 and run its test suite under Wine:
#   lane "wine8":  Debian 12's Wine 8.0 — no placeholder support, so every
#                  window takes the fallback path;
#   lane "wine10": Wine 10.0 from Debian 13 in a debootstrap chroot (cached
#                  under /var/cache/shmap) — placeholders, and the fallback
#                  forced with SHMAP_WIN32_WINDOW=fallback.
# Called by scripts/test; `scripts/wine-lanes.sh wine8` runs one lane.
# Exits non-zero when any test fails or a lane that must run cannot.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$SHMAP_ROOT"

lanes=${1:-wine8 wine10}
need_pkgs mingw-w64 wine wine64
say "mingw-w64 cross build"
cmake --preset mingw --fresh >/dev/null
cmake --build --preset mingw

export WINEDEBUG=-all
status=0

# One persistent wineserver per prefix for the whole lane: each cold start
# costs seconds.
run_lane() {
  local lane=$1 wine=$2 prefix=$3
  shift 3
  mkdir -p "$prefix"
  local path
  path=$(SHMAP_WINE=$wine WINEPREFIX=$prefix scripts/lib/wine-run build/mingw/bin/shmap.exe info | sed -n 's/.*"window_path":"\([a-z]*\)".*/\1/p')
  say "lane $lane: $(SHMAP_WINE=$wine scripts/lib/wine-run --version 2>/dev/null), window path: $path"
  if [ -n "${SHMAP_EXPECT_WINDOW_PATH:-}" ] && [ "$path" != "$SHMAP_EXPECT_WINDOW_PATH" ]; then
    echo "!! lane $lane expected window path $SHMAP_EXPECT_WINDOW_PATH, got $path"
    status=1
    return
  fi
  if ! SHMAP_WINE=$wine WINEPREFIX=$prefix ctest --test-dir build/mingw --output-on-failure -j2 \
         --timeout 600 "$@"; then
    status=1
  fi
}

for lane in $lanes; do
  case $lane in
  wine8)
    prefix=$SHMAP_ROOT/build/wineprefix-wine8
    mkdir -p "$prefix"
    WINEPREFIX=$prefix wineserver -p 2>/dev/null &
    SHMAP_EXPECT_WINDOW_PATH=fallback run_lane wine8 wine "$prefix"
    WINEPREFIX=$prefix wineserver -k 2>/dev/null || true
    ;;
  wine10)
    if ! scripts/lib/wine10-chroot.sh setup; then
      echo "!! lane wine10 could not be set up (it needs root and the Debian mirror)"
      if [ "${CI:-}" = true ]; then status=1; fi
      continue
    fi
    prefix=$SHMAP_ROOT/build/wineprefix-wine10

    scripts/lib/wine10-chroot.sh mount
    trap 'scripts/lib/wine10-chroot.sh umount' EXIT
    mkdir -p "$prefix"
    WINEPREFIX=$prefix scripts/lib/wine10 wineserver -p 2>/dev/null &
    SHMAP_EXPECT_WINDOW_PATH=placeholder run_lane wine10 "$SHMAP_ROOT/scripts/lib/wine10" "$prefix"
    SHMAP_WIN32_WINDOW=fallback SHMAP_EXPECT_WINDOW_PATH=fallback \
      run_lane wine10-fallback "$SHMAP_ROOT/scripts/lib/wine10" "$prefix"
    WINEPREFIX=$prefix scripts/lib/wine10 wineserver -k 2>/dev/null || true
    scripts/lib/wine10-chroot.sh umount
    trap - EXIT
    ;;
  esac
done
exit $status
