#!/usr/bin/env bash
# Cross-process test through the shmap tool: a real server process and a
# real client process, real descriptors (handles) over a Unix socket (a
# named pipe). The bytes the client wrote are read back through the
# server's own mapping ("head").
#   cli_test.sh PATH/TO/shmap                   natively, over a Unix socket
#   cli_test.sh --pipe WRAPPER PATH/TO/shmap.exe  Windows build (WRAPPER runs
#                                                 it, e.g. Wine), named pipe
set -euo pipefail
dir=$(mktemp -d)
if [ "$1" = --pipe ]; then
  shift
  shmap=("$@")
  addr="\\\\.\\pipe\\shmap-cli-$$-$RANDOM"
else
  shmap=("$1")
  addr=$dir/sock
fi
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$dir"' EXIT
fail() { echo "cli_test: FAIL: $*"; echo "--- server"; cat "$dir"/serve.out; echo "--- client"; cat "$dir"/send.out; exit 1; }
field() { sed -n "s/.*\"$2\":\"\\{0,1\\}\\([^\",}]*\\).*/\\1/p" <<<"$1"; }

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

# 2. back end asks a front-end server to map buffers into its window 2.
start_server --role frontend --shm 2:1M
"${shmap[@]}" send --connect "$addr" --role backend --shmem 2:0:64K:5 \
  --shmem 2:0x20000:64K:6:ro >"$dir/send.out" || fail "send exited $?"
wait "$server" || fail "server exited $?"
mapfile -t sent < <(grep SHMEM_MAP "$dir/send.out")
mapfile -t got < <(grep '"request":"SHMEM_MAP"' "$dir/serve.out")
for i in 0 1; do
  [ "$(field "${got[$i]}" head)" = "$(field "${sent[$i]}" head)" ] || fail "buffer $i differs"
done
[ "$(field "${got[1]}" flags)" = 0 ] || fail "read-only grant sent as writable"
grep -q '"live":2}' "$dir/serve.out" || fail "expected 2 live mappings at close"

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
echo "cli_test: 3 passed, 0 failed"
