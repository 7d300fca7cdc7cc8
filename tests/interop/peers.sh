# shellcheck shell=bash
# shmap interop — start, watch and stop real vhost-user peers.
# Source it (bash); do not run it. Safe under `set -euo pipefail`.
#
#   source tests/interop/peers.sh
#   trap peer_cleanup EXIT
#   peer_available qsd || { echo "SKIP: $PEER_WHY"; exit 77; }
#   dir=$(peer_sockdir qsd)
#   pid=$(peer_start qsd "$dir/s.sock")       # or: peer_start qsd ...; pid=$PEER_PID
#   ...talk to "$dir/s.sock"...; peer_maps "$pid"
#   peer_stop "$pid"
#
# Peers (see tests/interop/README.md for what each one does differently):
#   back ends, listening on SOCK:  qsd  gpu  dpdk  virtiofsd
#   front ends, connecting to SOCK: qemu72  qemu10
# virtiofsd and qemu10 run inside the Debian 13 chroot ($PEER_CHROOT, made by
# scripts/lib/wine10-chroot.sh setup). Every path they see (SOCK, files named
# in extra arguments) must lie under $PEER_CHROOT; peer_sockdir hands out such
# a directory and peer_inner_path translates a host path to the chroot's view.
#
# Every wait is bounded (PEER_TIMEOUT, PEER_STOP_TIMEOUT seconds). Every
# process is ended by its pid, checked against the start time recorded when it
# was started, so a recycled pid is never signalled. Temporary directories are
# removed by peer_stop / peer_cleanup. Records live in $PEER_STATE, shared by
# subshells (so `pid=$(peer_start ...)` is fine).

: "${PEER_TIMEOUT:=30}"        # seconds a start may take until ready (dpdk: 2-8 s)
: "${PEER_STOP_TIMEOUT:=5}"    # seconds between TERM and KILL
: "${PEER_CHROOT:=${SHMAP_WINE10_ROOT:-/var/cache/shmap/trixie-wine}}"
: "${PEER_QEMU_MEM:=256M}"     # guest RAM of the qemu front ends
# appended to the qemu front ends' vhost-user-blk-pci -device string, e.g.
# PEER_QEMU_BLK_OPTS=,bootindex=1
: "${PEER_QEMU_BLK_OPTS:=}"
# qsd's block node (must be named n0): a 64 MiB null device unless set, e.g.
# PEER_QSD_BLOCKDEV=driver=file,filename=/path/disk.img,node-name=n0
: "${PEER_QSD_BLOCKDEV:=driver=null-co,node-name=n0,size=67108864}"
: "${PEER_STATE:=${TMPDIR:-/tmp}/shmap-peers.$$}"
export PEER_TIMEOUT PEER_STOP_TIMEOUT PEER_CHROOT PEER_QEMU_MEM PEER_QEMU_BLK_OPTS PEER_QSD_BLOCKDEV PEER_STATE

PEER_PID=''   # pid of the last peer_start
PEER_DIR=''   # its private directory (log, fifo, shared dir)
PEER_LOG=''   # its stdout+stderr
PEER_WHY=''   # why the last peer_available / peer_start said no
PEER_RC=''    # exit status seen by the last peer_stop / peer_wait_exit, when known

PEER_NAMES='qsd gpu dpdk virtiofsd qemu72 qemu10'

_peer_err() { printf 'peers.sh: %s\n' "$*" >&2; }

# Binary of NAME, as seen from where it runs (inside the chroot for
# virtiofsd and qemu10).
_peer_bin() {
  case $1 in
  qsd) echo "${PEER_QSD_BIN:-/usr/bin/qemu-storage-daemon}" ;;
  gpu) echo "${PEER_GPU_BIN:-/usr/lib/qemu/vhost-user-gpu}" ;;
  dpdk) echo "${PEER_TESTPMD_BIN:-/usr/bin/dpdk-testpmd}" ;;
  qemu72) echo "${PEER_QEMU72_BIN:-/usr/bin/qemu-system-x86_64}" ;;
  virtiofsd) echo /usr/libexec/virtiofsd ;;
  qemu10) echo /usr/bin/qemu-system-x86_64 ;;
  *) return 1 ;;
  esac
}

