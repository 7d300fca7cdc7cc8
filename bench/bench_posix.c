/* shmap benchmarks — what the library's operations cost when done with bare
 * POSIX calls, measured in the same run. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

double bench_heap_bytes(void) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
  return (double)mallinfo2().uordblks;
#else
  return -1;
#endif
}

int bench_cpus(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

double bench_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

const char *bench_bare_name(enum bench_bare kind) {
  switch (kind) {
  case BENCH_BARE_MAP: return "mmap MAP_FIXED + PROT_NONE remap";
  case BENCH_BARE_CREATE: return "memfd+seals+mmap+remap+close";
  case BENCH_BARE_FD: return "sendmsg/recvmsg+fstat+mmap+replies";
  case BENCH_BARE_FD_PLACED:
    return "the same, placed: mmap MAP_FIXED + PROT_NONE remap";
  default: return "write/read of the same bytes";
  }
}

/* mmap(MAP_SHARED|MAP_FIXED) of a memfd over a PROT_NONE reservation and
 * the PROT_NONE remap that undoes it: exactly what a window does, minus the
 * bookkeeping. */
double bench_bare_map_unmap(uint64_t len, int iters) {
  int fd = memfd_create("bare", MFD_CLOEXEC);
  if (fd < 0 || ftruncate(fd, (off_t)len) != 0)
    bench_fail("memfd");
  uint8_t *res = mmap(NULL, len, PROT_NONE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (res == MAP_FAILED)
    bench_fail("reserve");
  /* i == -1: one cycle off the clock (the first touch of the new memfd's
   * page), as the library's side does. */
  double t0 = 0;
  for (int i = -1; i < iters; i++) {
    if (i == 0)
      t0 = bench_now_ns();
    if (mmap(res, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) ==
        MAP_FAILED)
      bench_fail("mmap");
    res[0] = (uint8_t)i; /* touch one page, as the library bench does */
    if (mmap(res, len, PROT_NONE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1,
             0) == MAP_FAILED)
      bench_fail("remap");
  }
  double ns = (bench_now_ns() - t0) / iters;
  munmap(res, len);
  close(fd);
  return ns;
}

/* What creating a mappable, mapping it into a window, unmapping it and
 * dropping it come to with bare calls: a sealed memfd of `len` bytes mapped
 * over a PROT_NONE reservation (kept for the whole run, as a window is),
 * one page touched, the PROT_NONE remap and close. */
double bench_bare_create_map_unmap(uint64_t len, int iters) {
  uint8_t *res = mmap(NULL, len, PROT_NONE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (res == MAP_FAILED)
    bench_fail("reserve");
  double t0 = bench_now_ns();
  for (int i = 0; i < iters; i++) {
    /* The name from the stack, as the library passes it: on the benchmark
     * VM the kernel's copy of a string from a program's constants costs
     * microseconds (docs/performance.md). */
    const char name[] = "bare";
    int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0 || ftruncate(fd, (off_t)len) != 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) != 0)
      bench_fail("memfd");
    if (mmap(res, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) ==
        MAP_FAILED)
      bench_fail("mmap");
    res[0] = (uint8_t)i;
    if (mmap(res, len, PROT_NONE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1,
             0) == MAP_FAILED)
      bench_fail("remap");
    close(fd);
  }
  double ns = (bench_now_ns() - t0) / iters;
  munmap(res, len);
  return ns;
}

/* ADD_MEM_REG + REM_MEM_REG with bare calls: sendmsg 52 bytes with an fd,
 * recvmsg header and payload, fstat, mmap, a 20-byte reply; then a second
 * 52-byte request and reply, munmap, close. */
