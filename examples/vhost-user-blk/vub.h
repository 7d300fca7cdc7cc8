/* vhost-user-blk on shmap — the device's state and its three parts:
 *
 *  - vub_msg.c (portable): the vhost-user requests shmap leaves to the
 *    device (config space, vring state, status), answered in place. The
 *    `shmap serve --device blk` tool uses it on every platform;
 *  - vub_ring.c: a split virtqueue read and written only through shmap's
 *    fault-safe guest-memory calls, every descriptor checked;
 *  - vub_blk.c and vub_loop.c (POSIX): virtio-blk requests against an image
 *    file, and the single-threaded poll() loop over the channel and kicks.
 *
 * One thread runs all of it, so the memory table cannot change under a
 * request in flight: messages (which may remap guest memory) and requests
 * take turns. */
#ifndef VUB_H
#define VUB_H

#include <stdint.h>

#include "shmap.h"
#include "virtio.h"

/* Vring indexes whose state is kept; the device serves one queue (0). */
#define VUB_VRINGS 8
/* seg_max in the config space: data buffers per request, as QEMU's
 * default queue of 128 allows (the header and status take two). */
#define VUB_SEG_MAX 126

/* One buffer of a popped chain. */
typedef struct vub_buf {
  uint64_t addr; /* guest-physical */
  uint32_t len;
  uint16_t flags; /* VIRTQ_DESC_F_* */
} vub_buf;

/* A chain taken from the avail ring: its head (the id to give back) and
 * its buffers in order. */
typedef struct vub_chain {
  uint16_t head;
  uint32_t n;
  vub_buf *buf;   /* the ring's scratch, room for the queue size */
  uint64_t rlen;  /* bytes in the device-readable buffers */
  uint64_t wlen;  /* bytes in the device-writable buffers */
  int misordered; /* a readable buffer after a writable one */
} vub_chain;

typedef struct vub_vring {
  uint32_t num;                        /* SET_VRING_NUM; 0 until set */
  uint64_t desc_ua, avail_ua, used_ua; /* SET_VRING_ADDR, front-end space */
  int have_addr;
  uint16_t last_avail; /* SET_VRING_BASE, then one per chain popped */
  uint16_t avail_seen; /* the avail idx last read (this pass) */
  uint16_t used_idx;   /* the used ring's next index */
  int enabled;   /* SET_VRING_ENABLE; 1 until told otherwise, for front ends
                    that start a ring with its kick alone */
  int started;   /* a kick arrived; GET_VRING_BASE stops it */
  int broken;    /* corrupt: not processed until restarted */
  int pending;   /* look without a kick: it just started or was enabled,
                    or a pass stopped at one queue's worth of chains */
  int fds_ready; /* kick and call made non-blocking */
  shmap_native_t kick, call, err; /* kept only by a device with an image */
  uint64_t desc, avail, used;     /* guest addresses of the three parts,
                                     translated at the start of each pass */
  vub_buf *scratch;               /* pop's buffer list */
  uint32_t scratch_cap;
} vub_vring;

/* What a failed request or a broken ring looks like to the logs. */
typedef struct vub_report {
  uint32_t ring;
  int broken;      /* 1: the ring stopped; 0: one request failed */
  uint32_t type;   /* VIRTIO_BLK_T_* of a failed request */
  uint8_t status;  /* VIRTIO_BLK_S_* it got */
  uint64_t sector; /* its sector */
  const char *why;
} vub_report;

typedef struct vub_dev {
  shmap_backend *be;
  uint64_t capacity; /* 512-byte sectors */
  uint64_t status;   /* last SET_STATUS */
  int fd;            /* the image; -1: messages only, descriptors closed */
  int readonly;
  vub_vring vq[VUB_VRINGS];
  /* Counters for the exit report. */
  uint64_t requests, failed, bytes_read, bytes_written;
  /* Told of each failed request and broken ring (NULL: nobody). */
  void (*on_report)(void *ctx, const vub_report *r);
  void *report_ctx;
} vub_dev;

/* A device without an image: it answers every request but keeps no
 * descriptor and processes no ring (the tool without --image). */
void vub_init(vub_dev *d, shmap_backend *be, uint64_t capacity);
/* Close every descriptor the device kept and free its scratch; the state
 * stays readable (counters). The image is vub_close_image()'s. */
void vub_cleanup(vub_dev *d);
/* The device features it offers (VIRTIO_F_VERSION_1 and, with an image,
 * FLUSH, BLK_SIZE, SEG_MAX, RO when read-only). */
uint64_t vub_features(const vub_dev *d);
/* The protocol features it offers. */
#define VUB_PROTOCOL (SHMAP_PROTOCOL_SHMAP_DEFAULT | SHMAP_PROTOCOL_F_CONFIG)

/* The fields a handled message adds to a log line, typed so that the tool
 * prints JSON and the example plain text from the same facts. */
enum vub_kind { VUB_NUM, VUB_HEX, VUB_BOOL };
typedef struct vub_field {
  const char *key;
  int kind;
  uint64_t v;
} vub_field;
#define VUB_NOTE_FIELDS 16
typedef struct vub_note {
  int result;      /* the request's own result (0 or SHMAP_E*) */
  const char *why; /* a failure found by the device, not the library */
  int n;
  vub_field f[VUB_NOTE_FIELDS];
} vub_note;

/* Handle one message the library left to the device (shmap_foreign_fn's
 * arguments): answer it when an answer is due, keep or close its
 * descriptors, fill `note`. Returns 0, or the send error that broke the
 * connection; a request it could not parse is answered and survived. */
int vub_handle(vub_dev *d, shmap_channel *ch, shmap_msg *m, vub_note *note);

/* ---- virtqueue (vub_ring.c) ---- */

/* Translate the ring's three parts into guest addresses (each must be in
 * guest memory with the access it needs, contiguous in guest space).
 * 0, or a negative code with *why set. */
int vub_ring_locate(const vub_dev *d, vub_vring *vq, const char **why);
/* Take the next chain: 1 taken, 0 the ring is empty, negative when the
 * ring is corrupt (*why says how: the caller marks it broken). */
int vub_ring_pop(const vub_dev *d, vub_vring *vq, vub_chain *c,
                 const char **why);
/* Give chain `head` back with `len` bytes written: the used element only;
 * vub_ring_publish() then shows the driver every element pushed. 0 or
 * negative. */
int vub_ring_push(const vub_dev *d, vub_vring *vq, uint16_t head, uint32_t len);
int vub_ring_publish(const vub_dev *d, const vub_vring *vq);
/* 1 when the driver asked for no interrupt (VIRTQ_AVAIL_F_NO_INTERRUPT). */
int vub_ring_quiet(const vub_dev *d, const vub_vring *vq);

/* ---- block device and loop (POSIX: vub_blk.c, vub_loop.c) ---- */

/* Open `path` as the device's image (capacity from its size). 0, or -1
 * with errno set. */
int vub_open_image(vub_dev *d, const char *path, int readonly);
/* Close the image (nothing when there is none). */
void vub_close_image(vub_dev *d);
/* Process ring `index` (up to one queue's worth of chains), then signal
 * its call descriptor. Marks it broken on corrupt rings. */
void vub_process(vub_dev *d, uint32_t index);
/* Wait for the channel, processing kicks meanwhile, then serve one
 * message (shmap_backend_serve_one(): the device's own go to the
 * foreign callback the caller set). Returns what serve_one returned. */
int vub_serve_one(vub_dev *d, shmap_channel *ch, shmap_event *ev);

#endif
