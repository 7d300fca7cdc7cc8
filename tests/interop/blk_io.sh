#!/usr/bin/env bash
# shmap interop: block I/O through a real virtqueue, from a shmap front end
# (examples/vmm-blk) to two vhost-user-blk back ends serving the same kind
# of image:
#   - qemu-storage-daemon (libvhost-user), peer `qsd` of peers.sh;
#   - shmap's own device, `shmap serve --role backend --device blk --image`.
#
#   tests/interop/blk_io.sh [BUILD_DIR]        default build/gcc-debug
#
# For each back end: make a 16 MiB image whose every byte is known (vmm-blk
# --make-image), start the back end on it, run vmm-blk against it (known
# sectors read and checked byte for byte, 128 KiB written and read back at
# queue depth 1, 16 and 32, GET_ID, FLUSH, a read past the end refused,
# GET_VRING_BASE, REM_MEM_REG checked in the back end's /proc/PID/maps,
# GET_FEATURES after it), stop the back end, and check the image file
# itself: the bytes written by the run at their place, every other byte as
# made. Then the two runs must have passed the same checks.
#
# Exit 0 when every case passed, 1 when one failed, 77 (skip) when no back
# end can be run here and this is not CI (CI=true, or SHMAP_INTEROP_REQUIRE
# naming qsd, makes a missing qsd a failure, as tests/interop/run.sh does).
# A back end that cannot run while the other can is a SKIP line. Every wait
# is bounded; every process is ended by its pid.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build/gcc-debug}
case $build in /*) ;; *) build=$root/$build ;; esac
# shellcheck source=tests/interop/peers.sh
source "$here/peers.sh"

ex=$build/bin/vmm-blk
tool=$build/bin/shmap
SEED=${BLK_IO_SEED:-20261202}
IMG_BYTES=$((16 << 20))
RUN_S=120 # bound on one vmm-blk run (it bounds each wait itself: 10 s)
require=" ${SHMAP_INTEROP_REQUIRE:-} "
[ "${CI:-}" = true ] && require="$require qsd shmap-blk "
passed=0 failed=0 skipped=0
serve_pid=''

cleanup() {
  if [ -n "$serve_pid" ] && kill -0 "$serve_pid" 2>/dev/null; then
    kill -TERM "$serve_pid" 2>/dev/null || true
    wait "$serve_pid" 2>/dev/null || true
  fi
  peer_cleanup
}
trap cleanup EXIT

ok() { echo "PASS $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1: $2"; failed=$((failed + 1)); }
skip() {
  if [[ $require == *" $1 "* ]]; then
    bad "$2" "required back end $1 unavailable: $3"
  else
    echo "SKIP $2: $3"
    skipped=$((skipped + 1))
  fi
}

[ -x "$ex" ] && [ -x "$tool" ] || { echo "build $build first (vmm-blk, shmap)"; exit 1; }

# check_run NAME OUT RC IMG: the example's verdict and the image on disk.
check_run() {
  local name=$1 out=$2 rc=$3 img=$4 at
  sed 's/^/    /' "$out"
  if [ "$rc" -ne 0 ] || ! grep -q '^vmm-blk: OK' "$out"; then
    bad "$name" "vmm-blk exited $rc"
    return 1
  fi
  # Where the run wrote (it says so): sector of the 64 KiB write.
  at=$(sed -n 's/^PASS write-64k *64 KiB at sector \([0-9]*\).*/\1/p' "$out")
  [ -n "$at" ] || { bad "$name" "no write-64k line"; return 1; }
  local chk crc=0
  chk=$("$ex" --check-image "$img" "$SEED" "$at" 2>&1) || crc=$?
  sed 's/^/    /' <<<"$chk"
  if [ "$crc" -ne 0 ]; then
    bad "$name" "the image file does not hold what the run wrote where it wrote it"
    return 1
  fi
  ok "$name"
}

