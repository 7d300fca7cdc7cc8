/* shmap — Unix channel setup: Unix socket listen/accept/connect/pair. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "internal.h"

/* Fill `sa` for `path` and open a close-on-exec stream socket. */
static int open_unix(const char *what, const char *path, struct sockaddr_un *sa,
                     int *fd) {
  if (path == NULL || path[0] == '\0')
    return shmap__err(SHMAP_EINVAL, "%s: empty socket path", what);
  if (strlen(path) >= sizeof sa->sun_path)
    return shmap__err(SHMAP_EINVAL, "%s: socket path longer than %zu bytes",
                      what, sizeof sa->sun_path - 1);
  memset(sa, 0, sizeof *sa);
  sa->sun_family = AF_UNIX;
  memcpy(sa->sun_path, path, strlen(path) + 1); /* length checked above */
  *fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (*fd < 0)
    return shmap__err_sys(SHMAP_EOS, errno, "%s: socket", what);
  return 0;
}

int shmap__os_listen(const char *addr, shmap__listener_os *out) {
  struct sockaddr_un sa;
  int fd = -1;
  int rc = open_unix("listen", addr, &sa, &fd);
  if (rc != 0)
    return rc;
  /* A socket file left by a dead server would make bind fail: it is
   * replaced. One a live server is bound to is not (taking it over would
   * hand that server's next peers to us). A datagram connect tells them
   * apart without queueing a connection at the live server (which would
   * take it for a peer): ECONNREFUSED when nobody is bound to the file,
   * EPROTOTYPE (or success) when a socket is. Only a socket file is ever
   * removed, never a regular file someone put there. */
  struct stat st;
  if (lstat(addr, &st) == 0 && S_ISSOCK(st.st_mode)) {
    int probe = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int c = probe < 0 ? -1 : connect(probe, (struct sockaddr *)&sa, sizeof sa);
    int err = c == 0 ? EPROTOTYPE : errno;
    if (probe >= 0)
      close(probe);
    if (err != ECONNREFUSED) {
      close(fd);
      return err == EPROTOTYPE
                 ? shmap__err(SHMAP_EBUSY,
                              "listen: a live socket is bound to %s "
                              "(another server?); not taking it over",
                              addr)
                 : shmap__err_sys(SHMAP_EOS, err,
                                  "listen: probing the socket at %s", addr);
    }
    unlink(addr);
  }
  /* Created 0600 from the start: no window in which another user could
   * connect before a chmod. The mode comes from the socket's own inode
   * (Linux's bind gives the file the socket's mode less the umask), so
   * the process umask is left alone: changing it for the bind would give
   * files other threads create meanwhile its mode. */
  if (fchmod(fd, 0600) != 0) {
    int err = errno;
    close(fd);
    return shmap__err_sys(SHMAP_EOS, err, "listen: fchmod on the socket");
  }
  int b = bind(fd, (struct sockaddr *)&sa, sizeof sa);
  int err = errno;
  if (b != 0 || listen(fd, 8) != 0) {
    if (b == 0) {
      err = errno;
      unlink(addr);
    }
    close(fd);
    return shmap__err_sys(SHMAP_EOS, err, "listen: binding %s", addr);
  }
  out->fd = fd;
  memcpy(out->path, sa.sun_path, sizeof out->path);
  return 0;
}

int shmap__os_accept(shmap__listener_os *l, shmap__chan_os *out) {
  int fd = -1;
  do
    fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0)
    return shmap__err_sys(SHMAP_EOS, errno, "accept on %s", l->path);
  out->fd = fd;
  return 0;
}

void shmap__os_listener_close(shmap__listener_os *l) {
  close(l->fd);
  unlink(l->path);
}

int shmap__os_connect(const char *addr, shmap__chan_os *out) {
  struct sockaddr_un sa;
  int fd = -1;
  int rc = open_unix("connect", addr, &sa, &fd);
  if (rc != 0)
    return rc;
  int c;
  do
    c = connect(fd, (struct sockaddr *)&sa, sizeof sa);
  while (c != 0 && errno == EINTR);
  if (c != 0) {
    int err = errno;
    close(fd);
    /* No socket file at the path: nobody listens there, as for a socket
     * file nobody is bound to (ECONNREFUSED) and a missing pipe on Windows. */
    return shmap__err_sys(err == ENOENT ? SHMAP_ECONNREFUSED : SHMAP_EOS, err,
                          "connect to %s", addr);
  }
  out->fd = fd;
  return 0;
}

int shmap__os_adopt(shmap_native_t conn, shmap__chan_os *out) {
  int type = 0;
  socklen_t len = sizeof type;
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  socklen_t salen = sizeof sa;
  if (getsockopt(conn, SOL_SOCKET, SO_TYPE, &type, &len) != 0 ||
      type != SOCK_STREAM ||
      getsockname(conn, (struct sockaddr *)&sa, &salen) != 0 ||
      sa.sun_family != AF_UNIX)
    return shmap__err_os(SHMAP_EBADF, errno,
                         "channel adopt: fd %d is not a Unix stream socket",
                         conn);
  out->fd = conn;
  return 0;
}

int shmap__os_pair(shmap__chan_os *a, shmap__chan_os *b) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return shmap__err_sys(SHMAP_EOS, errno, "channel pair: socketpair");
  a->fd = sv[0];
  b->fd = sv[1];
  return 0;
}

void shmap__os_chan_close(shmap__chan_os *c) { close(c->fd); }

shmap_native_t shmap__os_chan_native(const shmap__chan_os *c) { return c->fd; }