_peer_in_chroot() { [ "$1" = virtiofsd ] || [ "$1" = qemu10 ]; }
_peer_is_frontend() { [ "$1" = qemu72 ] || [ "$1" = qemu10 ]; }

# /proc and /dev inside the chroot (virtiofsd exits at once without /proc).
# Mounting is idempotent; nothing here ever unmounts.
_peer_chroot_mounts() {
  [ -x "$PEER_CHROOT/usr/bin/env" ] || { PEER_WHY="no chroot at $PEER_CHROOT (scripts/lib/wine10-chroot.sh setup)"; return 1; }
  if ! mountpoint -q "$PEER_CHROOT/proc"; then
    mount -t proc proc "$PEER_CHROOT/proc" 2>/dev/null \
      || { PEER_WHY="cannot mount /proc in $PEER_CHROOT (needs root)"; return 1; }
  fi
  if ! mountpoint -q "$PEER_CHROOT/dev"; then
    mount --bind /dev "$PEER_CHROOT/dev" 2>/dev/null \
      || { PEER_WHY="cannot bind /dev in $PEER_CHROOT (needs root)"; return 1; }
  fi
}

# peer_available NAME: 0 if NAME can be started here; else 1 with the reason
# in PEER_WHY (print it as the SKIP reason).
peer_available() {
  local name=${1-} bin
  PEER_WHY=''
  bin=$(_peer_bin "$name") || { PEER_WHY="unknown peer '$name' (one of: $PEER_NAMES)"; return 1; }
  if _peer_in_chroot "$name"; then
    [ "$(id -u)" -eq 0 ] || { PEER_WHY="$name runs in a chroot: needs root"; return 1; }
    [ -x "$PEER_CHROOT$bin" ] || { PEER_WHY="$name: $PEER_CHROOT$bin missing (scripts/lib/wine10-chroot.sh setup)"; return 1; }
    _peer_chroot_mounts || return 1
  else
    [ -x "$bin" ] || { PEER_WHY="$name: $bin missing"; return 1; }
  fi
  return 0
}

# peer_version NAME: one line naming the version.
peer_version() {
  local name=${1-} bin out
  bin=$(_peer_bin "$name") || { _peer_err "unknown peer '$name'"; return 1; }
  case $name in
  qsd | qemu72) out=$("$bin" --version 2>/dev/null | sed -n 1p) ;;
  qemu10) out=$(chroot "$PEER_CHROOT" "$bin" --version 2>/dev/null | sed -n 1p) ;;
  virtiofsd) out=$(chroot "$PEER_CHROOT" "$bin" --version 2>/dev/null | sed -n 1p) ;;
  gpu) out="vhost-user-gpu (qemu-system-gui $(dpkg-query -W -f='${Version}' qemu-system-gui 2>/dev/null || echo '?'))" ;;
  dpdk) out="dpdk-testpmd (dpdk-dev $(dpkg-query -W -f='${Version}' dpdk-dev 2>/dev/null || echo '?'))" ;;
  esac
  [ -n "${out-}" ] || { _peer_err "$name: no version"; return 1; }
  printf '%s\n' "$out"
}

_peer_state() { mkdir -p "$PEER_STATE" && touch "$PEER_STATE/procs" "$PEER_STATE/dirs"; }

# Field 22 of /proc/PID/stat (start time in clock ticks); empty if gone.
_peer_starttime() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  stat=${stat##*) } # drop "pid (comm) ": f[0] is field 3 (state)
  local -a f
  read -r -a f <<<"$stat"
  printf '%s\n' "${f[19]-}" # field 22, starttime
}

# peer_alive PID: 0 if PID runs (a zombie counts as exited).
peer_alive() {
  local stat
  stat=$(cat "/proc/${1-x}/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat:0:1}" != Z ]
}

# peer_sockdir NAME: make and print a fresh directory for NAME's socket and
# files, visible to NAME (under $PEER_CHROOT/tmp for chroot peers). Removed
# by peer_cleanup.
peer_sockdir() {
  local name=${1-} base d
  _peer_bin "$name" >/dev/null || { _peer_err "unknown peer '$name'"; return 1; }
  _peer_state
  base=${TMPDIR:-/tmp}
  _peer_in_chroot "$name" && base=$PEER_CHROOT/tmp
  d=$(mktemp -d "$base/shmap-sock.XXXXXX")
  printf '%s\n' "$d" >>"$PEER_STATE/dirs"
  printf '%s\n' "$d"
}

