#!/usr/bin/env bash
# shmap interop: shmap endpoints against real vhost-user peers (docs/interop.md).
#
#   tests/interop/run.sh [BUILD_DIR]        default build/gcc-debug
#
# Back ends (qemu-storage-daemon, vhost-user-gpu, DPDK testpmd, virtiofsd):
# tests/interop/vhost_frontend negotiates, shares regions, checks the peer's
# /proc/PID/maps, removes one and checks the connection survived — with
# REPLY_ACK and without. Front ends (QEMU 7.2, QEMU 10): `shmap serve
# --device blk` maps QEMU's guest RAM, reads the bytes QEMU's loader put at a
# known guest address, and translates QEMU's vring addresses.
#
# A peer that is not installed is a SKIP, unless SHMAP_INTEROP_REQUIRE lists
# it (CI requires them all). Every wait is bounded; every peer is ended by
# its pid. Exits non-zero when any case fails.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build/gcc-debug}
case $build in /*) ;; *) build=$root/$build ;; esac
# shellcheck source=tests/interop/peers.sh
source "$here/peers.sh"
trap peer_cleanup EXIT

fe=$build/bin/vhost_frontend
tool=$build/bin/shmap
require=" ${SHMAP_INTEROP_REQUIRE:-} "
passed=0 failed=0 skipped=0 failures=()

ok() { echo "PASS $1"; passed=$((passed + 1)); }
bad() {
  echo "FAIL $1: $2"
  failed=$((failed + 1))
  failures+=("$1")
}
skip() {
  if [[ $require == *" $1 "* ]]; then
    bad "$2" "required peer $1 unavailable: $3"
  else
    echo "SKIP $2: $3"
    skipped=$((skipped + 1))
  fi
}

# ---- shmap front end against real back ends ----

backend_case() {
  local peer=$1 mode=$2 name="$1 back end, ${2}" dir sock pid out rc=0
  peer_available "$peer" || { skip "$peer" "$name" "$PEER_WHY"; return; }
  dir=$(peer_sockdir "$peer")
  sock=$dir/s.sock
  if ! peer_start "$peer" "$sock" >/dev/null; then
    bad "$name" "could not start $peer"
    return
  fi
  pid=$PEER_PID
  local args=("$sock" "$pid")
  [ "$mode" = reply-ack ] || args+=(--no-reply-ack)
  out=$(timeout 90 "$fe" "${args[@]}" 2>&1) || rc=$?
  if [ "$rc" -eq 0 ] && grep -q '"summary":"OK"' <<<"$out"; then
    ok "$name ($(peer_version "$peer"))"
    grep -E '"step":"(negotiate|GET_MAX_MEM_SLOTS)"' <<<"$out" | sed 's/^/    /'
  else
    bad "$name" "vhost_frontend exited $rc"
    sed 's/^/    /' <<<"$out"
    tail -n 10 "$dir/log" 2>/dev/null | sed 's/^/    peer: /' || true
  fi
  peer_stop "$pid" >/dev/null 2>&1 || true
}

# ---- real front ends (QEMU) against shmap's back end ----

# Bytes QEMU's loader writes into guest RAM, and where.
PEEK_ADDR=0x100000
PEEK_DATA=0x1122334455667788

frontend_case() {
  local peer=$1 name="$1 front end -> shmap serve --device blk" dir sock spid qpid out
  peer_available "$peer" || { skip "$peer" "$name" "$PEER_WHY"; return; }
  dir=$(peer_sockdir "$peer")
  sock=$dir/blk.sock
  out=$dir/serve.jsonl
  "$tool" serve --listen "$sock" --role backend --device blk \
    --peek "$PEEK_ADDR:8" >"$out" 2>"$dir/serve.err" &
  spid=$!
  local end=$((SECONDS + 20))
  while [ ! -S "$sock" ] && ((SECONDS < end)); do sleep 0.05; done
  if ! peer_start "$peer" "$sock" \
    -device "loader,addr=$PEEK_ADDR,data=$PEEK_DATA,data-len=8" >/dev/null; then
    bad "$name" "could not start $peer"
    kill "$spid" 2>/dev/null || true
    return
  fi
  qpid=$PEER_PID
  # SeaBIOS sets DRIVER_OK within seconds under TCG; QEMU then sends the
  # memory table and the vrings. Wait for both, bounded.
  end=$((SECONDS + 90))
  while ((SECONDS < end)); do
    grep -q '"peek"' "$out" && grep -q '"request":"SET_VRING_ADDR"' "$out" && break
    peer_alive "$qpid" || break
    sleep 0.2
  done
  peer_stop "$qpid" >/dev/null 2>&1 || true
  local src=0
  peer_wait_exit "$spid" 20 || { kill "$spid" 2>/dev/null || true; src=timeout; }
  local why=()
  # The loader's u64 is little-endian in guest memory.
  grep -q '"hex":"8877665544332211"' "$out" || why+=("peek did not read the loader's bytes")
  grep '"request":"SET_VRING_ADDR"' "$out" | grep -q '"desc_host":true' ||
    why+=("no SET_VRING_ADDR translated into the mapping")
  grep '"request":"SET_VRING_ADDR"' "$out" | grep -q '"desc_host":false' &&
    why+=("a vring address did not translate")
  # Foreign messages reach the device in order: the handshake first, the
  # memory before the vrings that point into it.
  grep -m1 '"request"' "$out" | grep -q '"request":"GET_FEATURES"' || why+=("first message is not GET_FEATURES")
  local mem vring
  mem=$(grep -n -m1 -E '"request":"(ADD_MEM_REG|SET_MEM_TABLE)"' "$out" | cut -d: -f1)
  vring=$(grep -n -m1 '"request":"SET_VRING_ADDR"' "$out" | cut -d: -f1)
  { [ -n "$mem" ] && [ -n "$vring" ] && [ "$mem" -lt "$vring" ]; } ||
    why+=("memory table not before SET_VRING_ADDR")
  grep '"request":"\(ADD_MEM_REG\|SET_MEM_TABLE\)"' "$out" | grep -q '"result":0' ||
    why+=("QEMU's memory was not mapped")
  [ "$src" = timeout ] && why+=("serve did not end after QEMU left")
  if [ ${#why[@]} -eq 0 ]; then
    ok "$name ($(peer_version "$peer"))"
    grep -E '"peek"' "$out" | sed 's/^/    /'
  else
    bad "$name" "$(IFS=';'; echo "${why[*]}")"
    sed 's/^/    /' "$out" | head -40
    tail -n 10 "$dir/serve.err" "$dir/log" 2>/dev/null | sed 's/^/    /' || true
  fi
}

[ -x "$fe" ] && [ -x "$tool" ] || { echo "build $build first (vhost_frontend, shmap)"; exit 1; }
for peer in qsd gpu dpdk virtiofsd; do
  backend_case "$peer" reply-ack
  backend_case "$peer" no-reply-ack
done
for peer in qemu72 qemu10; do
  frontend_case "$peer"
done

echo "interop: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