# ---- qemu-storage-daemon ----
qsd_out=''
qsd_case() {
  local name="vmm-blk -> qemu-storage-daemon" dir img pid out rc=0
  peer_available qsd || { skip qsd "$name" "$PEER_WHY"; return; }
  dir=$(peer_sockdir qsd)
  img=$dir/disk.img
  "$ex" --make-image "$img" "$IMG_BYTES" "$SEED"
  if ! PEER_QSD_BLOCKDEV="driver=file,filename=$img,node-name=n0" \
    peer_start qsd "$dir/qsd.sock" >/dev/null; then
    bad "$name" "could not start qemu-storage-daemon"
    return
  fi
  pid=$PEER_PID
  out=$dir/vmm-blk.out
  timeout "$RUN_S" "$ex" "$dir/qsd.sock" --seed "$SEED" --peer-pid "$pid" \
    >"$out" 2>&1 || rc=$?
  # qsd keeps serving after the front end leaves; it must still be alive.
  if ! peer_alive "$pid"; then
    rc=1
    echo "vmm-blk: FAIL qemu-storage-daemon died" >>"$out"
    tail -n 10 "$PEER_LOG" 2>/dev/null | sed 's/^/    qsd: /' || true
  fi
  peer_stop "$pid" >/dev/null 2>&1 || true
  check_run "$name ($(peer_version qsd))" "$out" "$rc" "$img" && qsd_out=$out
}

# ---- shmap's own device ----
dev_out=''
device_case() {
  local name="vmm-blk -> shmap serve --device blk --image" dir img out rc=0 end
  local help
  help=$("$tool" serve --help 2>&1 || true) # read whole (an older tool exited 2 here)
  if [[ $help != *--image* ]]; then
    skip shmap-blk "$name" "this build's shmap serve has no --image (examples/vhost-user-blk not built)"
    return
  fi
  dir=$(peer_sockdir qsd)
  img=$dir/disk.img
  "$ex" --make-image "$img" "$IMG_BYTES" "$SEED"
  "$tool" serve --listen "$dir/blk.sock" --role backend --device blk \
    --image "$img" --timeout 30 >"$dir/serve.jsonl" 2>"$dir/serve.err" &
  serve_pid=$!
  end=$((SECONDS + 20))
  while ! peer_listening "$serve_pid" "$dir/blk.sock" && ((SECONDS < end)); do
    kill -0 "$serve_pid" 2>/dev/null || break
    sleep 0.05
  done
  if ! peer_listening "$serve_pid" "$dir/blk.sock"; then
    bad "$name" "shmap serve did not listen within 20 s"
    tail -n 10 "$dir/serve.err" | sed 's/^/    /'
    return
  fi
  out=$dir/vmm-blk.out
  timeout "$RUN_S" "$ex" "$dir/blk.sock" --seed "$SEED" --peer-pid "$serve_pid" \
    >"$out" 2>&1 || rc=$?
  # serve ends once its one peer has gone; bounded wait, then TERM.
  end=$((SECONDS + 20))
  while kill -0 "$serve_pid" 2>/dev/null && ((SECONDS < end)); do sleep 0.05; done
  if kill -0 "$serve_pid" 2>/dev/null; then
    bad "$name" "shmap serve did not end after vmm-blk left"
    kill -TERM "$serve_pid" 2>/dev/null || true
  fi
  wait "$serve_pid" 2>/dev/null || true
  serve_pid=''
  if [ "$rc" -ne 0 ]; then
    tail -n 15 "$dir/serve.err" "$dir/serve.jsonl" 2>/dev/null | sed 's/^/    serve: /'
  fi
  check_run "$name" "$out" "$rc" "$img" && dev_out=$out
}

# A case that fails says so and counts; the next one runs all the same.
qsd_case || true
device_case || true

# Same results: the same checks passed against both back ends (the details —
# feature words, the device's ID — may differ).
if [ -n "$qsd_out" ] && [ -n "$dev_out" ]; then
  if diff <(awk '/^(PASS|FAIL|skip)/ { print $1, $2 }' "$qsd_out") \
    <(awk '/^(PASS|FAIL|skip)/ { print $1, $2 }' "$dev_out") >/dev/null; then
    ok "same checks passed against both back ends"
  else
    bad "same results" "the two back ends passed different checks:"
    diff <(awk '/^(PASS|FAIL|skip)/ { print $1, $2 }' "$qsd_out") \
      <(awk '/^(PASS|FAIL|skip)/ { print $1, $2 }' "$dev_out") | sed 's/^/    /' || true
  fi
fi

# No process left: every peer stopped, serve reaped.
left=$(peer_pids)
[ -z "$left" ] || bad "no leftover processes" "still running: $left"

echo "blk_io: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] || exit 1
[ "$passed" -gt 0 ] || exit 77
exit 0
