#!/usr/bin/env bash
# shmap benchmarks — the region exchange against real vhost-user back ends.
#
#   bench/vhost-peers.sh [--runs N] [--quick] [--build DIR] [--json FILE]
#
# Builds the release preset if needed, then for each run starts the real back
# ends that are installed — qemu-storage-daemon (libvhost-user), virtiofsd
# (rust-vmm, from the Debian 13 chroot), dpdk-testpmd (net_vhost) — with
# bounded waits, runs `shmap-bench --only vhost --json --vhost-qsd SOCK
# --vhost-virtiofsd SOCK --vhost-dpdk SOCK` (the bench forks shmap's own back
# end itself), stops every peer by its pid, and prints the table: ns per
# exchange for each back end and its ratio to shmap's back end (peer /
# shmap: above 1, shmap's is faster). A peer that is not installed, or does
# not come up, is reported as skipped. Needs root for the chroot (virtiofsd).
#
# Environment: SHMAP_TRIXIE_ROOT (default /var/cache/shmap/trixie-wine).
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$ROOT/build/release
RUNS=1
QUICK=
JSON_OUT=
while [ $# -gt 0 ]; do
  case $1 in
    --runs) RUNS=$2; shift 2 ;;
    --quick) QUICK=--quick; shift ;;
    --build) BUILD=$2; shift 2 ;;
    --json) JSON_OUT=$2; shift 2 ;;
    *) echo "usage: $0 [--runs N] [--quick] [--build DIR] [--json FILE]" >&2
       exit 2 ;;
  esac
done
TRIXIE=${SHMAP_TRIXIE_ROOT:-/var/cache/shmap/trixie-wine}
VIRTIOFSD=/usr/libexec/virtiofsd # inside the chroot
READY_S=20 # longest wait for a peer to listen (testpmd's EAL takes ~1-5 s)
STOP_S=10  # longest wait for a peer to end after SIGTERM

log() { echo "vhost-peers: $*" >&2; }

# ---- build ----
if [ "$BUILD" = "$ROOT/build/release" ]; then
  [ -f "$BUILD/build.ninja" ] || (cd "$ROOT" && cmake --preset release >/dev/null) || exit 1
else
  [ -f "$BUILD/build.ninja" ] || cmake -S "$ROOT" -B "$BUILD" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release >/dev/null || exit 1
fi
cmake --build "$BUILD" --target shmap_bench >"$BUILD/vhost-peers-build.log" 2>&1 ||
  { tail -20 "$BUILD/vhost-peers-build.log" >&2; exit 1; }
BENCH=$BUILD/bin/shmap-bench
[ -x "$BENCH" ] || { log "no $BENCH"; exit 1; }

# ---- peers ----
WORK=$(mktemp -d /tmp/shmap-vhost.XXXXXX)
CWORK= # the chroot's work dir (host path)
PIDS=()
PROC_MOUNTED=

# Is a socket listening at PATH (as the peer's own namespace names it)?
# /proc/net/unix, flag SO_ACCEPTCON: no connect, which would use up the one
# connection virtiofsd serves.
listening() {
  awk -v p="$1" '$4 == "00010000" && $NF == p { f = 1 } END { exit !f }' \
    /proc/net/unix
}

# wait_listen PID PATH NAME: bounded; 0 when listening, 1 when it died or
# timed out (then it is stopped).
wait_listen() {
  local end=$((SECONDS + READY_S))
  while [ $SECONDS -lt $end ]; do
    listening "$2" && return 0
    kill -0 "$1" 2>/dev/null || { log "$3 exited while starting"; return 1; }
    sleep 0.05
  done
  log "$3 not listening after ${READY_S}s"
  stop_pid "$1"
  return 1
}

# stop_pid PID: SIGTERM, bounded wait, then SIGKILL. Only our own children.
stop_pid() {
  local pid=$1 end=$((SECONDS + STOP_S))
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
  kill -TERM "$pid" 2>/dev/null
  while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $end ]; do sleep 0.05; done
  if kill -0 "$pid" 2>/dev/null; then
    log "pid $pid ignored SIGTERM for ${STOP_S}s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null
  return 0
}

stop_all() {
  local pid
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  PIDS=()
}

