/* shmap — POSIX channel transport: Unix stream sockets with SCM_RIGHTS.
 *
 * Framing rules (docs/wire.md, "Transports"): every descriptor of a message
 * rides on the sendmsg that carries the header's first byte; the receiver reads
 * the 12-byte header with its own recvmsg calls (never reading ahead into the
 * payload), validates it before reading anything else, and treats
 * descriptors arriving with any later byte as a protocol error. Every
 * descriptor received is owned by exactly one place from the moment it
 * arrives and is closed on every error path. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "internal.h"

/* Room for one more descriptor than a message may carry, so that an
 * over-full message is seen as "too many" rather than silently cut; more
 * than that sets MSG_CTRUNC, which is an error too. */
#define CMSG_ROOM CMSG_SPACE(sizeof(int) * (SHMAP_WIRE_MAX_FDS + 1))

static int sock_err(int code, const char *what) {
  int err = errno;
  if (err == EPIPE || err == ECONNRESET)
    return shmap__err_os(SHMAP_ECLOSED, err, "channel %s: peer closed", what);
  if (err == EAGAIN || err == EWOULDBLOCK)
    return shmap__err_os(SHMAP_EAGAIN, err, "channel %s: would block", what);
  return shmap__err_os(code, err, "channel %s", what);
}

int shmap__os_chan_send(shmap__chan_os *c, const uint8_t *buf, size_t len,
                        const shmap_native_t *fds, size_t nfds) {
  union {
    char room[CMSG_ROOM];
    struct cmsghdr align;
  } ctl;
  size_t done = 0;
  while (done < len) {
    struct iovec iov = {(void *)(buf + done), len - done};
    struct msghdr mh = {0};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    if (done == 0 && nfds > 0) {
      memset(&ctl, 0, sizeof ctl);
      mh.msg_control = ctl.room;
      mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
      struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
      cm->cmsg_level = SOL_SOCKET;
      cm->cmsg_type = SCM_RIGHTS;
      cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
      memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
    }
    /* Without descriptors, send(): the kernel then has no msghdr to copy
     * in, which is most of what a short sendmsg costs beyond write(). */
    ssize_t n = mh.msg_control != NULL
                    ? sendmsg(c->fd, &mh, MSG_NOSIGNAL)
                    : send(c->fd, buf + done, len - done, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if ((errno == EAGAIN || errno == EWOULDBLOCK) && done > 0) {
        /* Mid-message on a non-blocking socket: finishing the message is
         * the only way to keep the stream in sync. */
        struct pollfd p = {c->fd, POLLOUT, 0};
        (void)poll(&p, 1, -1);
        continue;
      }
      return sock_err(SHMAP_EOS, "send");
    }
    done += (size_t)n;
  }
  return 0;
}

/* Move the descriptors of `mh` into fds[*nfds...]; those beyond `cap` are
 * closed and reported as too many (cap 0 closes them all). */
static int take_rights(struct msghdr *mh, shmap_native_t *fds, size_t *nfds,
                       size_t cap) {
  int rc = 0;
  for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm != NULL;
       cm = CMSG_NXTHDR(mh, cm)) {
    if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
      continue;
    size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < n; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof fd);
      if (*nfds < cap)
        fds[(*nfds)++] = fd;
      else {
        shmap_native_close(fd);
        rc = SHMAP_EFDCOUNT;
      }
    }
  }
  return rc;
}

static void close_all_rights(struct msghdr *mh) {
  size_t none = 0;
  (void)take_rights(mh, NULL, &none, 0);
}

/* Receive at least `len` bytes into buf, asking for up to `max` (>= len);
 * *got says how many arrived. Descriptors are taken only with the first
 * byte (fds not NULL). */
