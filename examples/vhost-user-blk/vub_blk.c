/* vhost-user-blk — virtio-blk requests (virtio 1.x, 5.2) against an image
 * file. A request is a chain: the 16-byte header in its device-readable
 * part, data, and a status byte, the last byte of its device-writable
 * part. Every buffer is checked before any I/O, so a request that fails
 * leaves the image as it was. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "vub.h"

/* Host pieces one descriptor buffer may take. */
#define MAX_SEGS 8
/* GET_ID's answer: a serial number, NUL-padded. */
static const char serial[VIRTIO_BLK_ID_BYTES] = "shmap-vhost-user-blk";

int vub_open_image(vub_dev *d, const char *path, int readonly) {
  int fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
  struct stat st;
  if (fd < 0)
    return -1;
  int e = fstat(fd, &st) != 0 ? errno : !S_ISREG(st.st_mode) ? EINVAL : 0;
  if (e != 0) { /* a device or pipe has no size to serve */
    close(fd);
    errno = e;
    return -1;
  }
  d->fd = fd;
  d->readonly = readonly;
  /* A tail shorter than a sector is not served. */
  d->capacity = (uint64_t)st.st_size / VIRTIO_BLK_SECTOR;
  return 0;
}

void vub_close_image(vub_dev *d) {
  if (d->fd >= 0)
    close(d->fd);
  d->fd = -1;
}

/* Call fn on each guest piece of bytes [off, off+len) of the chain's
 * readable (write 0) or writable (write 1) part, in order. */
typedef int (*piece_fn)(vub_dev *d, void *ctx, uint64_t gpa, uint64_t len);
static int each_piece(vub_dev *d, const vub_chain *c, int write, uint64_t off,
                      uint64_t len, piece_fn fn, void *ctx) {
  for (uint32_t i = 0; i < c->n && len > 0; i++) {
    const vub_buf *b = &c->buf[i];
    if (((b->flags & VIRTQ_DESC_F_WRITE) != 0) != write)
      continue;
    if (off >= b->len) {
      off -= b->len;
      continue;
    }
    uint64_t take = b->len - off < len ? b->len - off : len;
    if (b->addr + off < b->addr) /* wraps: certainly not guest memory */
      return SHMAP_EOVERFLOW;
    int rc = fn(d, ctx, b->addr + off, take);
    if (rc != 0)
      return rc;
    off = 0;
    len -= take;
  }
  return 0;
}

/* Piece callbacks: check access (ctx: the prot needed), copy in or out,
 * or do file I/O. */
static int check(vub_dev *d, void *ctx, uint64_t gpa, uint64_t len) {
  shmap_segment s[MAX_SEGS];
  size_t n;
  return shmap_backend_segments(d->be, gpa, len, *(const unsigned *)ctx, s,
                                MAX_SEGS, &n);
}
static int copy_in(vub_dev *d, void *ctx, uint64_t gpa, uint64_t len) {
  uint8_t **p = ctx;
  int rc = shmap_backend_read(d->be, gpa, *p, (size_t)len, NULL);
  *p += len;
  return rc;
}
static int copy_out(vub_dev *d, void *ctx, uint64_t gpa, uint64_t len) {
  const uint8_t **p = ctx;
  int rc = shmap_backend_write(d->be, gpa, *p, (size_t)len, NULL);
  *p += len;
  return rc;
}

/* File I/O straight between the image and guest memory: the segments are
 * the host addresses of the guest buffer (the kernel reports a fault there
 * as EFAULT rather than a signal). */
struct io {
  int write;    /* 1: guest to image (T_OUT) */
  uint64_t pos; /* image offset of the next byte */
};
static int do_io(vub_dev *d, void *ctx, uint64_t gpa, uint64_t len) {
  struct io *io = ctx;
  shmap_segment s[MAX_SEGS];
  struct iovec iov[MAX_SEGS];
  size_t n;
  int rc = shmap_backend_segments(d->be, gpa, len,
                                  io->write ? SHMAP_PROT_READ : SHMAP_PROT_RW,
                                  s, MAX_SEGS, &n);
  if (rc != 0)
    return rc;
  for (size_t i = 0; i < n; i++)
    iov[i] = (struct iovec){s[i].host, (size_t)s[i].len};
  ssize_t k = io->write ? pwritev(d->fd, iov, (int)n, (off_t)io->pos)
                        : preadv(d->fd, iov, (int)n, (off_t)io->pos);
  if (k < 0 || (uint64_t)k != len) /* short: the image shrank meanwhile */
    return SHMAP_EOS;
  io->pos += len;
  return 0;
}

