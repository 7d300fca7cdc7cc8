#!/usr/bin/env bash
# shmap as an installed package, used the way another project would use it.
#
# Native: build shmap (release) in build/pkg-native, `cmake --install` it
# into a temporary prefix, check what was installed (only shmap_* symbols
# exported, a versioned SONAME), then build this directory's consumer
# against the prefix with find_package (shared, static, C++) and with
# pkg-config (shared and static, after moving the prefix), and run each.
# Also the API reference (tests/docs_check.sh).
# Windows (unless "native"): the same with the mingw-w64 toolchain in
# build/pkg-mingw; the DLL's export table holds only shmap_*, and the
# consumers run under Wine (prefix build/wineprefix-pkg).
#
#   tests/consumer/run.sh [all|native]
#
# One line per check, the failing ones with their output; the last line
# counts them. Exits non-zero when any check failed.
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib/common.sh"
cd "$SHMAP_ROOT"

what=${1:-all}
need_pkgs "${SHMAP_NATIVE_PKGS[@]}" binutils doxygen
[ "$what" = native ] || need_pkgs mingw-w64 wine wine64

start=$SECONDS
tmp=$(mktemp -d)
wine_prefix=$SHMAP_ROOT/build/wineprefix-pkg
cleanup() {
  if [ -d "$wine_prefix" ]; then WINEPREFIX=$wine_prefix wineserver -k 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
consumer=$SHMAP_ROOT/tests/consumer
warn=(-Wall -Wextra -Werror -pedantic)
passed=0 failed=()

# check NAME COMMAND...: run it quietly; show its output only on failure.
check() {
  local name=$1
  shift
  if "$@" >"$tmp/log" 2>&1; then
    printf 'ok    %s\n' "$name"
    passed=$((passed + 1))
  else
    printf 'FAIL  %s\n' "$name"
    tail -n 40 "$tmp/log" | sed 's/^/      /'
    failed+=("$name")
    return 1
  fi
}

# Configure, build and install shmap: $1 build dir, $2 prefix, then extra
# configure arguments.
build_install() {
  local dir=$1 prefix=$2
  shift 2
  cmake -S . -B "$dir" -G Ninja --fresh -DCMAKE_BUILD_TYPE=Release \
    -DSHMAP_BUILD_TESTS=OFF "$@" &&
    cmake --build "$dir" &&
    cmake --install "$dir" --prefix "$prefix"
}

# The functions the public headers declare with SHMAP_API, sorted.
api_names() {
  cat include/shmap/*.h | tr '\n' ' ' | grep -oE 'SHMAP_API [^;(]*\(' |
    sed -E 's/.*[ *]([A-Za-z0-9_]+) *\($/\1/' | grep '^shmap_' | sort -u
}

# $1 a file of exported names: exactly the API, nothing internal or foreign.
exports_are_api() {
  sort -u "$1" >"$1.sorted"
  if ! diff <(api_names) "$1.sorted"; then
    echo "exports differ from the headers' SHMAP_API functions (<: not exported, >: not declared)"
    return 1
  fi
  echo "$(wc -l <"$1.sorted") exports, all shmap_*, all declared"
}

nm_exports() {
  nm -D --defined-only "$1" | awk '{print $NF}' >"$tmp/so.names" &&
    exports_are_api "$tmp/so.names"
}

soname_versioned() {
  local lib=$1 v
  # While the major version is 0 the SONAME carries MAJOR.MINOR.
  v=$(sed -n 's/^#define SHMAP_VERSION_MAJOR \([0-9]*\)$/\1/p' include/shmap/version.h)
  [ "$v" = 0 ] && v=0.$(sed -n 's/^#define SHMAP_VERSION_MINOR \([0-9]*\)$/\1/p' include/shmap/version.h)
  readelf -d "$lib" | grep "Library soname: \[libshmap.so.$v\]" &&
    [ -L "$(dirname "$lib")/libshmap.so.$v" ]
}

# No libshmap.so among the program's needs: the archive was linked in.
static_linked() {
  ! readelf -d "$1" | grep -q 'NEEDED.*libshmap' && "$1"
}

# Build tests/consumer/consumer.c with pkg-config and run it: $1 compiler,
# $2 module, $3 output, then what to run it with (env settings, wine_run).
pc_run() {
  local cc=$1 module=$2 out=$3
  shift 3
  # shellcheck disable=SC2046 # pkg-config prints separate words
  "$cc" -std=c11 "${warn[@]}" "$consumer/consumer.c" -o "$out" \
    $(pkg-config --cflags --libs "$module") && "$@" "$out"
}

consumer_cmake() { # $1 build dir, then configure arguments
  local dir=$1
  shift
  cmake -S "$consumer" -B "$dir" -G Ninja "$@" && cmake --build "$dir"
}

native() {
  local prefix=$tmp/native moved=$tmp/native-moved build=$tmp/consumer-native
  say "native: install, exports, consumers"
  check "build and install shmap (build/pkg-native)" \
    build_install build/pkg-native "$prefix" -DCMAKE_C_COMPILER=gcc || return 0
  check "libshmap.so exports only the API (nm -D)" nm_exports "$prefix/lib/libshmap.so" || true
  check "SONAME libshmap.so.MAJOR[.MINOR while 0.x] (readelf -d)" soname_versioned "$prefix/lib/libshmap.so" || true
  check "installed tool runs (RPATH \$ORIGIN/../lib)" "$prefix/bin/shmap" info || true
  if check "find_package(shmap 0.1 CONFIG): configure and build (gcc, g++)" \
       consumer_cmake "$build" -DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++ \
       -DCMAKE_PREFIX_PATH="$prefix"; then
    check "shmap::shmap, C (build RPATH)" "$build/consumer" || true
    check "shmap::shmap_static, C" static_linked "$build/consumer_static" || true
    check "shmap::shmap, C++17" "$build/consumer_cxx" || true
  fi
  # pkg-config paths are relative to the .pc file: the prefix may move.
  mv "$prefix" "$moved"
  export PKG_CONFIG_PATH=$moved/lib/pkgconfig
  check "pkg-config shmap, gcc (prefix moved; LD_LIBRARY_PATH)" \
    pc_run gcc shmap "$tmp/pc-gcc" env LD_LIBRARY_PATH="$moved/lib" || true
  check "pkg-config shmap, clang (prefix moved; LD_LIBRARY_PATH)" \
    pc_run clang shmap "$tmp/pc-clang" env LD_LIBRARY_PATH="$moved/lib" || true
  check "pkg-config shmap_static, gcc (no libshmap.so needed)" \
    pc_run gcc shmap_static "$tmp/pc-static" static_linked || true
  unset PKG_CONFIG_PATH
  check "API reference: doxygen, no warnings (tests/docs_check.sh)" bash tests/docs_check.sh || true
}

# Export names of a DLL from its export table (objdump -p).
dll_exports() {
  x86_64-w64-mingw32-objdump -p "$1" |
    sed -n '/^\[Ordinal\/Name Pointer\] Table/,/^$/p' |
    sed -n 's/^[[:space:]]*\[ *[0-9]*\] //p' >"$tmp/dll.names" &&
    exports_are_api "$tmp/dll.names"
}

# Nothing to ship beside libshmap.dll: only system DLLs imported.
dll_imports_system_only() {
  local own
  own=$(x86_64-w64-mingw32-objdump -p "$1" | sed -n 's/^[[:space:]]*DLL Name: //p' |
        grep -viE '^(kernel32|advapi32|msvcrt|ntdll|user32)\.dll$' || true)
  [ -z "$own" ] || { echo "imports non-system DLLs: $own"; return 1; }
}

wine_run() {
  WINEDEBUG=-all WINEPREFIX=$wine_prefix scripts/lib/wine-run "$@"
}

# No libshmap.dll among the program's imports: the archive was linked in.
# No libshmap.dll import, and no export table: the archive's objects carry
# no dllexport that would make the program export shmap_* itself.
win_static_linked() {
  local dump
  dump=$(x86_64-w64-mingw32-objdump -p "$1")
  ! grep -qi 'DLL Name: libshmap' <<<"$dump" &&
    ! grep -q 'There is an export table' <<<"$dump" && wine_run "$1"
}

windows() {
  local prefix=$tmp/win build=$tmp/consumer-win wine
  local toolchain=$SHMAP_ROOT/toolchains/mingw-w64-x86_64.cmake
  say "Windows (mingw-w64, Wine): install, exports, consumers"
  check "build and install shmap (build/pkg-mingw)" \
    build_install build/pkg-mingw "$prefix" --toolchain "$toolchain" || return 0
  check "bin/libshmap.dll and its import library lib/libshmap.dll.a" \
    test -f "$prefix/bin/libshmap.dll" -a -f "$prefix/lib/libshmap.dll.a" || true
  check "libshmap.dll exports only the API (objdump -p)" dll_exports "$prefix/bin/libshmap.dll" || true
  check "libshmap.dll imports system DLLs only" \
    dll_imports_system_only "$prefix/bin/libshmap.dll" || true
  # The toolchain searches packages under its sysroot and on the host alike
  # (CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH, toolchains/), so a prefix path
  # would find this install too; naming the package directory makes sure
  # it is this one and no other.
  check "find_package(shmap 0.1 CONFIG): configure and build (mingw gcc, g++)" \
    consumer_cmake "$build" --toolchain "$toolchain" \
    -Dshmap_DIR="$prefix/lib/cmake/shmap" || return 0
  mkdir -p "$wine_prefix"
  (WINEPREFIX=$wine_prefix wineserver -p 2>/dev/null &) # one server for all runs
  wine=$(wine --version 2>/dev/null)
  check "shmap::shmap, C, under $wine (libshmap.dll copied beside it)" \
    wine_run "$build/consumer.exe" || true
  check "shmap::shmap_static, C, under Wine (no DLL)" \
    win_static_linked "$build/consumer_static.exe" || true
  check "shmap::shmap, C++17, under Wine" wine_run "$build/consumer_cxx.exe" || true
  export PKG_CONFIG_LIBDIR=$prefix/lib/pkgconfig # the target's .pc files only
  check "pkg-config shmap, mingw gcc, under Wine (libshmap.dll on WINEPATH)" \
    pc_run x86_64-w64-mingw32-gcc-win32 shmap "$tmp/pc.exe" \
    env WINEPATH="$prefix/bin" WINEDEBUG=-all WINEPREFIX="$wine_prefix" scripts/lib/wine-run || true
  unset PKG_CONFIG_LIBDIR
}

native
[ "$what" = native ] || windows

echo
[ ${#failed[@]} -eq 0 ] || echo "consumer FAILED: ${failed[*]}"
echo "consumer: ${passed} passed, ${#failed[@]} failed ($((SECONDS - start)) s)"
[ ${#failed[@]} -eq 0 ]
