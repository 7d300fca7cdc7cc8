#!/usr/bin/env bash
# shmap boot test: QEMU boots a guest from a disk that shmap's vhost-user-blk
# device serves (`shmap serve --device blk --image DISK`), under TCG.
#
#   tests/boot/run.sh [BUILD_DIR] [qemu72|qemu10 ...]   default build/gcc-debug, both
#
# The disk is made here for each case: the boot sector (bootsect.S, built by
# CMake into BUILD_DIR/tests/boot, or assembled here when the build has no
# copy), a chain of records at LBA 1 and at the last LBA, each holding a line
# with this run's nonce, and an empty sector 2 that the guest writes a copy
# of record 1 to. The guest prints its lines on COM1 and ends QEMU through
# isa-debug-exit with status 67 when every read and write succeeded.
#
# Cases, for each QEMU:
#   direct  QEMU's own virtio-blk disk (checks the boot sector and the disk)
#   qsd     vhost-user-blk from qemu-storage-daemon (checks the vhost-user
#           boot path with a known-good back end)
#   shmap   vhost-user-blk from `shmap serve --device blk --image` — the test
#   shmap-ro the same with --readonly: the guest's write must fail
# Each passes when QEMU exits with 67, the serial log is exactly the four
# expected lines, and sector 2 holds the guest's copy of record 1; shmap's
# I/O summary must agree. shmap-ro passes when the guest stops at its write
# (status 103, "FAIL write"), the device reported that write refused, and
# sector 2 is untouched.
#
# SHMAP_BOOT_CASES picks cases (default "direct qsd shmap shmap-ro");
# SHMAP_BOOT_SHOW=1 prints each passing boot's serial log too (scripts/demo).
#
# A QEMU (or qsd) that cannot run here is a SKIP, unless it is required:
# SHMAP_BOOT_REQUIRE lists required peers; with CI=true every peer named on
# the command line is. Exit status: 1 if any case failed, else 77 if any was
# skipped, else 0. Every wait is bounded; every process is ended by its pid.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build/gcc-debug}
case $build in /*) ;; *) build=$root/$build ;; esac
shift || true
peers=("$@")
[ ${#peers[@]} -gt 0 ] || peers=(qemu72 qemu10)
# shellcheck source=tests/interop/peers.sh
source "$root/tests/interop/peers.sh"

tool=$build/bin/shmap
boot_bin=$build/tests/boot/shmap-boot.bin
BOOT_WAIT=${SHMAP_BOOT_WAIT:-60} # seconds a guest may take to end QEMU
CASES=" ${SHMAP_BOOT_CASES:-direct qsd shmap shmap-ro} "
EXIT_OK=67                       # (0x21 << 1) | 1, see bootsect.S
EXIT_WRITE=103                   # (0x33 << 1) | 1: the guest's write failed
DISK_SECTORS=2048                # 1 MiB
LAST=$((DISK_SECTORS - 1))
export PEER_QEMU_BLK_OPTS=,bootindex=1 # read by peer_start

if [ -n "${SHMAP_BOOT_REQUIRE+x}" ]; then
  require=" $SHMAP_BOOT_REQUIRE "
elif [ "${CI:-}" = true ]; then
  require=" ${peers[*]} qsd "
else
  require=" "
fi

passed=0 failed=0 skipped=0 failures=()
ok() { echo "PASS $1"; passed=$((passed + 1)); }
bad() {
  echo "FAIL $1: $2"
  failed=$((failed + 1))
  failures+=("$1")
}
skip() { # PEER CASE WHY
  if [[ $require == *" $1 "* ]]; then
    bad "$2" "required peer $1 unavailable: $3"
  else
    echo "SKIP $2: $3"
    skipped=$((skipped + 1))
  fi
}

# Processes this script starts itself (shmap serve, the direct QEMU under
# timeout); peers.sh keeps its own. Ended by pid on any exit.
own_pids=()
work=$(mktemp -d "${TMPDIR:-/tmp}/shmap-boot.XXXXXX")
# shellcheck disable=SC2317 # called by the trap
cleanup() {
  local p
  for p in "${own_pids[@]}"; do
    kill -TERM "$p" 2>/dev/null || true
  done
  for p in "${own_pids[@]}"; do
    peer_wait_exit "$p" 5 || kill -KILL "$p" 2>/dev/null || true
  done
  peer_cleanup
  rm -rf -- "$work"
}
trap cleanup EXIT
# PID was reaped: never signal it again (the number may be reused).
forget() {
  local p keep=()
  for p in "${own_pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  own_pids=("${keep[@]}")
}
trap 'exit 130' INT TERM

now() { printf '%s\n' "${EPOCHREALTIME/,/.}"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# The boot sector: the build's, or assembled here from the same source.
boot_sector() {
  if [ -f "$boot_bin" ] && [ "$boot_bin" -nt "$here/bootsect.S" ]; then
    printf '%s\n' "$boot_bin"
    return
  fi
  if ! command -v as >/dev/null || ! command -v ld >/dev/null; then
    echo "no $boot_bin and no GNU as/ld to make one" >&2
    return 1
  fi
  as --32 -o "$work/boot.o" "$here/bootsect.S"
  ld -m elf_i386 -Ttext=0x7c00 -e start --oformat=binary -o "$work/boot.bin" "$work/boot.o"
  printf '%s\n' "$work/boot.bin"
}

# Four little-endian bytes of $1 as printf escapes.
le32() { printf '\\%03o\\%03o\\%03o\\%03o' $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24 & 255)); }

# record IMG LBA NEXT WRITE_LBA TEXT: one record sector (layout in bootsect.S).
record() {
  # shellcheck disable=SC2059 # the format is made of escapes on purpose
  { printf 'SHMAPSEC'; printf "$(le32 "$3")$(le32 "$4")"; printf '%s\r\n\0' "$5"; } |
    dd of="$1" bs=512 seek="$2" conv=notrunc status=none
}

# make_disk IMG NONCE: boot sector, record 1 (then the last LBA; written back
# to LBA 2), record LAST, zeros elsewhere.
make_disk() {
  local img=$1 nonce=$2 bs
  bs=$(boot_sector) || return 1
  dd if="$bs" of="$img" bs=512 count=1 status=none
  truncate -s $((DISK_SECTORS * 512)) "$img"
  record "$img" 1 "$LAST" 2 "shmap-boot: record 1 of $nonce"
  record "$img" "$LAST" 0 0 "shmap-boot: record $LAST of $nonce"
}

# check CASE LOG RC IMG NONCE SECONDS [SERVE_OUT [ro]]: the verdict on one
# boot. SERVE_OUT: shmap serve's JSON lines, whose I/O summary must agree.
# ro: the image is served read-only, so the guest's write must fail (the
# device answers IOERR), after record 1, and leave sector 2 as it was.
check() {
  local name=$1 log=$2 rc=$3 img=$4 nonce=$5 secs=$6 serve=${7-} ro=${8-}
  local why=() want got io='' want_rc=$EXIT_OK s2 what
  if [ -n "$ro" ]; then
    want_rc=$EXIT_WRITE
    want=$(printf '%s\n' "shmap-boot: hello from the shmap disk" \
      "shmap-boot: record 1 of $nonce" "shmap-boot: FAIL write")
    what="3 serial lines, 1 record read, its write refused"
  else
    want=$(printf '%s\n' "shmap-boot: hello from the shmap disk" \
      "shmap-boot: record 1 of $nonce" "shmap-boot: record $LAST of $nonce" "shmap-boot: done")
    what="4 serial lines, 2 records read, 1 written back"
  fi
  got=$(tr -d '\r' <"$log" 2>/dev/null || true)
  [ "$rc" = "$want_rc" ] || why+=("QEMU exited with ${rc:-?}, not $want_rc")
  [ "$got" = "$want" ] || why+=("serial log is not the $(wc -l <<<"$want") expected lines")
  # Sector 2: the guest's copy of record 1, "SHMAPOUT" in place of
  # "SHMAPSEC" (read-only: still zeros).
  s2=$(dd if="$img" bs=512 skip=2 count=1 status=none | od -An -v -tx1 | tr -d ' \n')
  if [ -n "$ro" ]; then
    [[ $s2 =~ ^0+$ ]] || why+=("sector 2 changed on a read-only image")
  elif [ "${s2:0:16}" != "$(printf SHMAPOUT | od -An -tx1 | tr -d ' \n')" ] ||
    ! cmp -s <(dd if="$img" bs=512 skip=2 count=1 status=none | tail -c +9) \
      <(dd if="$img" bs=512 skip=1 count=1 status=none | tail -c +9); then
    why+=("sector 2 does not hold the guest's copy of record 1")
  fi
  if [ -n "$serve" ]; then
    # Reads: the boot sector (SeaBIOS) and the records, at least; the only
    # write is the guest's.
    io=$(grep -m1 '"event":"io"' "$serve" 2>/dev/null || true)
    local r w f want_f=0 want_w=512 min_r=1536
    [ -z "$ro" ] || { want_f=1 want_w=0 min_r=1024; }
    r=$(sed -n 's/.*"bytes_read":\([0-9]*\).*/\1/p' <<<"$io")
    w=$(sed -n 's/.*"bytes_written":\([0-9]*\).*/\1/p' <<<"$io")
    f=$(sed -n 's/.*"failed":\([0-9]*\).*/\1/p' <<<"$io")
    if [ -z "$io" ]; then
      why+=("shmap serve printed no I/O summary")
    elif [ "${f:-x}" != "$want_f" ] || [ "${w:-x}" != "$want_w" ] || [ "${r:-0}" -lt "$min_r" ]; then
      why+=("shmap serve's I/O summary is not $want_f failed, $want_w written, >= $min_r read: $io")
    fi
    if grep -q '"event":"ring_broken"' "$serve"; then
      why+=("shmap serve reported a broken ring")
    fi
    # The one failure allowed (read-only): the guest's write (type 1 = OUT) at LBA 2.
    if [ -n "$ro" ]; then
      grep '"event":"request_failed"' "$serve" | grep -q '"type":1,"sector":2,' ||
        why+=("shmap serve did not report the refused write at sector 2")
    elif grep -q '"event":"request_failed"' "$serve"; then
      why+=("shmap serve reported a failed request")
    fi
    io=${io:+, serve: $io}
  fi
  if [ ${#why[@]} -eq 0 ]; then
    ok "$name: exit $rc in $secs, $what$io"
    if [ "${SHMAP_BOOT_SHOW:-}" = 1 ]; then
      tr -d '\r' <"$log" | sed 's/^/      serial | /'
    fi
    return 0
  fi
  bad "$name" "$(IFS=';'; echo "${why[*]}")"
  echo "    serial log:"
  sed 's/^/      | /' "$log" 2>/dev/null | tr -d '\r' | head -20 || true
  return 1
}

# The QEMU command for PEER as an array (chroot for qemu10), and how files
# are named for it.
qcmd=()
qemu_cmd() {
  local bin
  bin=$(_peer_bin "$1")
  if _peer_in_chroot "$1"; then qcmd=(chroot "$PEER_CHROOT" "$bin"); else qcmd=("$bin"); fi
}
inner() { if _peer_in_chroot "$1"; then peer_inner_path "$2"; else printf '%s\n' "$2"; fi; }

# Case "direct": QEMU's own virtio-blk disk, no vhost-user.
case_direct() {
  local peer=$1 name="$1 direct (QEMU's own virtio-blk disk)" dir img log nonce t0 pid rc
  dir=$(peer_sockdir "$peer")
  img=$dir/disk.img log=$dir/serial.log
  nonce=$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
  make_disk "$img" "$nonce" || { bad "$name" "could not make the disk"; return; }
  qemu_cmd "$peer"
  t0=$(now)
  timeout -k 5 "$BOOT_WAIT" "${qcmd[@]}" -machine q35,accel=tcg -m "$PEER_QEMU_MEM" \
    -drive "file=$(inner "$peer" "$img"),format=raw,if=virtio" \
    -serial "file:$(inner "$peer" "$log")" -device isa-debug-exit,iobase=0xf4,iosize=4 \
    -display none -monitor none -nodefaults </dev/null >"$dir/qemu.log" 2>&1 &
  pid=$!
  own_pids+=("$pid")
  if wait "$pid"; then rc=0; else rc=$?; fi
  forget "$pid"
  [ "$rc" != 124 ] || echo "    QEMU did not end within ${BOOT_WAIT}s"
  check "$name" "$log" "$rc" "$img" "$nonce" "$(since "$t0")s" || tail -n 5 "$dir/qemu.log" | sed 's/^/    qemu: /'
}

# Start a vhost-user-blk back end for case_vhost: sets bpid, or returns 1.
backend_qsd() { # DIR SOCK IMG
  PEER_QSD_BLOCKDEV="driver=file,filename=$3,node-name=n0" peer_start qsd "$2" >/dev/null || return 1
  bpid=$PEER_PID blog=$PEER_LOG
}
backend_shmap() { # DIR SOCK IMG [--readonly]
  local end
  blog=$1/serve.jsonl
  "$tool" serve --listen "$2" --role backend --device blk --image "$3" ${4+"$4"} >"$blog" 2>"$1/serve.err" &
  bpid=$!
  own_pids+=("$bpid")
  end=$((SECONDS + 20))
  until peer_listening "$bpid" "$2"; do
    if ! peer_alive "$bpid" || ((SECONDS >= end)); then
      sed 's/^/    serve: /' "$1/serve.err" | tail -n 5
      return 1
    fi
    sleep 0.05
  done
}

backend_start() { # BE DIR SOCK IMG
  case $1 in
  qsd) backend_qsd "$2" "$3" "$4" ;;
  shmap) backend_shmap "$2" "$3" "$4" ;;
  shmap-ro) backend_shmap "$2" "$3" "$4" --readonly ;;
  esac
}

