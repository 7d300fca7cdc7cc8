#!/usr/bin/env bash
# CTest: the example device (vhost-user-blk) against the example VMM
# (vmm-blk) on a known image: every read checked, the writes found in the
# image file afterwards, and the device ends by itself with exit 0 once the
# VMM hangs up. Every wait is bounded; the device is ended by its pid.
#   pair_test.sh VHOST_USER_BLK VMM_BLK DIR
set -euo pipefail
dev=$1 vmm=$2
dir=$(mktemp -d "$3/vub-pair.XXXXXX")
pid=''
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  sed 's/^/  device: /' "$dir/dev.err" || true
  exit 1
}

"$vmm" --make-image "$dir/disk.img" 16777216 7
"$dev" "$dir/blk.sock" "$dir/disk.img" 2>"$dir/dev.err" &
pid=$!
for _ in $(seq 200); do
  [ -S "$dir/blk.sock" ] && break
  sleep 0.05
done
[ -S "$dir/blk.sock" ] || fail "the device did not listen within 10 s"
timeout 60 "$vmm" "$dir/blk.sock" --seed 7 --write-at 100 --timeout 10 \
  || fail "vmm-blk exited $?"
for _ in $(seq 200); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.05
done
kill -0 "$pid" 2>/dev/null && fail "the device did not end after its front end left"
rc=0
wait "$pid" || rc=$?
pid=''
[ "$rc" = 0 ] || fail "the device exited $rc"
"$vmm" --check-image "$dir/disk.img" 7 100 || fail "the image does not hold what was written"
# vmm-blk's one read past the end is the one failure the device reports.
grep -q ' requests, 1 failed, ' "$dir/dev.err" || fail "unexpected counts"
grep -q 'past the end of the image' "$dir/dev.err" || fail "the failure was not logged"
sed 's/^/  device: /' "$dir/dev.err"
echo "PASS vhost-user-blk <- vmm-blk"