cleanup() {
  stop_all
  rm -rf "$WORK"
  [ -n "$CWORK" ] && rm -rf "$CWORK"
  if [ -n "$PROC_MOUNTED" ]; then
    # Unmount only what we mounted, and only if nothing else runs in there.
    local p busy=
    for p in /proc/[0-9]*; do
      [ "$(readlink "$p/root" 2>/dev/null)" = "$TRIXIE" ] && busy=1
    done
    [ -z "$busy" ] && umount "$TRIXIE/proc" 2>/dev/null
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ARGS=()
SKIPPED=()

start_qsd() {
  if ! command -v qemu-storage-daemon >/dev/null; then
    SKIPPED+=("qemu-storage-daemon: not installed"); return
  fi
  local s=$WORK/qsd.sock
  qemu-storage-daemon \
    --blockdev driver=null-co,node-name=n0,size=67108864 \
    --export type=vhost-user-blk,id=e0,node-name=n0,addr.type=unix,addr.path=$s,writable=on \
    >"$WORK/qsd.log" 2>&1 &
  local pid=$!
  if wait_listen $pid "$s" qemu-storage-daemon; then
    PIDS+=($pid); ARGS+=(--vhost-qsd "$s")
  else
    SKIPPED+=("qemu-storage-daemon: did not start ($(tail -1 "$WORK/qsd.log"))")
  fi
}

start_virtiofsd() {
  if [ ! -x "$TRIXIE$VIRTIOFSD" ]; then
    SKIPPED+=("virtiofsd: not installed ($TRIXIE$VIRTIOFSD)"); return
  fi
  if ! mountpoint -q "$TRIXIE/proc"; then
    mount -t proc proc "$TRIXIE/proc" || {
      SKIPPED+=("virtiofsd: cannot mount /proc in $TRIXIE"); return; }
    PROC_MOUNTED=1
  fi
  [ -n "$CWORK" ] || CWORK=$(mktemp -d "$TRIXIE/tmp/shmap-vhost.XXXXXX")
  local in=/tmp/$(basename "$CWORK")
  rm -f "$CWORK/v.sock" "$CWORK/v.sock.pid"
  mkdir -p "$CWORK/share"
  chroot "$TRIXIE" $VIRTIOFSD --socket-path="$in/v.sock" \
    --shared-dir="$in/share" --sandbox=none >"$WORK/virtiofsd.log" 2>&1 &
  local pid=$!
  if wait_listen $pid "$in/v.sock" virtiofsd; then
    PIDS+=($pid); ARGS+=(--vhost-virtiofsd "$CWORK/v.sock")
  else
    SKIPPED+=("virtiofsd: did not start ($(tail -1 "$WORK/virtiofsd.log"))")
  fi
}

start_dpdk() {
  if ! command -v dpdk-testpmd >/dev/null; then
    SKIPPED+=("dpdk-testpmd: not installed"); return
  fi
  local s=$WORK/dpdk.sock
  rm -f "$WORK/dpdk.in"; mkfifo "$WORK/dpdk.in"
  # -i: interactive, no forwarding lcore busy-polling; stdin a FIFO opened
  # read-write so it never sees EOF.
  dpdk-testpmd -l 0-1 --no-huge -m 1024 --no-pci --no-shconf \
    --vdev "net_vhost0,iface=$s,queues=1" -- -i --total-num-mbufs=2048 \
    --nb-cores=1 <>"$WORK/dpdk.in" >"$WORK/dpdk.log" 2>&1 &
  local pid=$!
  if wait_listen $pid "$s" dpdk-testpmd; then
    PIDS+=($pid); ARGS+=(--vhost-dpdk "$s")
  else
    SKIPPED+=("dpdk-testpmd: did not start ($(tail -1 "$WORK/dpdk.log"))")
  fi
}

versions() {
  command -v qemu-storage-daemon >/dev/null &&
    qemu-storage-daemon --version | head -1
  [ -x "$TRIXIE$VIRTIOFSD" ] && mountpoint -q "$TRIXIE/proc" &&
    chroot "$TRIXIE" $VIRTIOFSD --version 2>/dev/null | head -1
  command -v dpdk-testpmd >/dev/null &&
    echo "dpdk-testpmd $(dpkg-query -W -f='${Version}' dpdk-dev 2>/dev/null)"
  echo "$(uname -sr), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
}

# Rows of the bench's JSON (one object a line) as a table: each back end's ns
# per exchange and its ratio to shmap's back end (peer / shmap).
table() {
  awk -F'"' '/"name"/ {
      name = $4; peer = $10
      split($0, a, /"ours_ns":|,"baseline":|"baseline_ns":|,"ratio":/)
      ours = a[2] + 0; base = a[4] + 0
      if (!(name in seen)) {
        seen[name] = 1
        printf "\n%s\n  %-42s %12.0f ns\n", name, "shmap back end (child process)", ours
      }
      if (peer != "-")
        printf "  %-42s %12.0f ns   x%.2f of shmap\n", peer, base, base / ours
    }' "$1"
}

ALL_JSON=$WORK/all.json
: >"$ALL_JSON"
status=0
for run in $(seq 1 "$RUNS"); do
  ARGS=(); SKIPPED=()
  start_qsd
  start_virtiofsd
  start_dpdk
  echo "== run $run/$RUNS"
  for s in "${SKIPPED[@]}"; do echo "skipped: $s"; done
  out=$WORK/run$run.json
  if timeout 900 "$BENCH" --only vhost --json $QUICK "${ARGS[@]}" >"$out" \
      2>"$WORK/bench.err"; then
    table "$out"
    cat "$out" >>"$ALL_JSON"
  else
    log "shmap-bench failed (rc $?)"; status=1
  fi
  [ -s "$WORK/bench.err" ] && sed 's/^/  bench: /' "$WORK/bench.err"
  stop_all
done
echo
echo "== machine"
versions
[ -n "$JSON_OUT" ] && cp "$ALL_JSON" "$JSON_OUT"
exit $status