/* The result of one request: status and the bytes written to the chain. */
struct outcome {
  uint8_t status;
  uint32_t written; /* data bytes, without the status byte */
  const char *why;
};

/* Record a failed request; returns 0 for the handlers' convenience (the
 * failure is in the outcome, not the return value). */
static int fail(struct outcome *o, uint8_t status, const char *why) {
  o->status = status;
  o->why = why;
  return 0;
}

/* Read or write: bounds against the image, every buffer checked, then the
 * transfer. `dlen` data bytes start at `doff` of the part they are in. */
static int rw(vub_dev *d, const vub_chain *c, const struct virtio_blk_outhdr *h,
              uint64_t doff, uint64_t dlen, struct outcome *o) {
  int write = h->type == VIRTIO_BLK_T_OUT;
  struct io io = {write, h->sector * VIRTIO_BLK_SECTOR};
  if (write && d->readonly)
    return fail(o, VIRTIO_BLK_S_IOERR, "write to a read-only image");
  if (dlen % VIRTIO_BLK_SECTOR != 0)
    return fail(o, VIRTIO_BLK_S_IOERR, "length not a whole sector");
  if (h->sector > d->capacity || dlen / VIRTIO_BLK_SECTOR > d->capacity ||
      h->sector + dlen / VIRTIO_BLK_SECTOR > d->capacity)
    return fail(o, VIRTIO_BLK_S_IOERR, "past the end of the image");
  /* Guest buffers are read for a write and written for a read. */
  unsigned prot = write ? SHMAP_PROT_READ : SHMAP_PROT_RW;
  if (each_piece(d, c, !write, doff, dlen, check, &prot) != 0)
    return fail(o, VIRTIO_BLK_S_IOERR, "data buffer not in guest memory");
  if (each_piece(d, c, !write, doff, dlen, do_io, &io) != 0)
    return fail(o, VIRTIO_BLK_S_IOERR, "image I/O failed");
  if (write)
    d->bytes_written += dlen;
  else
    d->bytes_read += dlen;
  o->written = write ? 0 : (uint32_t)dlen;
  return 0;
}

/* One request of a chain whose status byte is known to be writable. */
static int request(vub_dev *d, const vub_chain *c, struct virtio_blk_outhdr *h,
                   struct outcome *o) {
  uint8_t *p = (uint8_t *)h;
  uint64_t wdata = c->wlen - 1; /* writable bytes before the status */
  if (c->misordered)
    return fail(o, VIRTIO_BLK_S_IOERR, "readable buffer after a writable one");
  if (c->rlen < sizeof *h)
    return fail(o, VIRTIO_BLK_S_IOERR, "request header too short");
  if (each_piece(d, c, 0, 0, sizeof *h, copy_in, &p) != 0)
    return fail(o, VIRTIO_BLK_S_IOERR, "request header not in guest memory");
  switch (h->type) {
  case VIRTIO_BLK_T_IN: return rw(d, c, h, 0, wdata, o);
  case VIRTIO_BLK_T_OUT:
    if (wdata != 0)
      return fail(o, VIRTIO_BLK_S_IOERR, "write with writable data buffers");
    return rw(d, c, h, sizeof *h, c->rlen - sizeof *h, o);
  case VIRTIO_BLK_T_FLUSH:
    if (!d->readonly && fdatasync(d->fd) != 0)
      return fail(o, VIRTIO_BLK_S_IOERR, "fdatasync failed");
    return 0;
  case VIRTIO_BLK_T_GET_ID: {
    const uint8_t *s = (const uint8_t *)serial;
    uint64_t n = wdata < sizeof serial ? wdata : sizeof serial;
    if (each_piece(d, c, 1, 0, n, copy_out, &s) != 0)
      return fail(o, VIRTIO_BLK_S_IOERR, "id buffer not in guest memory");
    o->written = (uint32_t)n;
    return 0;
  }
  default: return fail(o, VIRTIO_BLK_S_UNSUPP, "request type not supported");
  }
}

