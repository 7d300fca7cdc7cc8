#!/usr/bin/env bash
# Cross-process test through the shmap tool: a real server process and a
# real client process, real descriptors (handles) over a Unix socket (a
# named pipe). The bytes the client wrote are read back through the
# server's own mapping ("head", "peek"). The back-end server answers the
# vhost-user handshake (as a minimal vhost-user-blk device with --device
# blk); the front-end server takes a back end's back-end request socket.
#   cli_test.sh PATH/TO/shmap                   natively, over a Unix socket
#   cli_test.sh --pipe WRAPPER PATH/TO/shmap.exe  Windows build (WRAPPER runs
#                                                 it, e.g. Wine), named pipe
set -euo pipefail
dir=$(mktemp -d)
native=1
if [ "$1" = --pipe ]; then
  shift
  native=0
  shmap=("$@")
  addr="\\\\.\\pipe\\shmap-cli-$$-$RANDOM"
else
  shmap=("$1")
  addr=$dir/sock
fi
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"' EXIT
fail() { echo "cli_test: FAIL: $*"; echo "--- server"; cat "$dir"/serve.out; echo "--- client"; cat "$dir"/send.out; exit 1; }
field() { sed -n "s/.*\"$2\":\"\\{0,1\\}\\([^\",}]*\\).*/\\1/p" <<<"$1"; }
# The request names of a file's JSON lines, in order, on one line.
requests() { sed -n 's/^{"request":"\([A-Z_]*\)".*/\1/p' "$1" | tr '\n' ' '; }
passed=0

# The server says when it listens; a socket file or a pipe alike.
start_server() {
  : >"$dir/serve.out"
  : >"$dir/send.out"
  "${shmap[@]}" serve --listen "$addr" "$@" >"$dir/serve.out" 2>&1 &
  server=$!
  for _ in $(seq 400); do
    grep -q '"event":"listening"' "$dir/serve.out" && return 0
    kill -0 "$server" 2>/dev/null || fail "server exited before listening"
    sleep 0.05
  done
  fail "server did not listen"
}

# 0. (issue 16) a command-line tool: help on stdout with exit 0, the
#    version, usage errors on stderr with exit 2 naming what was wrong,
#    options that do not fit the role refused, fatal errors as JSON lines.
# expect STATUS PATTERN ARGS...: exit STATUS and stderr matching PATTERN
# (for STATUS 0, stdout).
expect() {
  local want=$1 pat=$2 rc=0
  shift 2
  timeout 60 "${shmap[@]}" "$@" >"$dir/send.out" 2>"$dir/serve.out" </dev/null || rc=$?
  [ "$rc" = "$want" ] || fail "shmap $*: exit $rc, not $want"
  local where=$dir/serve.out
  [ "$want" = 0 ] && where=$dir/send.out
  [ -z "$pat" ] || tr -d '\r' <"$where" | grep -q -e "$pat" \
    || fail "shmap $*: no '$pat' in $( [ "$want" = 0 ] && echo stdout || echo stderr)"
}
: >"$dir/serve.out"
: >"$dir/send.out"
for h in --help -h help; do
  expect 0 '^usage: shmap' $h
  [ -s "$dir/serve.out" ] && fail "shmap $h wrote to stderr"
done
version=$("${shmap[@]}" info | sed -n 's/.*"version":"\([^"]*\)".*/\1/p')
[ -n "$version" ] || fail "info has no version"
expect 0 "^shmap $version" --version
expect 0 'binary (1K = 1024)' serve --help
expect 0 'default 64G' serve --help
expect 0 'binary (1K = 1024)' send --help
expect 0 '--wait SECONDS' send --help
expect 0 'default 16M' demo --help
expect 0 'page_size' info --help
expect 0 '^usage: shmap send' help send
expect 2 'unknown option --bogus' info --bogus
expect 2 "bad size '64X'" serve --listen "$addr" --role backend --guest-size 64X
expect 2 "64X" send --connect "$addr" --role frontend --region 0x100000:64X
expect 2 'missing --region' send --connect "$addr" --role frontend
expect 2 'unknown option --bogus' send --connect "$addr" --role frontend \
  --region 0:64K --bogus
expect 2 "unknown role 'sidekick'" send --connect "$addr" --role sidekick \
  --region 0:64K
expect 2 "unknown role 'sidekick'" serve --listen "$addr" --role sidekick
expect 2 '--shmem is for --role backend' send --connect "$addr" \
  --role frontend --shmem 0:0:64K
