/* Shared by the socket fuzz targets: the peer's side of a socketpair (bytes
 * written in chunks, descriptors of several kinds attached with SCM_RIGHTS)
 * and the descriptor count that every input must leave as it found it. */
#ifndef SHMAP_FUZZ_PEER_H
#define SHMAP_FUZZ_PEER_H

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shmap.h"

static long fz_open_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  long n = 0;
  for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;)
    n += e->d_name[0] != '.';
  if (d != NULL)
    closedir(d);
  return n;
}

/* "An error without a message": before each call the thread's last message
 * is set to a known one (a refused NULL argument); a call that then fails
 * must have written its own. */
static char fz_primed[256];

static void fz_prime(void) {
  (void)shmap_mappable_check_range(NULL, 0x1234, 0);
  snprintf(fz_primed, sizeof fz_primed, "%s", shmap_last_message());
}

static void fz_check_result(int rc) {
  if (rc > 0)
    abort(); /* results are 0 or a negative SHMAP_E* code */
  if (rc < 0) {
    const char *msg = shmap_last_message();
    if (msg == NULL || msg[0] == '\0' || strcmp(msg, fz_primed) == 0)
      abort(); /* a failure without its own message */
  }
}

/* The most recent "shrunk later" memfd the peer sent (its own copy), which
 * fz_shrink() truncates while the library holds it; -1 when none. */
static int fz_shrinkable = -1;

static void fz_shrink(void) {
  if (fz_shrinkable >= 0) {
    (void)ftruncate(fz_shrinkable, 0x1000);
    close(fz_shrinkable);
    fz_shrinkable = -1;
  }
}

/* One descriptor of kind `kind` (the high nibble of a chunk byte):
 *   bit 0 clear: the read end of a pipe (not memory at all);
 *   bit 0 set:   a memfd of 64 KiB, and then
 *     bit 1: sent as a read-only reopen (/proc/self/fd/N, O_RDONLY);
 *     bit 2: unsealed (a peer could shrink it; refused unless the receiver
 *            opted out), else sealed F_SEAL_SHRINK|F_SEAL_GROW;
 *     bit 3: sealed: only 4 KiB (smaller than any region);
 *            unsealed: shrunk to 4 KiB later, while the receiver holds it
 *            (fz_shrink()).
 * Bits 0 and 2 mean what they meant before bits 1 and 3 existed, so older
 * seeds keep their sense. */
static int fz_make_fd(int kind) {
  if (!(kind & 1)) {
    int pp[2];
    if (pipe2(pp, O_CLOEXEC) != 0)
      abort();
    close(pp[1]);
    return pp[0];
  }
  int fd = memfd_create("fz", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0)
    abort();
  int sealed = !(kind & 4), small = sealed && (kind & 8);
  if (ftruncate(fd, small ? 0x1000 : 0x10000) != 0)
    abort();
  if (sealed && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) != 0)
    abort();
  if (!sealed && (kind & 8)) {
    if (fz_shrinkable >= 0)
      close(fz_shrinkable);
    fz_shrinkable = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  }
  if (kind & 2) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    int ro = open(path, O_RDONLY | O_CLOEXEC);
    if (ro < 0)
      abort();
    close(fd);
    fd = ro;
  }
  return fd;
}

/* Write `n` bytes at `p` with `nfds` descriptors of `kind` attached (at
 * most 10: more than one message may carry, so the receiver must refuse
 * them). The descriptors are closed here: the receiver has its copies. */
static void fz_send_chunk(int sock, const uint8_t *p, size_t n, int nfds,
                          int kind) {
  int fds[12];
  for (int i = 0; i < nfds; i++)
    fds[i] = fz_make_fd(kind);
  union {
    char b[CMSG_SPACE(sizeof(int) * 12)];
    struct cmsghdr a;
  } ctl;
  memset(&ctl, 0, sizeof ctl);
  struct iovec iov = {(void *)p, n};
  struct msghdr mh = {0};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  if (nfds > 0) {
    mh.msg_control = ctl.b;
    mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
  }
  (void)sendmsg(sock, &mh, MSG_NOSIGNAL);
  for (int i = 0; i < nfds; i++)
    close(fds[i]);
}

/* The peer's chunks: each is a byte (low nibble descriptor count, capped at
 * 10; high nibble descriptor kind, fz_make_fd()), a length byte, and that
 * many bytes (fewer at the end of the input). A zero length ends the list.
 * Returns how many input bytes were used. */
static size_t fz_send_chunks(int sock, const uint8_t *data, size_t size) {
  size_t i = 0;
  while (i + 2 <= size) {
    int nfds = data[i] & 0x0f, kind = data[i] >> 4;
    size_t len = data[i + 1];
    i += 2;
    if (len > size - i)
      len = size - i;
    if (len == 0)
      break;
    fz_send_chunk(sock, data + i, len, nfds > 10 ? 10 : nfds, kind);
    i += len;
  }
  return i;
}

#endif