static int recv_bytes(shmap__chan_os *c, uint8_t *buf, size_t len, size_t max,
                      size_t *got, shmap_native_t *fds, size_t *nfds) {
  union {
    char room[CMSG_ROOM];
    struct cmsghdr align;
  } ctl;
  size_t done = 0;
  int rc = 0;
  while (done < len) {
    struct iovec iov = {buf + done, max - done};
    struct msghdr mh = {0};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl.room;
    mh.msg_controllen = sizeof ctl.room;
    ssize_t n = recvmsg(c->fd, &mh, MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && done == 0 &&
        fds != NULL)
      return sock_err(SHMAP_EOS, "receive");
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      /* A message is half read: wait for the rest rather than lose sync. */
      struct pollfd p = {c->fd, POLLIN, 0};
      (void)poll(&p, 1, -1);
      continue;
    }
    if (n < 0)
      return sock_err(SHMAP_EOS, "receive");
    if (mh.msg_controllen > 0) {
      if (mh.msg_flags & MSG_CTRUNC) {
        close_all_rights(&mh);
        rc = shmap__err(SHMAP_ETRUNC,
                        "channel receive: more descriptors than a message "
                        "may carry (control data truncated)");
      } else if (fds == NULL || done > 0) {
        close_all_rights(&mh);
        rc = shmap__err(SHMAP_EPROTO,
                        "channel receive: descriptors arrived with payload "
                        "bytes");
      } else if (take_rights(&mh, fds, nfds, SHMAP_WIRE_MAX_FDS) != 0) {
        rc = shmap__err(SHMAP_EFDCOUNT,
                        "channel receive: more than %d descriptors",
                        SHMAP_WIRE_MAX_FDS);
      }
    } else if (mh.msg_flags & MSG_CTRUNC) {
      rc = shmap__err(SHMAP_ETRUNC, "channel receive: control data truncated");
    }
    if (n == 0)
      return rc != 0 ? rc
                     : shmap__err(done == 0 && fds != NULL ? SHMAP_ECLOSED
                                                           : SHMAP_EPROTO,
                                  "channel receive: peer closed %s",
                                  done == 0 && fds != NULL
                                      ? "the connection"
                                      : "the connection inside a message");
    done += (size_t)n;
  }
  if (got != NULL)
    *got = done;
  return rc;
}

/* Read one frame: the 12-byte header (descriptors allowed only with it),
 * validated before anything else is read, then the payload. Reading never
 * goes past the header until the header says how long its message is;
 * only when the caller expects a message of known size (its reply) is that
 * many asked for at once, and then more than the header announces is a
 * framing error (the peer sent something other than the reply). */
int shmap__os_chan_recv_frame(shmap_channel *ch, uint8_t *buf, size_t cap,
                              size_t *len, shmap_native_t *fds, size_t *nfds) {
  size_t want = SHMAP_WIRE_HEADER_SIZE, got = 0;
  if (ch->expect > want && ch->expect <= cap)
    want = ch->expect;
  int rc =
      recv_bytes(&ch->os, buf, SHMAP_WIRE_HEADER_SIZE, want, &got, fds, nfds);
  if (rc != 0)
    return rc;
  size_t payload;
  rc = shmap__chan_header(ch, buf, &payload);
  if (rc != 0)
    return rc;
  if (payload > cap - SHMAP_WIRE_HEADER_SIZE)
    return shmap__err(SHMAP_ESIZE, "channel receive: payload of %zu bytes",
                      payload);
  size_t have = got - SHMAP_WIRE_HEADER_SIZE;
  if (have > payload)
    return shmap__err(SHMAP_EPROTO,
                      "channel receive: expected a %zu-byte reply, got a "
                      "%zu-byte %s",
                      want, SHMAP_WIRE_HEADER_SIZE + payload,
                      shmap_wire_request_name(ch->last.request));
  if (have < payload) {
    rc = recv_bytes(&ch->os, buf + got, payload - have, payload - have, NULL,
                    NULL, NULL);
    if (rc != 0)
      return rc;
  }
  *len = SHMAP_WIRE_HEADER_SIZE + payload;
  return 0;
}

int shmap__os_chan_peer_from(shmap__chan_os *c, const shmap__chan_os *from) {
  (void)c;
  (void)from;
  return 0;
}