# peer_inner_path PATH: PATH as a chroot peer sees it (PATH must lie under
# $PEER_CHROOT).
peer_inner_path() {
  case ${1-} in
  "$PEER_CHROOT"/*) printf '%s\n' "${1#"$PEER_CHROOT"}" ;;
  *) _peer_err "'${1-}' is not under $PEER_CHROOT: a chroot peer cannot reach it (use peer_sockdir)"; return 1 ;;
  esac
}

# The listening unix socket's inodes for PATH (from /proc/net/unix, flag
# __SO_ACCEPTCON 00010000).
_peer_listen_inodes() {
  awk -v p="$1" '$NF == p && $4 == "00010000" { print $7 }' /proc/net/unix 2>/dev/null || true
}

# peer_listening PID PATH: 0 if process PID holds a listening socket bound to
# PATH (PATH as the process sees it). Never connects: gpu and virtiofsd serve
# exactly one connection and then exit.
peer_listening() {
  local pid=$1 path=$2 ino fd
  for ino in $(_peer_listen_inodes "$path"); do
    for fd in /proc/"$pid"/fd/*; do
      [ "$(readlink "$fd" 2>/dev/null || true)" = "socket:[$ino]" ] && return 0
    done
  done
  return 1
}

# Front-end readiness: QEMU has mapped guest RAM (memfd "memory-backend-memfd"), which happens
# after its chardev connected to SOCK and before the vhost-user handshake.
_peer_frontend_ready() { grep -q 'memfd:memory-backend-memfd ' "/proc/$1/maps" 2>/dev/null; }

_peer_record() { printf '%s %s %s %s %s\n' "$1" "$2" "$3" "$4" "$5" >>"$PEER_STATE/procs"; }

# Record line of PID: "pid starttime name dir sock".
_peer_lookup() { awk -v p="$1" '$1 == p' "$PEER_STATE/procs" 2>/dev/null || true; }

# peer_start NAME SOCK [EXTRA...]: start NAME, wait (at most PEER_TIMEOUT s)
# until it is ready, print its pid and set PEER_PID, PEER_DIR, PEER_LOG.
#   back ends: ready = listening on SOCK (SOCK is made by the peer; a stale
#              socket file there is removed first).
#   qemu72/10: SOCK is the back end QEMU connects to (must be listening
#              already); ready = connected and guest RAM mapped. EXTRA is
#              appended to QEMU's command line (e.g. -device loader,...,
#              -serial file:F, -device isa-debug-exit,iobase=0xf4,iosize=4);
#              PEER_QEMU_MEM sets the guest RAM size, PEER_QEMU_BLK_OPTS
#              adds options to the vhost-user-blk-pci device.
#   virtiofsd: EXTRA is appended (e.g. --cache=never); the shared directory
#              is $PEER_DIR/share (host path), made empty.
#   qsd/gpu/dpdk: EXTRA is appended to the peer's arguments.
# On failure: the reason and the log's tail on stderr, nothing left running,
# return 1.
peer_start() {
  local name=${1-} sock=${2-} bin inner dir log pid st t0 ready=0
  shift 2 || { _peer_err "usage: peer_start NAME SOCK [EXTRA...]"; return 1; }
  PEER_PID='' PEER_DIR='' PEER_LOG=''
  peer_available "$name" || { _peer_err "$PEER_WHY"; return 1; }
  bin=$(_peer_bin "$name")
  [ -n "$sock" ] || { _peer_err "peer_start $name: empty SOCK"; return 1; }
  inner=$sock
  if _peer_in_chroot "$name"; then
    inner=$(peer_inner_path "$sock") || return 1
  fi
  if ((${#inner} > 107)); then _peer_err "socket path too long (${#inner} > 107): $inner"; return 1; fi
  _peer_state
  if _peer_is_frontend "$name"; then
    [ -S "$sock" ] || { _peer_err "$name: nothing at $sock: QEMU connects as a client, start the back end first"; return 1; }
  else
    [ -d "$(dirname "$sock")" ] || { _peer_err "$name: no directory for $sock"; return 1; }
    if [ -e "$sock" ] || [ -L "$sock" ]; then
      [ -S "$sock" ] || { _peer_err "$name: $sock exists and is not a socket"; return 1; }
      [ -z "$(_peer_listen_inodes "$inner")" ] || { _peer_err "$name: something already listens on $sock"; return 1; }
      rm -f "$sock"
    fi
  fi
  if _peer_in_chroot "$name"; then
    dir=$(mktemp -d "$PEER_CHROOT/tmp/shmap-peer.XXXXXX")
  else
    dir=$(mktemp -d "${TMPDIR:-/tmp}/shmap-peer.XXXXXX")
  fi
  log=$dir/log
  case $name in
  qsd)
    "$bin" --blockdev "$PEER_QSD_BLOCKDEV" \
      --export "type=vhost-user-blk,id=e0,node-name=n0,addr.type=unix,addr.path=$sock,writable=on" \
      "$@" </dev/null >"$log" 2>&1 &
    ;;
  gpu)
    # virgl is off unless -v is given: no render node, no /dev/dri needed.
    "$bin" -s "$sock" "$@" </dev/null >"$log" 2>&1 &
    ;;
  dpdk)
    # -i: interactive, so forwarding is not started (no lcore busy-polling).
    # stdin is a FIFO opened read-write: never EOF, so testpmd never exits
    # on its own, and no helper process has to hold a pipe open.
    mkfifo "$dir/stdin"
    "$bin" -l 0-1 --no-huge -m 1024 --no-pci --no-shconf \
      --vdev "net_vhost0,iface=$sock,queues=1" -- -i --total-num-mbufs=2048 --nb-cores=1 \
      "$@" <>"$dir/stdin" >"$log" 2>&1 &
    ;;
  virtiofsd)
    mkdir "$dir/share"
    chroot "$PEER_CHROOT" "$bin" --socket-path="$inner" \
      --shared-dir="$(peer_inner_path "$dir/share")" --sandbox=none \
      "$@" </dev/null >"$log" 2>&1 &
    ;;
  qemu72 | qemu10)
    local -a q=(-machine 'q35,accel=tcg' -m "$PEER_QEMU_MEM"
      -object "memory-backend-memfd,id=mem,size=$PEER_QEMU_MEM,share=on"
      -numa 'node,memdev=mem'
      -chardev "socket,id=c,path=$inner"
      -device "vhost-user-blk-pci,chardev=c,num-queues=1$PEER_QEMU_BLK_OPTS"
      -display none -nodefaults)
    # Default -serial/-monitor only when the caller does not choose its own.
    case " $* " in *" -serial "*) ;; *) q+=(-serial none) ;; esac
    case " $* " in *" -monitor "* | *" -qmp "*) ;; *) q+=(-monitor none) ;; esac
    if [ "$name" = qemu10 ]; then
      chroot "$PEER_CHROOT" "$bin" "${q[@]}" "$@" </dev/null >"$log" 2>&1 &
    else
      "$bin" "${q[@]}" "$@" </dev/null >"$log" 2>&1 &
    fi
    ;;
  esac
  pid=$!
  # chroot(8) execs the peer, so $! is the peer itself in every case.
  st=$(_peer_starttime "$pid")
  _peer_record "$pid" "${st:-0}" "$name" "$dir" "$sock"
  t0=$SECONDS
  while ((SECONDS - t0 < PEER_TIMEOUT)); do
    peer_alive "$pid" || break
    if _peer_is_frontend "$name"; then
      _peer_frontend_ready "$pid" && { ready=1; break; }
    else
      peer_listening "$pid" "$inner" && { ready=1; break; }
    fi
    sleep 0.05
  done
  if ((ready)) && peer_alive "$pid"; then
    # shellcheck disable=SC2034 # for the caller
    PEER_PID=$pid PEER_DIR=$dir PEER_LOG=$log
    printf '%s\n' "$pid"
    return 0
  fi
  if peer_alive "$pid"; then
    _peer_err "$name (pid $pid) not ready after ${PEER_TIMEOUT}s; log tail:"
  else
    _peer_err "$name (pid $pid) exited during start; log tail:"
  fi
  tail -n 15 "$log" >&2 || true
  peer_stop "$pid" >/dev/null 2>&1 || true
  return 1
}

# peer_wait_exit PID [SECONDS]: wait (bounded, default PEER_STOP_TIMEOUT)
# for PID to exit by itself. 0 if it did (PEER_RC = its status when PID is a
# child of this shell, else empty), 1 if it still runs.
peer_wait_exit() {
  local pid=${1-} lim=${2:-$PEER_STOP_TIMEOUT} end
  PEER_RC=''
  end=$((SECONDS + lim))
  while peer_alive "$pid"; do
    ((SECONDS < end)) || return 1
    sleep 0.05
  done
  if wait "$pid" 2>/dev/null; then PEER_RC=0; else PEER_RC=$?; fi
  # 127: not our child (started in another subshell), status unknown.
  [ "$PEER_RC" != 127 ] || PEER_RC=''
  return 0
}

# peer_stop PID: end a peer this library started: TERM, then KILL after
# PEER_STOP_TIMEOUT s; remove its directory and the back end's socket.
# A pid not recorded here, or recorded with another start time (recycled),
# is never signalled. PEER_RC = exit status when known.
peer_stop() {
  local pid=${1-} rec st name dir sock
  PEER_RC=''
  [[ $pid =~ ^[0-9]+$ ]] || { _peer_err "peer_stop: bad pid '$pid'"; return 1; }
  rec=$(_peer_lookup "$pid")
  [ -n "$rec" ] || { _peer_err "peer_stop: pid $pid was not started by peers.sh"; return 1; }
  read -r _ st name dir sock <<<"$rec"
  if peer_alive "$pid" && [ "$(_peer_starttime "$pid")" = "$st" ]; then
    kill -TERM "$pid" 2>/dev/null || true
    if ! peer_wait_exit "$pid" "$PEER_STOP_TIMEOUT"; then
      _peer_err "peer_stop: $name (pid $pid) ignored TERM for ${PEER_STOP_TIMEOUT}s, KILL"
      kill -KILL "$pid" 2>/dev/null || true
      peer_wait_exit "$pid" 5 || { _peer_err "peer_stop: $name (pid $pid) survives KILL"; return 1; }
    fi
  else
    peer_wait_exit "$pid" 0 || true # reap a zombie child
  fi
  awk -v p="$pid" '$1 != p' "$PEER_STATE/procs" >"$PEER_STATE/procs.new" \
    && mv -f "$PEER_STATE/procs.new" "$PEER_STATE/procs"
  case $dir in */shmap-peer.*) rm -rf -- "$dir" ;; esac
  if ! _peer_is_frontend "$name" && [ -S "$sock" ]; then
    rm -f -- "$sock" "$sock.pid" # virtiofsd also leaves SOCK.pid
  fi
  return 0
}