static double fd_round_trip(int iters, uint8_t *window) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    bench_fail("socketpair");
  int fd = memfd_create("bare", MFD_CLOEXEC);
  if (fd < 0 || ftruncate(fd, 1 << 16) != 0)
    bench_fail("memfd");
  uint8_t msg[52] = {37, 0, 0, 0, 9, 0, 0, 0, 40}, buf[64], reply[20] = {37};
  double t0 = bench_now_ns();
  for (int i = 0; i < iters; i++) {
    union {
      char b[CMSG_SPACE(sizeof(int))];
      struct cmsghdr a;
    } ctl;
    memset(&ctl, 0, sizeof ctl);
    struct iovec iov = {msg, sizeof msg};
    struct msghdr mh = {0};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl.b;
    mh.msg_controllen = sizeof ctl.b;
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
    if (sendmsg(sv[0], &mh, 0) != sizeof msg)
      bench_fail("sendmsg");
    struct iovec riov = {buf, 12};
    struct msghdr rh = {0};
    rh.msg_iov = &riov;
    rh.msg_iovlen = 1;
    rh.msg_control = ctl.b;
    rh.msg_controllen = sizeof ctl.b;
    if (recvmsg(sv[1], &rh, MSG_CMSG_CLOEXEC) != 12 ||
        read(sv[1], buf + 12, 40) != 40)
      bench_fail("recvmsg");
    int got;
    memcpy(&got, CMSG_DATA(CMSG_FIRSTHDR(&rh)), sizeof got);
    struct stat st;
    if (fstat(got, &st) != 0)
      bench_fail("fstat");
    void *p = window == NULL ? mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE,
                                    MAP_SHARED, got, 0)
                             : mmap(window, 1 << 16, PROT_READ | PROT_WRITE,
                                    MAP_SHARED | MAP_FIXED, got, 0);
    if (p == MAP_FAILED)
      bench_fail("mmap");
    if (write(sv[1], reply, sizeof reply) != sizeof reply ||
        read(sv[0], buf, sizeof reply) != sizeof reply)
      bench_fail("reply");
    /* The removal: a second 52-byte request and its reply, then unmap. */
    if (write(sv[0], msg, sizeof msg) != sizeof msg ||
        read(sv[1], buf, 12) != 12 || read(sv[1], buf + 12, 40) != 40 ||
        write(sv[1], reply, sizeof reply) != sizeof reply ||
        read(sv[0], buf, sizeof reply) != sizeof reply)
      bench_fail("removal");
    if (window == NULL)
      munmap(p, 1 << 16);
    else if (mmap(window, 1 << 16, PROT_NONE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1,
                  0) == MAP_FAILED)
      bench_fail("re-reserve");
    close(got);
  }
  double ns = (bench_now_ns() - t0) / iters;
  close(sv[0]);
  close(sv[1]);
  close(fd);
  return ns;
}

double bench_bare_fd_round_trip(int iters) {
  return fd_round_trip(iters, NULL);
}

double bench_bare_fd_round_trip_placed(int iters) {
  size_t size = (size_t)1 << 24;
  uint8_t *res = mmap(NULL, size, PROT_NONE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (res == MAP_FAILED)
    bench_fail("reserve");
  double ns = fd_round_trip(iters, res);
  munmap(res, size);
  return ns;
}

/* A request without descriptors and its reply as bare writes and reads of
 * the same byte counts (44 out, 20 back). */
double bench_bare_bytes_round_trip(int iters) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    bench_fail("socketpair");
  uint8_t req[44] = {0}, rep[20] = {0}, buf[64];
  double t0 = bench_now_ns();
  for (int i = 0; i < iters; i++) {
    if (write(sv[0], req, sizeof req) != sizeof req ||
        read(sv[1], buf, 12) != 12 || read(sv[1], buf, 32) != 32 ||
        write(sv[1], rep, sizeof rep) != sizeof rep ||
        read(sv[0], buf, 12) != 12 || read(sv[0], buf, 8) != 8)
      bench_fail("bytes");
  }
  double ns = (bench_now_ns() - t0) / iters;
  close(sv[0]);
  close(sv[1]);
  return ns;
}
