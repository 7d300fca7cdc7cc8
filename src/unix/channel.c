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
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* Room for one more descriptor than a message may carry, so that an
 * over-full message is seen as "too many" rather than silently cut; more
 * than that sets MSG_CTRUNC, which is an error too. */
#define CMSG_ROOM CMSG_SPACE(sizeof(int) * (SHMAP_WIRE_MAX_FDS + 1))

static int sock_err(int code, const char *what) {
  int err = errno;
  return shmap__err_sys(code, err, "channel %s", what);
}

int shmap__os_chan_timeouts(void) { return 1; }

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int nonblocking(int fd) {
  int fl = fcntl(fd, F_GETFL);
  return fl >= 0 && (fl & O_NONBLOCK);
}

/* A call on `fd` would block: wait for `events`, bounded by `timeout_ms`
 * (> 0) counted from the call's first wait (*deadline 0 until then), or
 * for ever. 0 when the call may be retried (ready, or interrupted), else
 * SHMAP_ETIMEDOUT, recorded. Only reached when a call would block: the
 * path where data (or room) is there makes no system call for it. */
SHMAP__NOINLINE static int wait_fd(int fd, short events, int timeout_ms,
                                   int64_t *deadline, const char *what) {
  int wait = -1;
  if (timeout_ms > 0) {
    int64_t now = mono_ms();
    if (*deadline == 0)
      *deadline = now + timeout_ms;
    if (now >= *deadline)
      return shmap__err(
          SHMAP_ETIMEDOUT, "channel %s: the peer %s for %d ms", what,
          events == POLLOUT ? "read nothing" : "left a message unfinished",
          timeout_ms);
    wait = (int)(*deadline - now);
  }
  struct pollfd p = {fd, events, 0};
  (void)poll(&p, 1, wait); /* timed out: the next turn says so */
  return 0;
}

int shmap__os_chan_send(shmap__chan_os *c, const uint8_t *buf, size_t len,
                        const shmap_native_t *fds, size_t nfds,
                        int timeout_ms) {
  union {
    char room[CMSG_ROOM];
    struct cmsghdr align;
  } ctl;
  /* With a bound, no call may block: a full socket is waited for in
   * wait_fd(), with the time left. */
  int flags = MSG_NOSIGNAL | (timeout_ms > 0 ? MSG_DONTWAIT : 0);
  int64_t deadline = 0;
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
                    ? sendmsg(c->fd, &mh, flags)
                    : send(c->fd, buf + done, len - done, flags);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        /* Nothing sent on a non-blocking socket: the caller's to retry.
         * Mid-message, finishing the message is the only way to keep the
         * stream in sync: wait for room, within the bound. */
        if (done == 0 && (!(flags & MSG_DONTWAIT) || nonblocking(c->fd)))
          return sock_err(SHMAP_EOS, "send");
        int rc = wait_fd(c->fd, POLLOUT, timeout_ms, &deadline, "send");
        if (rc != 0)
          return rc;
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

/* Receive until *done (in/out: bytes of the frame at buf so far) reaches
 * `len`, asking for up to `max` (>= len). Descriptors are taken only with
 * the frame's first byte (fds not NULL). A would-block with nothing read
 * is SHMAP_EAGAIN; inside the frame it is a wait bounded by the channel's
 * timeout, or on a non-blocking socket SHMAP_EAGAIN at once (the caller
 * keeps the part read). */
static int recv_bytes(shmap_channel *ch, uint8_t *buf, size_t len, size_t max,
                      size_t *done_io, shmap_native_t *fds, size_t *nfds,
                      int64_t *deadline) {
  union {
    char room[CMSG_ROOM];
    struct cmsghdr align;
  } ctl;
  shmap__chan_os *c = &ch->os;
  size_t done = *done_io;
  int rc = 0;
  while (done < len) {
    struct iovec iov = {buf + done, max - done};
    struct msghdr mh = {0};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl.room;
    mh.msg_controllen = sizeof ctl.room;
    /* The first byte may be waited for without bound; with a timeout the
     * rest never blocks in the call (wait_fd bounds it). */
    int flags = MSG_CMSG_CLOEXEC;
    if (done > 0 && ch->timeout_ms > 0)
      flags |= MSG_DONTWAIT;
    ssize_t n = recvmsg(c->fd, &mh, flags);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      *done_io = done;
      if (done == 0 || rc != 0)
        return rc != 0 ? rc : sock_err(SHMAP_EOS, "receive");
      if (!(flags & MSG_DONTWAIT) || nonblocking(c->fd))
        return shmap__err(SHMAP_EAGAIN,
                          "channel receive: would block inside a message "
                          "(%zu bytes kept; the next receive resumes it)",
                          done);
      if ((rc = wait_fd(c->fd, POLLIN, ch->timeout_ms, deadline, "receive")) !=
          0)
        return rc;
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
      return rc != 0
                 ? rc
                 : shmap__err(done == 0 ? SHMAP_ECLOSED : SHMAP_EPROTO,
                              "channel receive: peer closed %s",
                              done == 0 ? "the connection"
                                        : "the connection inside a message");
    done += (size_t)n;
  }
  *done_io = done;
  return rc;
}

/* A non-blocking socket ran dry inside a message: the channel keeps the
 * part read (bytes, descriptors) for the next receive. */
SHMAP__NOINLINE static int keep_partial(shmap_channel *ch, const uint8_t *buf,
                                        size_t got, shmap_native_t *fds,
                                        size_t *nfds) {
  if (buf != ch->rxbuf)
    memmove(ch->rxbuf, buf, got);
  ch->rx_got = got;
  memcpy(ch->rx_fds, fds, *nfds * sizeof *fds);
  ch->rx_nfds = *nfds;
  *nfds = 0;
  return SHMAP_EAGAIN; /* recorded by recv_bytes */
}

/* Take back what keep_partial() kept; returns the bytes read so far. */
SHMAP__NOINLINE static size_t resume_partial(shmap_channel *ch, uint8_t *buf,
                                             shmap_native_t *fds,
                                             size_t *nfds) {
  size_t got = ch->rx_got;
  if (buf != ch->rxbuf)
    memmove(buf, ch->rxbuf, got);
  memcpy(fds, ch->rx_fds, ch->rx_nfds * sizeof *fds);
  *nfds = ch->rx_nfds;
  ch->rx_got = 0;
  ch->rx_nfds = 0;
  return got;
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
  int64_t deadline = 0;
  if (ch->expect > want && ch->expect <= cap)
    want = ch->expect;
  if (ch->rx_got != 0)
    got = resume_partial(ch, buf, fds, nfds);
  int rc;
  if (got < SHMAP_WIRE_HEADER_SIZE) {
    rc = recv_bytes(ch, buf, SHMAP_WIRE_HEADER_SIZE, want, &got, fds, nfds,
                    &deadline);
    if (rc == SHMAP_EAGAIN && got > 0)
      return keep_partial(ch, buf, got, fds, nfds);
    if (rc != 0)
      return rc;
  }
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
    size_t whole = SHMAP_WIRE_HEADER_SIZE + payload;
    rc = recv_bytes(ch, buf, whole, whole, &got, NULL, NULL, &deadline);
    if (rc == SHMAP_EAGAIN)
      return keep_partial(ch, buf, got, fds, nfds);
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