static void report(vub_dev *d, uint32_t ring, int broken, uint32_t type,
                   uint8_t status, uint64_t sector, const char *why) {
  vub_report r = {ring, broken, type, status, sector, why};
  if (d->on_report != NULL)
    d->on_report(d->report_ctx, &r);
}

/* Tell the driver through an eventfd (call or err); a full or foreign
 * descriptor is not our problem, and never blocks us (non-blocking). */
static void signal_fd(shmap_native_t fd) {
  uint64_t one = 1;
  if (fd != SHMAP_NATIVE_INVALID && write(fd, &one, sizeof one) < 0)
    return; /* nothing to do about it */
}

static void set_broken(vub_dev *d, uint32_t index, const char *why) {
  d->vq[index].broken = 1;
  d->vq[index].pending = 0;
  report(d, index, 1, 0, 0, 0, why);
  signal_fd(d->vq[index].err);
}

/* Serve one popped chain; 0, or negative when the ring must stop. */
static int serve_chain(vub_dev *d, uint32_t index, const vub_chain *c,
                       const char **why) {
  vub_vring *vq = &d->vq[index];
  const vub_buf *last = c->n > 0 ? &c->buf[c->n - 1] : NULL;
  shmap_segment s;
  size_t n;
  /* Without a writable status byte the request cannot be answered: the
   * driver is broken, and so is the ring. */
  if (last == NULL || !(last->flags & VIRTQ_DESC_F_WRITE) || last->len == 0 ||
      last->addr + last->len < last->addr ||
      shmap_backend_segments(d->be, last->addr + last->len - 1, 1,
                             SHMAP_PROT_RW, &s, 1, &n) != 0) {
    *why = "request without a writable status byte";
    return SHMAP_EPROTO;
  }
  struct virtio_blk_outhdr h = {0};
  struct outcome o = {VIRTIO_BLK_S_OK, 0, NULL};
  (void)request(d, c, &h, &o);
  d->requests++;
  if (o.status != VIRTIO_BLK_S_OK) {
    d->failed++;
    report(d, index, 0, h.type, o.status, h.sector, o.why);
  }
  if (shmap_backend_write(d->be, last->addr + last->len - 1, &o.status, 1,
                          NULL) != 0 ||
      vub_ring_push(d, vq, c->head, o.written + 1) != 0) {
    *why = "used ring or status byte unwritable";
    return SHMAP_EFAULT;
  }
  return 0;
}

void vub_process(vub_dev *d, uint32_t index) {
  vub_vring *vq = &d->vq[index];
  const char *why = NULL;
  uint32_t done = 0;
  vq->pending = 0;
  if (!vq->started || vq->broken || !vq->enabled || d->fd < 0)
    return;
  if (vub_ring_locate(d, vq, &why) != 0) {
    set_broken(d, index, why);
    return;
  }
  vq->avail_seen = vq->last_avail; /* read the avail idx afresh */
  /* One queue's worth per pass, so that messages are not starved by a
   * driver that keeps adding; the loop comes back for the rest. */
  for (; done < vq->num; done++) {
    vub_chain c;
    int rc = vub_ring_pop(d, vq, &c, &why);
    if (rc == 0)
      break;
    if (rc < 0 || serve_chain(d, index, &c, &why) != 0) {
      set_broken(d, index, why);
      break;
    }
  }
  vq->pending = done == vq->num;
  if (done == 0)
    return;
  /* What completed is published, even on a ring that just broke. */
  if (vub_ring_publish(d, vq) != 0) {
    set_broken(d, index, "used ring unwritable");
    return;
  }
  if (!vub_ring_quiet(d, vq))
    signal_fd(vq->call);
}
