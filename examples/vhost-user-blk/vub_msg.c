/* vhost-user-blk — the requests shmap hands to the device: config space,
 * vring state, status. Portable: the tool's `--device blk` uses it on
 * Windows too, where the device keeps no descriptor and runs no ring. */
#include <stdlib.h>
#include <string.h>

#include "vub.h"

/* GET_CONFIG / SET_CONFIG: offset u32, size u32, flags u32, then bytes. */
#define CONFIG_HDR 12
/* SET_VRING_KICK/CALL/ERR: bits 0-7 the index, bit 8 "no descriptor". */
#define VRING_INDEX_MASK 0xffu
#define VRING_NOFD 0x100u
/* The config space answered: the virtio-blk struct, rounded up. */
#define CONFIG_BYTES 64

static uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}
static uint64_t le64(const uint8_t *p) {
  return le32(p) | (uint64_t)le32(p + 4) << 32;
}
static void put(uint8_t *p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

static void note(vub_note *n, const char *key, int kind, uint64_t v) {
  if (n->n < VUB_NOTE_FIELDS)
    n->f[n->n++] = (vub_field){key, kind, v};
}

/* A payload of the wrong size for its request. */
static int bad_size(vub_note *n) {
  n->why = "payload size wrong for this request";
  return SHMAP_ESIZE;
}

void vub_init(vub_dev *d, shmap_backend *be, uint64_t capacity) {
  memset(d, 0, sizeof *d);
  d->be = be;
  d->capacity = capacity;
  d->fd = -1;
  for (int i = 0; i < VUB_VRINGS; i++) {
    d->vq[i].kick = d->vq[i].call = d->vq[i].err = SHMAP_NATIVE_INVALID;
    d->vq[i].enabled = 1;
  }
}

static void drop(shmap_native_t *fd) {
  shmap_native_close(*fd);
  *fd = SHMAP_NATIVE_INVALID;
}

void vub_cleanup(vub_dev *d) {
  for (int i = 0; i < VUB_VRINGS; i++) {
    drop(&d->vq[i].kick);
    drop(&d->vq[i].call);
    drop(&d->vq[i].err);
    free(d->vq[i].scratch);
    d->vq[i].scratch = NULL;
    d->vq[i].scratch_cap = 0;
  }
}

uint64_t vub_features(const vub_dev *d) {
  uint64_t f = 1ull << VIRTIO_F_VERSION_1;
  if (d->fd >= 0)
    f |= 1ull << VIRTIO_BLK_F_FLUSH | 1ull << VIRTIO_BLK_F_BLK_SIZE |
         1ull << VIRTIO_BLK_F_SEG_MAX |
         (d->readonly ? 1ull << VIRTIO_BLK_F_RO : 0);
  return f;
}

/* GET_CONFIG: answer with the same header and the requested bytes. */
static int get_config(const vub_dev *d, shmap_channel *ch, const shmap_msg *m,
                      vub_note *n, int *replied) {
  if (m->hdr.size < CONFIG_HDR)
    return bad_size(n);
  uint32_t off = le32(m->payload), len = le32(m->payload + 4);
  note(n, "offset", VUB_NUM, off);
  note(n, "size", VUB_NUM, len);
  if (len > SHMAP_MSG_MAX_PAYLOAD - CONFIG_HDR ||
      m->hdr.size != CONFIG_HDR + len)
    return bad_size(n);
  uint8_t cfg[CONFIG_BYTES] = {0}, out[SHMAP_MSG_MAX_PAYLOAD];
  put(cfg + VIRTIO_BLK_CFG_CAPACITY, d->capacity, 8);
  put(cfg + VIRTIO_BLK_CFG_SEG_MAX, VUB_SEG_MAX, 4);
  put(cfg + VIRTIO_BLK_CFG_BLK_SIZE, VIRTIO_BLK_SECTOR, 4);
  put(cfg + VIRTIO_BLK_CFG_NUM_QUEUES, 1, 2);
  memcpy(out, m->payload, CONFIG_HDR);
  for (uint32_t i = 0; i < len; i++)
    out[CONFIG_HDR + i] =
        (uint64_t)off + i < CONFIG_BYTES ? cfg[(uint64_t)off + i] : 0;
  note(n, "capacity", VUB_NUM, d->capacity);
  *replied = 1;
  return shmap_channel_send_msg(ch, m->hdr.request, SHMAP_WIRE_REPLY, out,
                                CONFIG_HDR + (size_t)len, NULL, 0);
}

/* SET_VRING_ADDR: index u32, flags u32, desc, used, avail, log (u64 each),
 * in the front end's address space. The ring checks them for real each
 * time it runs; the log says whether each starts in guest RAM now. */
static int vring_addr(vub_dev *d, const shmap_msg *m, vub_note *n) {
  if (m->hdr.size != 40)
    return bad_size(n);
  static const char *const names[3][2] = {
      {"desc", "desc_host"}, {"used", "used_host"}, {"avail", "avail_host"}};
  uint32_t index = le32(m->payload);
  uint64_t a[3];
  note(n, "index", VUB_NUM, index);
  for (int i = 0; i < 3; i++) {
    a[i] = le64(m->payload + 8 + 8 * (size_t)i);
    note(n, names[i][0], VUB_HEX, a[i]);
    note(n, names[i][1], VUB_BOOL,
         shmap_backend_translate_uaddr(d->be, a[i], 16) != NULL);
  }
  if (index < VUB_VRINGS) {
    vub_vring *vq = &d->vq[index];
    vq->desc_ua = a[0];
    vq->used_ua = a[1];
    vq->avail_ua = a[2];
    vq->have_addr = 1;
  }
  return 0;
}

/* Vring state (index u32, num u32): SET_VRING_NUM/BASE/ENABLE. */
static int vring_state(vub_dev *d, const shmap_msg *m, vub_note *n) {
  if (m->hdr.size != 8)
    return bad_size(n);
  uint32_t index = le32(m->payload), num = le32(m->payload + 4);
  note(n, "index", VUB_NUM, index);
  note(n, "num", VUB_NUM, num);
  if (index >= VUB_VRINGS)
    return 0;
  vub_vring *vq = &d->vq[index];
  switch (m->hdr.request) {
  case SHMAP_REQ_SET_VRING_NUM:
    /* A split ring's indexes wrap at 2^16: only a power of two divides
     * that evenly. */
    if (num == 0 || num > VIRTQ_MAX_SIZE || (num & (num - 1)) != 0) {
      n->why = "queue size not a power of two up to 32768";
      return SHMAP_ERANGE;
    }
    vq->num = num;
    return 0;
  case SHMAP_REQ_SET_VRING_BASE: vq->last_avail = (uint16_t)num; return 0;
  default: /* SET_VRING_ENABLE: buffers may wait from before */
    vq->enabled = num != 0;
    vq->pending = vq->enabled;
    return 0;
  }
}

/* GET_VRING_BASE: the ring stops (no more kicks are taken until a new
 * SET_VRING_KICK); answer where it stopped. */
static int get_vring_base(vub_dev *d, shmap_channel *ch, const shmap_msg *m,
                          vub_note *n, int *replied) {
  if (m->hdr.size != 8)
    return bad_size(n);
  uint32_t index = le32(m->payload), base = 0;
  if (index < VUB_VRINGS) {
    vub_vring *vq = &d->vq[index];
    base = vq->last_avail;
    vq->started = 0;
    vq->pending = 0;
    drop(&vq->kick);
  }
  uint8_t out[8];
  put(out, index, 4);
  put(out + 4, base, 4);
  note(n, "index", VUB_NUM, index);
  note(n, "num", VUB_NUM, base);
  *replied = 1;
  return shmap_channel_send_msg(ch, m->hdr.request, SHMAP_WIRE_REPLY, out,
                                sizeof out, NULL, 0);
}

/* SET_VRING_KICK/CALL/ERR: keep the descriptor when the device runs rings
 * (replacing the previous one); a kick starts the ring where
 * SET_VRING_BASE put it. */
static int vring_fd(vub_dev *d, shmap_msg *m, uint64_t v, vub_note *n) {
  note(n, "index", VUB_NUM, v & VRING_INDEX_MASK);
  note(n, "fd", VUB_BOOL, !(v & VRING_NOFD));
  uint64_t index = v & VRING_INDEX_MASK;
  int has_fd = !(v & VRING_NOFD);
  if (has_fd != (m->nfds == 1)) {
    n->why = "descriptor count does not match the no-descriptor flag";
    return SHMAP_EFDCOUNT;
  }
  if (d->fd < 0 || index >= VUB_VRINGS)
    return 0;
  vub_vring *vq = &d->vq[index];
  shmap_native_t *slot = m->hdr.request == SHMAP_REQ_SET_VRING_KICK ? &vq->kick
                         : m->hdr.request == SHMAP_REQ_SET_VRING_CALL
                             ? &vq->call
                             : &vq->err;
  drop(slot);
  if (has_fd) {
    *slot = m->fds[0];
    m->fds[0] = SHMAP_NATIVE_INVALID;
  }
  vq->fds_ready = 0;
  if (m->hdr.request == SHMAP_REQ_SET_VRING_KICK) {
    /* Everything before last_avail was completed: the used ring resumes
     * there. A kick fd-less ring (polling mode) is not run. */
    vq->started = has_fd;
    vq->broken = 0;
    vq->pending = 1; /* look once: buffers may be waiting already */
    vq->used_idx = vq->last_avail;
  }
  return 0;
}

/* Handle one request; add its fields; answer it when it needs a payload
 * (*replied 1) or set *value for a u64 answer. */
static int handle(vub_dev *d, shmap_channel *ch, shmap_msg *m, vub_note *n,
                  uint64_t *value, int *replied) {
  uint64_t v = 0;
  int rc = 0;
  switch (m->hdr.request) {
  case SHMAP_REQ_GET_CONFIG: return get_config(d, ch, m, n, replied);
  case SHMAP_REQ_SET_CONFIG: return m->hdr.size >= CONFIG_HDR ? 0 : bad_size(n);
  case SHMAP_REQ_GET_VRING_BASE: return get_vring_base(d, ch, m, n, replied);
  case SHMAP_REQ_SET_VRING_ADDR: return vring_addr(d, m, n);
  case SHMAP_REQ_SET_VRING_NUM:
  case SHMAP_REQ_SET_VRING_BASE:
  case SHMAP_REQ_SET_VRING_ENABLE: return vring_state(d, m, n);
  case SHMAP_REQ_GET_QUEUE_NUM: *value = 1; return 0;
  case SHMAP_REQ_GET_STATUS:
    *value = d->status;
    note(n, "status", VUB_NUM, d->status);
    return 0;
  case SHMAP_REQ_SET_STATUS:
  case SHMAP_REQ_SET_VRING_KICK:
  case SHMAP_REQ_SET_VRING_CALL:
  case SHMAP_REQ_SET_VRING_ERR:
    if ((rc = shmap_msg_u64(m, &v)) != 0)
      return rc;
    if (m->hdr.request != SHMAP_REQ_SET_STATUS)
      return vring_fd(d, m, v, n);
    d->status = v;
    note(n, "status", VUB_NUM, v);
    return 0;
  default: return 0; /* accepted and ignored */
  }
}

int vub_handle(vub_dev *d, shmap_channel *ch, shmap_msg *m, vub_note *n) {
  uint32_t code = m->hdr.request;
  int is_reply = (m->hdr.flags & SHMAP_WIRE_REPLY) != 0;
  memset(n, 0, sizeof *n);
  if (is_reply)
    note(n, "reply", VUB_BOOL, 1);
  if (m->nfds > 0)
    note(n, "fds", VUB_NUM, m->nfds);
  uint64_t value = 0;
  int replied = 0, rc = 0, send_rc = 0;
  if (!is_reply)
    rc = handle(d, ch, m, n, &value, &replied);
  shmap_msg_release(m); /* whatever the device did not keep */
  if (rc < 0 && replied) {
    send_rc = rc; /* the answer itself failed to go out */
  } else if (!is_reply && !replied) {
    if (shmap_wire_always_answered(m->direction, code))
      send_rc = shmap_channel_reply_u64(
          ch, code, rc != 0 ? shmap_wire_reply_value(rc) : value);
    else if (m->hdr.flags & SHMAP_WIRE_NEED_REPLY)
      send_rc = shmap_channel_reply(ch, code, rc);
  }
  n->result = rc;
  return send_rc;
}
