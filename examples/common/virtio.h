/* examples — the virtio facts both sides of the block examples need: the
 * split virtqueue layout (virtio 1.x, section 2.7) and the virtio-blk
 * request format (section 5.2). Shared by the device (examples/vhost-user-blk)
 * and the VMM-side driver (examples/vmm-blk); not part of the library.
 *
 * Every field is little-endian in guest memory. The examples run on
 * little-endian hosts only (x86-64, aarch64), so they read the structs as
 * they are; a big-endian port would byte-swap here. */
#ifndef SHMAP_EXAMPLES_VIRTIO_H
#define SHMAP_EXAMPLES_VIRTIO_H

#include <stdint.h>

/* Device features (bit numbers). */
#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_RING_F_INDIRECT_DESC 28
#define VIRTIO_RING_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32

/* Device status bits (SET_STATUS). */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8

/* One descriptor of the descriptor table: 16 bytes. */
struct virtq_desc {
  uint64_t addr; /* guest-physical address of the buffer */
  uint32_t len;
  uint16_t flags; /* VIRTQ_DESC_F_* */
  uint16_t next;  /* the next descriptor of the chain, with F_NEXT */
};
#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2 /* the device writes this buffer */
#define VIRTQ_DESC_F_INDIRECT 4

/* The driver's ring: flags, idx, then ring[queue size] (and used_event
 * with EVENT_IDX). idx counts forever and wraps at 2^16. */
struct virtq_avail {
  uint16_t flags;
  uint16_t idx;
  uint16_t ring[];
};
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1

/* The device's ring: flags, idx, then ring[queue size] of (id, len). */
struct virtq_used_elem {
  uint32_t id;  /* head of the chain the device finished */
  uint32_t len; /* bytes it wrote into the chain's WRITE buffers */
};
struct virtq_used {
  uint16_t flags;
  uint16_t idx;
  struct virtq_used_elem ring[];
};

/* Sizes of the three parts for a queue of `n` entries (without EVENT_IDX's
 * trailing 2 bytes, which neither example negotiates). */
#define VIRTQ_DESC_BYTES(n) (16u * (n))
#define VIRTQ_AVAIL_BYTES(n) (4u + 2u * (n))
#define VIRTQ_USED_BYTES(n) (4u + 8u * (n))
/* The largest queue size virtio allows for a split ring. */
#define VIRTQ_MAX_SIZE 32768u

/* A virtio-blk request: this header (device-readable), the data buffers,
 * then one status byte (device-writable). */
struct virtio_blk_outhdr {
  uint32_t type; /* VIRTIO_BLK_T_* */
  uint32_t ioprio;
  uint64_t sector; /* in 512-byte units, whatever blk_size says */
};
#define VIRTIO_BLK_T_IN 0     /* read */
#define VIRTIO_BLK_T_OUT 1    /* write */
#define VIRTIO_BLK_T_FLUSH 4  /* flush */
#define VIRTIO_BLK_T_GET_ID 8 /* a 20-byte serial number */
#define VIRTIO_BLK_ID_BYTES 20
#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2
#define VIRTIO_BLK_SECTOR 512u

/* struct virtio_blk_config offsets (the config space GET_CONFIG reads). */
#define VIRTIO_BLK_CFG_CAPACITY 0    /* u64, sectors */
#define VIRTIO_BLK_CFG_SIZE_MAX 8    /* u32, bytes per segment */
#define VIRTIO_BLK_CFG_SEG_MAX 12    /* u32 */
#define VIRTIO_BLK_CFG_BLK_SIZE 20   /* u32 */
#define VIRTIO_BLK_CFG_NUM_QUEUES 34 /* u16 */
#define VIRTIO_BLK_CFG_BYTES 60

#endif
