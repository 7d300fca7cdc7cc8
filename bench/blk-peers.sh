#!/usr/bin/env bash
# shmap benchmarks — block reads through a real virtqueue, shmap's own
# vhost-user-blk device against qemu-storage-daemon.
#
#   bench/blk-peers.sh [BUILD_DIR] [--seconds S] [--runs N]
#
# BUILD_DIR defaults to build/release (configured and built here if needed:
# targets vmm-blk and shmap_cli). Makes a 64 MiB image (in the page cache
# after it is written, so both back ends read from memory), then for each
# run starts qemu-storage-daemon on it, runs `vmm-blk SOCK --bench`, stops
# it, starts `shmap serve --role backend --device blk --image` on the same
# image, runs the same workload, and stops it: random reads of 4 KiB and
# 64 KiB at queue depth 1 and 16 for S seconds each (default 3). Prints one
# table a run: ops/s for each back end and the ratio shmap device / qsd
# (above 1: shmap's device is faster), and each back end's CPU time per
# request (utime+stime of the whole process, all threads), which a busy
# host disturbs less than ops/s. Timings are printed, never asserted; a back end
# that cannot run is reported and its column left empty. Every wait is
# bounded; every process is ended by its pid.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$ROOT/build/release
SECS=3
RUNS=1
while [ $# -gt 0 ]; do
  case $1 in
  --seconds) SECS=$2; shift 2 ;;
  --runs) RUNS=$2; shift 2 ;;
  -*) echo "usage: $0 [BUILD_DIR] [--seconds S] [--runs N]" >&2; exit 2 ;;
  *) BUILD=$1; shift ;;
  esac
done
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
# shellcheck source=tests/interop/peers.sh
source "$ROOT/tests/interop/peers.sh"

log() { echo "blk-peers: $*" >&2; }

# ---- build ----
if [ ! -f "$BUILD/build.ninja" ]; then
  if [ "$BUILD" = "$ROOT/build/release" ]; then
    (cd "$ROOT" && cmake --preset release >/dev/null) || exit 1
  else
    cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null || exit 1
  fi
fi
cmake --build "$BUILD" --target vmm-blk shmap_cli >"$BUILD/blk-peers-build.log" 2>&1 ||
  { tail -20 "$BUILD/blk-peers-build.log" >&2; exit 1; }
EX=$BUILD/bin/vmm-blk
TOOL=$BUILD/bin/shmap

serve_pid=''
WORK=''
cleanup() {
  if [ -n "$serve_pid" ] && kill -0 "$serve_pid" 2>/dev/null; then
    kill -TERM "$serve_pid" 2>/dev/null || true
    wait "$serve_pid" 2>/dev/null || true
  fi
  peer_cleanup
}
trap cleanup EXIT
trap 'exit 130' INT TERM

WORK=$(peer_sockdir qsd)
IMG=$WORK/bench.img
"$EX" --make-image "$IMG" $((64 << 20)) 1
cat "$IMG" >/dev/null # into the page cache
BENCH_S=$((4 * (SECS + 1) + 60)) # bound on one vmm-blk --bench run

# run_qsd OUT: the workload against qemu-storage-daemon; 1 if it could not run.
run_qsd() {
  local out=$1 pid rc=0
  peer_available qsd || { log "qsd: $PEER_WHY"; return 1; }
  PEER_QSD_BLOCKDEV="driver=file,filename=$IMG,node-name=n0" \
    peer_start qsd "$WORK/qsd.sock" >/dev/null || { log "qsd did not start"; return 1; }
  pid=$PEER_PID
  timeout "$BENCH_S" "$EX" "$WORK/qsd.sock" --bench --seconds "$SECS" \
    --peer-pid "$pid" >"$out" 2>&1 || rc=$?
  peer_stop "$pid" >/dev/null 2>&1 || true
  [ "$rc" -eq 0 ] || { log "vmm-blk against qsd exited $rc"; tail -5 "$out" >&2; return 1; }
}

# run_dev OUT: the workload against shmap's device; 1 if it could not run.
run_dev() {
  local out=$1 rc=0 end sock=$WORK/dev.sock
  local help
  help=$("$TOOL" serve --help 2>&1 || true) # read whole (an older tool exited 2 here)
  if [[ $help != *--image* ]]; then
    log "shmap serve has no --image in $BUILD (the blk device is not built)"
    return 1
  fi
  rm -f "$sock"
  "$TOOL" serve --listen "$sock" --role backend --device blk --image "$IMG" \
    --timeout 30 >/dev/null 2>"$WORK/serve.err" &
  serve_pid=$!
  end=$((SECONDS + 20))
  while ! peer_listening "$serve_pid" "$sock" && ((SECONDS < end)); do
    kill -0 "$serve_pid" 2>/dev/null || break
    sleep 0.05
  done
  if peer_listening "$serve_pid" "$sock"; then
    timeout "$BENCH_S" "$EX" "$sock" --bench --seconds "$SECS" \
      --peer-pid "$serve_pid" >"$out" 2>&1 || rc=$?
  else
    log "shmap serve did not listen"; rc=1
  fi
  end=$((SECONDS + 10))
  while kill -0 "$serve_pid" 2>/dev/null && ((SECONDS < end)); do sleep 0.05; done
  kill -TERM "$serve_pid" 2>/dev/null || true
  wait "$serve_pid" 2>/dev/null || true
  serve_pid=''
  [ "$rc" -eq 0 ] || { log "vmm-blk against the shmap device exited $rc"; tail -5 "$out" "$WORK/serve.err" >&2; return 1; }
}

# Field KEY (ops_per_s, peer_cpu_us_per_op) of one row (BS QD) of a --bench
# output, or empty.
field() {
  awk -v bs="$2" -v qd="$3" -v key="\"$4\"" -F'[:,}]' '/"bench"/ {
      delete k
      for (i = 1; i < NF; i++) { k[$i] = $(i + 1) }
      if (k["\"bs\""] == bs && k["\"qd\""] == qd && key in k) print k[key]
    }' "$1" 2>/dev/null || true
}

for run in $(seq 1 "$RUNS"); do
  q=$WORK/qsd.$run d=$WORK/dev.$run
  run_qsd "$q" || : >"$q"
  run_dev "$d" || : >"$d"
  echo "== run $run/$RUNS: random reads of a 64 MiB image in the page cache, ${SECS} s a row"
  printf '%-7s %3s %10s %10s %9s   %15s %15s\n' "size" "qd" "qsd ops/s" \
    "dev ops/s" "dev / qsd" "qsd CPU us/op" "dev CPU us/op"
  for bs in 4096 65536; do
    for qd in 1 16; do
      a=$(field "$q" "$bs" "$qd" ops_per_s) b=$(field "$d" "$bs" "$qd" ops_per_s)
      ca=$(field "$q" "$bs" "$qd" peer_cpu_us_per_op) cb=$(field "$d" "$bs" "$qd" peer_cpu_us_per_op)
      r=''
      [ -n "$a" ] && [ -n "$b" ] && r=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "x%.2f", b / a }')
      printf '%-7s %3s %10s %10s %9s   %15s %15s\n' "$((bs / 1024)) KiB" "$qd" "${a:--}" \
        "${b:--}" "${r:--}" "${ca:--}" "${cb:--}"
    done
  done
done
echo
echo "== machine"
peer_version qsd 2>/dev/null || true
echo "$(uname -sr), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