# peer_cleanup: stop every peer started through $PEER_STATE, remove every
# directory handed out, and the state itself. For `trap peer_cleanup EXIT`.
peer_cleanup() {
  local pid d
  [ -d "$PEER_STATE" ] || return 0
  for pid in $(awk '{ print $1 }' "$PEER_STATE/procs" 2>/dev/null || true); do
    peer_stop "$pid" || true
  done
  while read -r d; do
    case $d in */shmap-sock.*) rm -rf -- "$d" ;; esac
  done <"$PEER_STATE/dirs"
  rm -rf -- "$PEER_STATE"
  return 0
}

# peer_pids: the pids this library started and has not stopped yet.
peer_pids() { awk '{ print $1 }' "$PEER_STATE/procs" 2>/dev/null || true; }

# peer_log PID: path of PID's log (stdout+stderr).
peer_log() {
  local rec
  rec=$(_peer_lookup "${1-}")
  [ -n "$rec" ] || { _peer_err "peer_log: unknown pid '${1-}'"; return 1; }
  local -a f
  read -r -a f <<<"$rec"
  printf '%s/log\n' "${f[3]}"
}

# peer_maps PID [NAME]: the lines of /proc/PID/maps that map a memfd (all, or
# only memfd NAME). Prints nothing when there is none; returns 1 only if PID
# is gone. (dpdk shows its own 1 GiB "memfd:nohuge", QEMU its "memfd:memory-backend-memfd".)
peer_maps() {
  local pid=${1-} pat='memfd:'
  [ -n "${2-}" ] && pat="memfd:$2 "
  [ -r "/proc/$pid/maps" ] || return 1
  grep -F -- "$pat" "/proc/$pid/maps" || true
}