# Case "qsd" / "shmap" / "shmap-ro": QEMU boots from a vhost-user-blk back end.
case_vhost() {
  local peer=$1 be=$2 name dir sock img log nonce t0 qpid rc bpid='' blog=''
  case $be in
  qsd) name="$peer vhost-user-blk <- qsd" ;;
  shmap) name="$peer vhost-user-blk <- shmap serve --device blk --image" ;;
  shmap-ro) name="$peer vhost-user-blk <- shmap serve --device blk --image --readonly" ;;
  esac
  dir=$(peer_sockdir "$peer")
  sock=$dir/blk.sock img=$dir/disk.img log=$dir/serial.log
  nonce=$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
  make_disk "$img" "$nonce" || { bad "$name" "could not make the disk"; return; }
  t0=$(now)
  if ! backend_start "$be" "$dir" "$sock" "$img"; then
    bad "$name" "could not start $be"
    return
  fi
  # QEMU starts paused (-S): the guest may end QEMU within half a second,
  # before peer_start has seen it ready. It is resumed through its monitor
  # (a pipe pair: DIR/mon.in, DIR/mon.out) once ready.
  mkfifo "$dir/mon.in" "$dir/mon.out"
  if ! peer_start "$peer" "$sock" -S -monitor "pipe:$(inner "$peer" "$dir/mon")" \
    -serial "file:$(inner "$peer" "$log")" -device isa-debug-exit,iobase=0xf4,iosize=4 >/dev/null; then
    bad "$name" "could not start $peer"
    stop_backend "$be" "$bpid"
    return
  fi
  qpid=$PEER_PID
  # Read-write: never blocks, whatever QEMU does with its end.
  printf 'cont\n' 1<>"$dir/mon.in"
  local t1 gsecs
  t1=$(now)
  if peer_wait_exit "$qpid" "$BOOT_WAIT"; then
    gsecs=$(since "$t1")
    rc=$PEER_RC
    peer_stop "$qpid" >/dev/null 2>&1 || true # forget it
  else
    echo "    QEMU did not end within ${BOOT_WAIT}s"
    local qlog=$PEER_LOG
    peer_stop "$qpid" >/dev/null 2>&1 || true
    rc=timeout
    tail -n 5 "$qlog" 2>/dev/null | sed 's/^/    qemu: /' || true
  fi
  local secs
  secs="$(since "$t0")s (${gsecs:-?}s after cont)"
  stop_backend "$be" "$bpid"
  local -a serve_out=()
  case $be in shmap) serve_out=("$blog") ;; shmap-ro) serve_out=("$blog" ro) ;; esac
  if ! check "$name" "$log" "$rc" "$img" "$nonce" "$secs" "${serve_out[@]}"; then
    tail -n 8 "$blog" 2>/dev/null | sed "s/^/    $be: /" || true
    if [ "$be" != qsd ]; then tail -n 5 "$dir/serve.err" 2>/dev/null | sed 's/^/    serve: /'; fi
  fi
  return 0
}

