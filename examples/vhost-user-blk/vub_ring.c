/* vhost-user-blk — a split virtqueue (virtio 1.x, 2.7) whose every byte is
 * guest memory reached through shmap's fault-safe copies: the guest owns
 * the ring, so each index and descriptor is checked before it is used. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "vub.h"

/* The most host pieces one ring part may take (regions placed side by
 * side by the front end); one is the usual case. */
#define MAX_PIECES 8

/* Guest address of front-end range [ua, ua+len): every byte in guest
 * memory with `prot`, the pieces contiguous in guest space too, so that
 * the part can be addressed by guest address from then on. */
static int locate(const vub_dev *d, uint64_t ua, uint64_t len, unsigned prot,
                  uint64_t *gpa) {
  shmap_segment s[MAX_PIECES];
  size_t n = 0;
  int rc =
      shmap_backend_segments_uaddr(d->be, ua, len, prot, s, MAX_PIECES, &n);
  if (rc != 0)
    return rc;
  for (size_t i = 1; i < n; i++)
    if (s[i].offset != s[i - 1].offset + s[i - 1].len)
      return SHMAP_ENOENT;
  *gpa = s[0].offset;
  return 0;
}

int vub_ring_locate(const vub_dev *d, vub_vring *vq, const char **why) {
  if (vq->num == 0 || !vq->have_addr) {
    *why = "ring started without its size or addresses";
    return SHMAP_EINVAL;
  }
  /* The used ring is written; the other two are only read. */
  int rc = locate(d, vq->desc_ua, VIRTQ_DESC_BYTES((uint64_t)vq->num),
                  SHMAP_PROT_READ, &vq->desc);
  if (rc == 0)
    rc = locate(d, vq->avail_ua, VIRTQ_AVAIL_BYTES((uint64_t)vq->num),
                SHMAP_PROT_READ, &vq->avail);
  if (rc == 0)
    rc = locate(d, vq->used_ua, VIRTQ_USED_BYTES((uint64_t)vq->num),
                SHMAP_PROT_RW, &vq->used);
  if (rc != 0)
    *why = "vring address not in guest memory";
  return rc;
}

static int read16(const vub_dev *d, uint64_t gpa, uint16_t *v) {
  return shmap_backend_read(d->be, gpa, v, sizeof *v, NULL);
}

int vub_ring_quiet(const vub_dev *d, const vub_vring *vq) {
  uint16_t flags = 0;
  return read16(d, vq->avail, &flags) == 0 &&
         (flags & VIRTQ_AVAIL_F_NO_INTERRUPT) != 0;
}

/* Room for a whole chain: at most the queue size of buffers. */
static int scratch(vub_vring *vq) {
  if (vq->scratch_cap >= vq->num)
    return 0;
  vub_buf *b = realloc(vq->scratch, sizeof *b * vq->num);
  if (b == NULL)
    return SHMAP_ENOMEM;
  vq->scratch = b;
  vq->scratch_cap = vq->num;
  return 0;
}

/* Follow the chain from `head`. A chain may not hold more descriptors
 * than the queue (which is also what stops a loop), leave the table, or
 * use INDIRECT, which was not negotiated. */
static int walk(const vub_dev *d, const vub_vring *vq, uint16_t head,
                vub_chain *c, const char **why) {
  uint32_t i = head;
  memset(c, 0, sizeof *c);
  c->head = head;
  c->buf = vq->scratch;
  for (;;) {
    struct virtq_desc desc;
    if (i >= vq->num) {
      *why = "descriptor index out of range";
      return SHMAP_ERANGE;
    }
    if (c->n == vq->num) {
      *why = "chain longer than the queue (a loop?)";
      return SHMAP_ELIMIT;
    }
    int rc = shmap_backend_read(d->be, vq->desc + 16ull * i, &desc, sizeof desc,
                                NULL);
    if (rc != 0) {
      *why = "descriptor table unreadable";
      return rc;
    }
    if (desc.flags & VIRTQ_DESC_F_INDIRECT) {
      *why = "indirect descriptor (not negotiated)";
      return SHMAP_EPROTO;
    }
    int w = (desc.flags & VIRTQ_DESC_F_WRITE) != 0;
    if (!w && c->wlen > 0)
      c->misordered = 1;
    *(w ? &c->wlen : &c->rlen) += desc.len;
    c->buf[c->n++] = (vub_buf){desc.addr, desc.len, desc.flags};
    if (!(desc.flags & VIRTQ_DESC_F_NEXT))
      return 0;
    i = desc.next;
  }
}

/* How far the driver's avail idx runs ahead: read once, then trusted
 * until this pass has taken that many (a copy a request saved). */
static int avail_ahead(const vub_dev *d, vub_vring *vq, const char **why) {
  uint16_t idx;
  if (vq->avail_seen != vq->last_avail)
    return 1;
  if (read16(d, vq->avail + 2, &idx) != 0) {
    *why = "avail ring unreadable";
    return SHMAP_EFAULT;
  }
  /* idx counts forever; it may run ahead by at most the queue size. */
  uint16_t ahead = (uint16_t)(idx - vq->last_avail);
  if (ahead > vq->num) {
    *why = "avail idx ahead by more than the queue size";
    return SHMAP_ERANGE;
  }
  vq->avail_seen = idx;
  /* Read the entries only after the index that published them. */
  atomic_thread_fence(memory_order_acquire);
  return ahead != 0;
}

int vub_ring_pop(const vub_dev *d, vub_vring *vq, vub_chain *c,
                 const char **why) {
  uint16_t head;
  int rc = avail_ahead(d, vq, why);
  if (rc <= 0)
    return rc;
  if ((rc = scratch(vq)) == 0)
    rc = read16(d, vq->avail + 4 + 2ull * (vq->last_avail % vq->num), &head);
  if (rc != 0) {
    *why = rc == SHMAP_ENOMEM ? "out of memory" : "avail ring unreadable";
    return rc;
  }
  if ((rc = walk(d, vq, head, c, why)) != 0)
    return rc;
  vq->last_avail++;
  return 1;
}

int vub_ring_push(const vub_dev *d, vub_vring *vq, uint16_t head,
                  uint32_t len) {
  struct virtq_used_elem e = {head, len};
  uint64_t at = vq->used + 4 + 8ull * (vq->used_idx % vq->num);
  int rc = shmap_backend_write(d->be, at, &e, sizeof e, NULL);
  if (rc == 0)
    vq->used_idx++;
  return rc;
}

int vub_ring_publish(const vub_dev *d, const vub_vring *vq) {
  /* The elements (and the status bytes) must be visible before the index
   * that publishes them. */
  atomic_thread_fence(memory_order_release);
  return shmap_backend_write(d->be, vq->used + 2, &vq->used_idx,
                             sizeof vq->used_idx, NULL);
}
