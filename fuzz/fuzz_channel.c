/* libFuzzer target: the receive path. The input is split into a few chunks
 * that are written into a socketpair, some carrying descriptors (a memfd or
 * a pipe end), and a back end serves whatever arrives until the channel
 * fails or empties. Nothing may crash, and no descriptor may survive. */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static long open_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  long n = 0;
  for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;)
    n += e->d_name[0] != '.';
  if (d != NULL)
    closedir(d);
  return n;
}

static void send_chunk(int sock, const uint8_t *p, size_t n, int nfds,
                       int kind) {
  int fds[12];
  for (int i = 0; i < nfds; i++) {
    if (kind & 1) {
      fds[i] = memfd_create("fz", MFD_CLOEXEC | MFD_ALLOW_SEALING);
      if (fds[i] >= 0 && ftruncate(fds[i], 0x10000) != 0)
        abort();
      /* Sealed against shrinking, as the endpoints require by default,
       * unless bit 2 asks for memory a peer could shrink (refused). */
      if (fds[i] >= 0 && !(kind & 4) &&
          fcntl(fds[i], F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) != 0)
        abort();
    } else {
      int pp[2];
      if (pipe2(pp, O_CLOEXEC) != 0)
        abort();
      close(pp[1]);
      fds[i] = pp[0];
    }
  }
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static shmap_window *w;
  if (w == NULL && shmap_window_reserve(UINT64_C(1) << 32, 0, &w) != 0)
    abort();
  long before = open_fds();
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    abort();
  /* Control bytes: the first byte picks the role (bit 0) and whether the
   * channel is of the other kind than the role's usual receiving one (bit
   * 1: a front end on the main socket, a back end on the back-end request
   * socket, where every message is foreign), then each chunk starts
   * with a byte: low 4 bits descriptor count, bit 4 memfd vs pipe, and a
   * length byte. */
  size_t i = 0;
  unsigned ctl = size > 0 ? data[i++] : 0;
  unsigned role = ctl & 1 ? SHMAP_ROLE_FRONTEND : SHMAP_ROLE_BACKEND;
  unsigned chan_kind = (role == SHMAP_ROLE_FRONTEND) != ((ctl & 2) != 0)
                           ? SHMAP_CHANNEL_BACKEND_REQ
                           : 0;
  while (i + 2 <= size) {
    int nfds = data[i] & 0x0f, kind = data[i] >> 4;
    size_t len = data[i + 1];
    i += 2;
    if (len > size - i)
      len = size - i;
    if (len == 0)
      break;
    send_chunk(sv[0], data + i, len, nfds > 10 ? 10 : nfds, kind);
    i += len;
  }
  shutdown(sv[0], SHUT_WR);
  shmap_channel *ch;
  if (shmap_channel_adopt(sv[1], role, SHMAP_CHANNEL_INPROCESS | chan_kind,
                          &ch) != 0)
    abort();
  shmap_backend *be = NULL;
  shmap_frontend *fe = NULL;
  if (role == SHMAP_ROLE_BACKEND) {
    if (shmap_backend_create(w, 0, &be) != 0)
      abort();
  } else if (shmap_frontend_create(&fe) != 0 ||
             shmap_frontend_add_window(fe, 0, w) != 0) {
    abort();
  }
  for (int n = 0; n < 64; n++) {
    shmap_event ev;
    int rc = be ? shmap_backend_serve_one(be, ch, &ev)
                : shmap_frontend_serve_one(fe, ch, &ev);
    if (rc != 0)
      break;
  }
  shmap_channel_close(ch);
  shmap_backend_destroy(be);
  shmap_frontend_destroy(fe);
  /* Start the next input from an empty window (this also drops the
   * references to any mappable the input left mapped). */
  if (shmap_window_count(w) > 0) {
    shmap_window_release(w);
    w = NULL;
  }
  close(sv[0]);
  if (open_fds() != before)
    abort(); /* a descriptor leaked */
  return 0;
}
