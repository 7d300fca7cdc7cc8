#!/usr/bin/env bash
# Every internal header of the library stands on its own (src/common's
# internal.h promises it: a file may include just the concern it needs).
# Each header compiles alone as C11 with -Wall -Wextra -Werror; the ones
# that name no platform type (compiler.h, errors.h, checks.h, table.h,
# xlat.h, codec.h, guard.h) compile with no platform directory on the
# include path at all.
#   internal_headers_test.sh CC ROOT PLATFORM_DIR...
# (PLATFORM_DIRS as the library is built with: src/unix src/linux, or
# src/win32; relative to ROOT.)
set -euo pipefail
cc=$1 root=$2
shift 2
platform=()
for d in "$@"; do platform+=(-I"$root/$d"); done
portable=" compiler.h errors.h checks.h table.h xlat.h codec.h guard.h "
defs=(-D_GNU_SOURCE)
case $cc in *mingw*) defs=(-D__USE_MINGW_ANSI_STDIO=1 -D_WIN32_WINNT=0x0A00 -DWIN32_LEAN_AND_MEAN) ;; esac
fail=0 n=0
check() { # check LABEL HEADER INCLUDE_FLAGS...
  local label=$1 h=$2
  shift 2
  n=$((n + 1))
  if ! printf '#include "%s"\ntypedef int shmap_internal_header_test_unit;\n' "$h" |
       "$cc" -std=c11 -Wall -Wextra -Werror "${defs[@]}" -I"$root/include" "$@" \
         -x c -fsyntax-only -; then
    echo "internal_headers_test: $label does not compile on its own"
    fail=$((fail + 1))
  fi
}
for path in "$root"/src/common/*.h; do
  h=$(basename "$path")
  check "src/common/$h" "$h" -I"$root/src/common" "${platform[@]}"
  if [[ $portable == *" $h "* ]]; then
    check "src/common/$h (no platform directory)" "$h" -I"$root/src/common"
  fi
done
for d in "$@"; do
  for path in "$root/$d"/*.h; do
    [ -e "$path" ] || continue
    check "$d/$(basename "$path")" "$(basename "$path")" -I"$root/src/common" "${platform[@]}"
  done
done
echo "internal_headers_test: $((n - fail)) passed, $fail failed"
[ "$fail" -eq 0 ]