# shmap serve ends by itself when QEMU hangs up; qsd keeps listening.
stop_backend() { # BE PID
  if [ "$1" = qsd ]; then
    peer_stop "$2" >/dev/null 2>&1 || true
    return
  fi
  if ! peer_wait_exit "$2" 20; then
    echo "    shmap serve did not end after QEMU left; TERM"
    kill -TERM "$2" 2>/dev/null || true
    if ! peer_wait_exit "$2" 5; then
      kill -KILL "$2" 2>/dev/null || true
      peer_wait_exit "$2" 5 || return 0 # cleanup tries again
    fi
  fi
  forget "$2"
}

[ -x "$tool" ] || { echo "build $build first (the shmap tool)"; exit 1; }
for peer in "${peers[@]}"; do
  case $peer in qemu72 | qemu10) ;; *) echo "unknown QEMU '$peer' (qemu72 or qemu10)"; exit 2 ;; esac
  if ! peer_available "$peer"; then
    for c in direct qsd shmap shmap-ro; do skip "$peer" "$peer $c" "$PEER_WHY"; done
    continue
  fi
  echo "== $peer: $(peer_version "$peer")"
  if [[ $CASES == *" direct "* ]]; then case_direct "$peer"; fi
  if [[ $CASES == *" qsd "* ]]; then
    if peer_available qsd; then case_vhost "$peer" qsd; else skip qsd "$peer qsd" "$PEER_WHY"; fi
  fi
  # Read serve's help whole, not through a pipe (an older tool exited 2).
  usage=$("$tool" serve --help 2>&1 || true)
  for c in shmap shmap-ro; do
    [[ $CASES == *" $c "* ]] || continue
    if [[ $usage == *--image* ]]; then
      case_vhost "$peer" "$c"
    else
      skip "$peer" "$peer $c" "this shmap tool has no serve --image"
    fi
  done
done

# Nothing may outlive the test.
left=()
for p in "${own_pids[@]}" $(peer_pids); do
  if peer_alive "$p"; then left+=("$p"); fi
done
if [ ${#left[@]} -gt 0 ]; then
  bad "cleanup" "still running: ${left[*]}"
fi

echo "boot: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] || exit 1
[ "$skipped" -eq 0 ] || exit 77
exit 0