expect 2 '--negotiate is for --role frontend' send --connect "$addr" \
  --role backend --shmem 0:0:64K --negotiate
expect 2 '--shm is for --role frontend' serve --listen "$addr" \
  --role backend --shm 0:1M
expect 2 '--peek is for --role backend' serve --listen "$addr" \
  --role frontend --peek 0:16
expect 2 '--hold needs a value' send --connect "$addr" --role frontend \
  --region 0:64K --hold
expect 2 'missing --listen' demo frontend
# Nobody listens: the failure is a JSON line on stdout, exit 1.
expect 1 '' send --connect "$addr" --role frontend --region 0:64K
grep -q '^{"event":"error","error":"SHMAP_ECONNREFUSED","message":".*"}' \
  "$dir/send.out" || fail "connect failure not a JSON error line: $(cat "$dir/send.out")"
# --wait: bounded when nobody comes...
t0=$(date +%s)
expect 1 '' send --connect "$addr" --role frontend --region 0:64K --wait 1
grep -q '"event":"error"' "$dir/send.out" || fail "--wait: no error line"
[ $(($(date +%s) - t0)) -le 30 ] || fail "--wait 1 did not end in time"
# ... and connected when the server comes late.
"${shmap[@]}" send --connect "$addr" --role frontend --region 0x100000:64K \
  --wait 60 >"$dir/late.out" 2>&1 &
late=$!
sleep 1
kill -0 "$late" 2>/dev/null || fail "send --wait did not wait: $(cat "$dir/late.out")"
start_server --role backend
wait "$late" || fail "send --wait exited $?: $(cat "$dir/late.out")"
wait "$server" || fail "server exited $?"
grep -q '"request":"ADD_MEM_REG","result":0' "$dir/late.out" \
  || fail "send --wait sent nothing: $(cat "$dir/late.out")"
passed=$((passed + 1))

# 1. front end sends regions to a back-end server.
start_server --role backend
"${shmap[@]}" send --connect "$addr" --role frontend --region 0x100000:64K:3 \
  --region 0x400000:2M:9 --remove >"$dir/send.out" || fail "send exited $?"
