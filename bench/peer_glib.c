/* shmap benchmarks — GLib/GIO as a peer: passing a memfd over a GSocket pair
 * with GUnixFDMessage, the way a GLib program would, for the same exchange
 * as shmap's ADD_MEM_REG + REM_MEM_REG round trip (same byte counts, same
 * fstat + mmap on the receiving side). */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <gio/gunixfdmessage.h>

#include "peers.h"

static int failed(const char *what, GError *err) {
  fprintf(stderr, "shmap-bench: glib peer: %s: %s\n", what,
          err ? err->message : "short transfer");
  g_clear_error(&err);
  return -1;
}

/* Send exactly `len` bytes, optionally with one descriptor attached. */
static int send_all(GSocket *s, const void *buf, gsize len, int fd) {
  GError *err = NULL;
  GOutputVector ov = {buf, len};
  GSocketControlMessage *cm = NULL;
  if (fd >= 0) {
    cm = g_unix_fd_message_new();
    if (!g_unix_fd_message_append_fd(G_UNIX_FD_MESSAGE(cm), fd, &err)) {
      g_object_unref(cm);
      return failed("append fd", err);
    }
  }
  gssize n = g_socket_send_message(s, NULL, &ov, 1, cm ? &cm : NULL, cm ? 1 : 0,
                                   G_SOCKET_MSG_NONE, NULL, &err);
  if (cm)
    g_object_unref(cm);
  return n == (gssize)len ? 0 : failed("send", err);
}

/* Receive exactly `len` bytes (one read: a stream socket pair in one thread
 * always has the whole message queued). */
static int recv_all(GSocket *s, void *buf, gsize len) {
  GError *err = NULL;
  gssize n = g_socket_receive(s, buf, len, NULL, &err);
  return n == (gssize)len ? 0 : failed("receive", err);
}

/* Receive `len` bytes and the one descriptor that came with them. */
static int recv_fd(GSocket *s, void *buf, gsize len, int *fd) {
  GError *err = NULL;
  GInputVector iv = {buf, len};
  GSocketControlMessage **msgs = NULL;
  gint nmsgs = 0, flags = 0;
  gssize n = g_socket_receive_message(s, NULL, &iv, 1, &msgs, &nmsgs, &flags,
                                      NULL, &err);
  *fd = -1;
  for (gint i = 0; i < nmsgs; i++) {
    if (*fd < 0 && G_IS_UNIX_FD_MESSAGE(msgs[i])) {
      gint nfds = 0;
      gint *fds =
          g_unix_fd_message_steal_fds(G_UNIX_FD_MESSAGE(msgs[i]), &nfds);
      if (nfds > 0)
        *fd = fds[0];
      for (gint k = 1; k < nfds; k++)
        close(fds[k]);
      g_free(fds);
    }
    g_object_unref(msgs[i]);
  }
  g_free(msgs);
  if (n != (gssize)len || *fd < 0) {
    if (*fd >= 0)
      close(*fd);
    return failed("receive with fd", err);
  }
  return 0;
}

/* The same 52-byte request (12-byte header + 40-byte region) and 20-byte
 * reply as the shmap and bare rows. */
static const guint8 request[52] = {37, 0, 0, 0, 9, 0, 0, 0, 40};
static const guint8 reply[20] = {37};

/* One ADD + REM exchange: a -> b with the descriptor, b maps it and replies;
 * then the removal request and its reply, and b unmaps. */
static int exchange(GSocket *a, GSocket *b, int fd) {
  guint8 buf[64];
  int got;
  if (send_all(a, request, sizeof request, fd) != 0 ||
      recv_fd(b, buf, 12, &got) != 0)
    return -1;
  void *p = MAP_FAILED;
  struct stat st;
  if (recv_all(b, buf + 12, 40) == 0) {
    if (fstat(got, &st) == 0)
      p = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_SHARED, got, 0);
    if (p == MAP_FAILED)
      perror("shmap-bench: glib peer: fstat/mmap");
  }
  int rc = p == MAP_FAILED || send_all(b, reply, sizeof reply, -1) ||
           recv_all(a, buf, sizeof reply) ||
           send_all(a, request, sizeof request, -1) || recv_all(b, buf, 12) ||
           recv_all(b, buf + 12, 40) || send_all(b, reply, sizeof reply, -1) ||
           recv_all(a, buf, sizeof reply);
  if (p != MAP_FAILED)
    munmap(p, 1 << 16);
  close(got);
  return rc ? -1 : 0;
}

double bench_peer_glib_fd_round_trip(int iters) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    perror("shmap-bench: glib peer: socketpair");
    return -1;
  }
  GError *err = NULL;
  GSocket *a = g_socket_new_from_fd(sv[0], &err);
  if (a == NULL) {
    close(sv[0]);
    close(sv[1]);
    return failed("socket", err);
  }
  GSocket *b = g_socket_new_from_fd(sv[1], &err);
  if (b == NULL) {
    g_object_unref(a);
    close(sv[1]);
    return failed("socket", err);
  }
  double ns = -1;
  int fd = memfd_create("glib-peer", MFD_CLOEXEC);
  if (fd < 0 || ftruncate(fd, 1 << 16) != 0) {
    perror("shmap-bench: glib peer: memfd");
  } else {
    double t0 = bench_now_ns();
    int i = 0;
    while (i < iters && exchange(a, b, fd) == 0)
      i++;
    if (i == iters)
      ns = (bench_now_ns() - t0) / iters;
  }
  if (fd >= 0)
    close(fd);
  g_object_unref(a); /* each GSocket closes its descriptor */
  g_object_unref(b);
  return ns;
}
