/* vhost-user-blk — the event loop: one thread, poll() over the vhost-user
 * socket and the kick eventfds. A kick drains its eventfd and runs the
 * ring; a readable socket serves exactly one message. Rings run between
 * messages, never during one, so guest memory cannot be remapped under a
 * request. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "vub.h"

static void nonblocking(shmap_native_t fd) {
  int fl = fd != SHMAP_NATIVE_INVALID ? fcntl(fd, F_GETFL) : -1;
  if (fl >= 0)
    (void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Whether the ring's kick is worth watching. */
static int watched(const vub_dev *d, const vub_vring *vq) {
  return d->fd >= 0 && vq->started && !vq->broken &&
         vq->kick != SHMAP_NATIVE_INVALID;
}

/* A kick's eventfd was readable (or hung up): drain it once and run the
 * ring. A kick descriptor that fails is a front end gone wrong: stop
 * watching it rather than spin on it. */
static void kicked(vub_dev *d, uint32_t index, short revents) {
  vub_vring *vq = &d->vq[index];
  uint64_t buf[8];
  if (revents & (POLLERR | POLLHUP | POLLNVAL)) {
    shmap_native_close(vq->kick);
    vq->kick = SHMAP_NATIVE_INVALID;
    vq->started = 0;
    return;
  }
  /* One read: an eventfd resets, a pipe gives up to 64 bytes; a writer that
   * keeps it full only gets a pass per poll. */
  if (read(vq->kick, buf, sizeof buf) < 0 && errno != EAGAIN && errno != EINTR)
    return;
  vub_process(d, index);
}

int vub_serve_one(vub_dev *d, shmap_channel *ch, shmap_event *ev) {
  for (;;) {
    struct pollfd p[1 + VUB_VRINGS];
    uint32_t ring[1 + VUB_VRINGS];
    nfds_t n = 1;
    int pending = 0;
    p[0] = (struct pollfd){shmap_channel_native(ch), POLLIN, 0};
    for (uint32_t i = 0; i < VUB_VRINGS; i++) {
      vub_vring *vq = &d->vq[i];
      if (!watched(d, vq))
        continue;
      if (!vq->fds_ready) { /* a kick or call never blocks the loop */
        nonblocking(vq->kick);
        nonblocking(vq->call);
        nonblocking(vq->err);
        vq->fds_ready = 1;
      }
      pending |= vq->pending;
      ring[n] = i;
      p[n++] = (struct pollfd){vq->kick, POLLIN, 0};
    }
    /* Idle waits for the front end's next message or kick for as long as
     * it takes; a message once begun is bounded by the channel's timeout
     * (shmap_channel_set_timeout()). */
    int k = poll(p, n, pending ? 0 : -1);
    if (k < 0 && errno != EINTR)
      return SHMAP_EOS;
    /* Kicks first: a kick written before a message is served before it. */
    for (nfds_t i = 1; k > 0 && i < n; i++)
      if (p[i].revents != 0)
        kicked(d, ring[i], p[i].revents);
    for (uint32_t i = 0; i < VUB_VRINGS; i++)
      if (d->vq[i].pending && watched(d, &d->vq[i]))
        vub_process(d, i);
    if (k > 0 && p[0].revents != 0)
      return shmap_backend_serve_one(d->be, ch, ev);
  }
}