wait "$server" || fail "server exited $?"
mapfile -t sent < <(grep ADD_MEM_REG "$dir/send.out")
mapfile -t got < <(grep '"request":"ADD_MEM_REG"' "$dir/serve.out")
[ ${#got[@]} -eq 2 ] || fail "server saw ${#got[@]} ADD_MEM_REG"
for i in 0 1; do
  [ "$(field "${got[$i]}" result)" = 0 ] || fail "region $i refused"
  [ "$(field "${got[$i]}" head)" = "$(field "${sent[$i]}" head)" ] \
    || fail "region $i: server read $(field "${got[$i]}" head), client wrote $(field "${sent[$i]}" head)"
done
grep -q '"event":"closed","reason":"SHMAP_ECLOSED","live":0' "$dir/serve.out" \
  || fail "server did not end with 0 live mappings"
passed=$((passed + 1))

# 2. back end asks a front-end server to map buffers into its window 2, on
#    a back-end request socket (the server listens for one).
start_server --role frontend --shm 2:1M
"${shmap[@]}" send --connect "$addr" --role backend --shmem 2:0:64K:5 \
  --shmem 2:0x20000:64K:6:ro >"$dir/send.out" || fail "send exited $?"
wait "$server" || fail "server exited $?"
mapfile -t sent < <(grep SHMEM_MAP "$dir/send.out")
mapfile -t got < <(grep '"request":"SHMEM_MAP"' "$dir/serve.out")
[ ${#got[@]} -eq 2 ] || fail "server saw ${#got[@]} SHMEM_MAP"
for i in 0 1; do
  [ "$(field "${got[$i]}" result)" = 0 ] || fail "buffer $i refused"
  [ "$(field "${got[$i]}" head)" = "$(field "${sent[$i]}" head)" ] || fail "buffer $i differs"
done
[ "$(field "${got[1]}" flags)" = 0 ] || fail "read-only grant sent as writable"
grep -q '"foreign":true' "$dir/serve.out" && fail "SHMEM_MAP taken as foreign"
grep -q '"live":2}' "$dir/serve.out" || fail "expected 2 live mappings at close"
passed=$((passed + 1))

# 3. refused requests: overlap, unknown window, past the window end.
start_server --role frontend --shm 0:256K
if "${shmap[@]}" send --connect "$addr" --role backend --shmem 0:0:128K \
     --shmem 0:0x10000:64K --shmem 3:0:64K --shmem 0:0x30000:128K >"$dir/send.out"; then
  fail "send should report the refusals"
fi
wait "$server" || fail "server exited $?"
for e in SHMAP_EOVERLAP SHMAP_ENOWINDOW SHMAP_ERANGE; do
  grep -q "\"error\":\"$e\"" "$dir/send.out" || fail "no $e reply"
done
grep -q '"live":1}' "$dir/serve.out" || fail "refusals changed the window"
passed=$((passed + 1))

# 4. a vhost-user-blk back end answered by a negotiating front end: the
#    handshake, the device's own requests (foreign to shmap) in order, vring
#    addresses translated through the regions, and the guest bytes the
#    front end wrote, read through the back end's window (--peek).
start_server --role backend --device blk --capacity 4096 --peek 0x400000:16
"${shmap[@]}" send --connect "$addr" --role frontend --negotiate --config \
  --region 0x100000:64K:3 --region 0x400000:2M:9 --vring 0x400000 --remove \
  --slots >"$dir/send.out" || fail "send exited $?"
wait "$server" || fail "server exited $?"
want="GET_FEATURES GET_PROTOCOL_FEATURES SET_PROTOCOL_FEATURES SET_OWNER SET_FEATURES ADD_MEM_REG ADD_MEM_REG GET_CONFIG SET_VRING_ADDR REM_MEM_REG REM_MEM_REG GET_MAX_MEM_SLOTS "
[ "$(requests "$dir/serve.out")" = "$want" ] || fail "server saw: $(requests "$dir/serve.out")"
[ "$(requests "$dir/send.out")" = "$want" ] || fail "client sent: $(requests "$dir/send.out")"
grep -q '"result":[^0]' "$dir/serve.out" && fail "a request failed"
line=$(grep '"request":"GET_FEATURES"' "$dir/send.out")
[ "$(( $(field "$line" offered) >> 32 & 1 ))" = 1 ] || fail "VERSION_1 not offered: $line"
line=$(grep '"request":"SET_PROTOCOL_FEATURES"' "$dir/send.out")
[ "$(( $(field "$line" agreed) & 0x8228 ))" = $((0x8228)) ] \
  || fail "REPLY_ACK, BACKEND_REQ, CONFIG, CONFIGURE_MEM_SLOTS not all agreed: $line"
for r in GET_CONFIG SET_VRING_ADDR; do
  grep "\"request\":\"$r\"" "$dir/serve.out" | grep -q '"foreign":true' \
    || fail "$r not reported as foreign"
done
grep -q '"request":"GET_FEATURES".*"foreign"' "$dir/serve.out" \
  && fail "the handshake reported as foreign"
line=$(grep '"request":"GET_CONFIG"' "$dir/send.out")
[ "$(field "$line" capacity)" = 4096 ] || fail "capacity: $line"
line=$(grep '"request":"SET_VRING_ADDR"' "$dir/serve.out")
for f in desc_host used_host avail_host; do
  [ "$(field "$line" $f)" = true ] || fail "$f not in guest RAM: $line"
done
line=$(grep '"request":"GET_MAX_MEM_SLOTS"' "$dir/send.out")
[ "$(field "$line" slots)" -gt 0 ] || fail "no slot count: $line"
mapfile -t peek < <(grep '"peek"' "$dir/serve.out")
[ ${#peek[@]} -eq 1 ] || fail "expected one peek line, got ${#peek[@]}"
head2=$(grep ADD_MEM_REG "$dir/send.out" | sed -n 2p)
[ "$(field "${peek[0]}" hex)" = "$(field "$head2" head)" ] \
  || fail "peek read $(field "${peek[0]}" hex), the front end wrote $(field "$head2" head)"
grep -q '"event":"closed","reason":"SHMAP_ECLOSED","live":0' "$dir/serve.out" \
  || fail "server did not end with 0 live mappings"
passed=$((passed + 1))

# 5. the handshake without REPLY_ACK: nothing waits for an ack, yet every
#    request arrives and applies; the back end's mappings are visible while
#    the front end holds (natively: in the server's /proc/PID/maps).
start_server --role backend --device blk
"${shmap[@]}" send --connect "$addr" --role frontend --no-reply-ack \
  --region 0x100000:64K:3 --region 0x200000:64K:4 --hold 2 --remove --slots \
  >"$dir/send.out" &
client=$!
for _ in $(seq 200); do
  grep -q '"event":"added"' "$dir/send.out" && break
  sleep 0.05
done
grep -q '"event":"added"' "$dir/send.out" || fail "client never held"
if [ $native = 1 ]; then
  # Without acks the server may still be mapping: wait for both regions.
  for _ in $(seq 40); do
    [ "$(grep -c '"request":"ADD_MEM_REG"' "$dir/serve.out")" = 2 ] && break
    sleep 0.05
  done
  n=$(grep -c 'memfd:shmap\|/dev/shm/shmap-' "/proc/$server/maps" || true)
  [ "$n" -ge 2 ] || fail "server maps $n shared regions while held"
fi
wait "$client" || fail "send exited $?"
wait "$server" || fail "server exited $?"
line=$(grep '"request":"SET_PROTOCOL_FEATURES"' "$dir/send.out")
[ "$(( $(field "$line" agreed) & 0x8 ))" = 0 ] || fail "REPLY_ACK agreed: $line"
[ "$(grep -c '"request":"REM_MEM_REG","code":38,"result":0' "$dir/serve.out")" = 2 ] \
  || fail "regions not removed"
grep -q '"event":"closed","reason":"SHMAP_ECLOSED","live":0' "$dir/serve.out" \
  || fail "server did not end with 0 live mappings"
passed=$((passed + 1))

# 6. a plain back end refuses a request it does not handle, and goes on.
start_server --role backend
if "${shmap[@]}" send --connect "$addr" --role frontend --negotiate \
     --region 0x100000:64K --vring 0x100000 --slots >"$dir/send.out"; then
  fail "send should report the refused SET_VRING_ADDR"
fi
wait "$server" || fail "server exited $?"
grep '"request":"SET_VRING_ADDR"' "$dir/serve.out" | grep -q '"error":"SHMAP_EREQUEST".*"foreign":true' \
  || fail "SET_VRING_ADDR not refused as foreign"
grep -q '"request":"GET_MAX_MEM_SLOTS","result":0' "$dir/send.out" \
  || fail "server did not go on after the refusal"
passed=$((passed + 1))

# 7. (issue 15) a hostile back end sends memory it keeps shrinking: refused
#    by default (EBACKING); with --allow-unsealed the server maps it and its
#    head reads go through the fault-safe copy, so it survives (before, a
#    direct read died of SIGBUS). A refused peer of another user (root
#    only: it needs a second uid) does not end the server.
if [ $native = 1 ] && command -v python3 >/dev/null; then
  here=$(cd "$(dirname "$0")" && pwd)
  for opt in default --allow-unsealed; do
    extra=()
    [ $opt = default ] || extra=(--allow-unsealed)
    start_server --role frontend --shm 0:16M "${extra[@]}"
    timeout 60 python3 "$here/shrink_peer.py" "$addr" 200 || fail "hostile peer failed"
    wait "$server" || fail "server exited $? with $opt (SIGBUS is 135)"
    n=$(grep -c '"request":"SHMEM_MAP"' "$dir/serve.out")
    [ "$n" = 200 ] || fail "$n of 200 SHMEM_MAPs answered"
    # A build forced to shm_open cannot seal its own memory: off by default.
    if [ $opt = default ] && "${shmap[@]}" info | grep -q '"seals":true'; then
      [ "$(grep -c '"error":"SHMAP_EBACKING"' "$dir/serve.out")" = 200 ] \
        || fail "unsealed memory not refused by default"
    fi
  done
  passed=$((passed + 1))
  py=/usr/bin/python3 # not a per-user shim: the other user runs it
  if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && [ -x $py ]; then
    chmod 0711 "$dir"
    start_server --role backend
    chmod 0666 "$addr"
    setpriv --reuid=65534 --regid=65534 --clear-groups "$py" -c \
      'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.recv(1)' \
      "$addr" || fail "the other user could not connect"
    "${shmap[@]}" send --connect "$addr" --role frontend \
      --region 0x100000:64K:3 >"$dir/send.out" || fail "send exited $?"
    wait "$server" || fail "server exited $?"
    grep -q '"event":"refused"' "$dir/serve.out" || fail "peer not refused"
    grep -q '"request":"ADD_MEM_REG","code":37,"result":0' "$dir/serve.out" \
      || fail "server did not go on accepting after the refusal"
    passed=$((passed + 1))
  fi
fi
echo "cli_test: $passed passed, 0 failed"
