/* shmap — wire codec for the memory subset of vhost-user (WIRE.md).
 *
 * Pure functions: no OS calls, no allocation, thread-safe. Integers on the
 * wire are little-endian; the codec reads and writes them byte by byte.
 * Decoding enforces every rule of WIRE.md that needs no OS: exact sizes,
 * zero padding, known flag bits, non-zero lengths, no 64-bit overflow, no
 * overlap inside one SET_MEM_TABLE, and the descriptor count per request.
 */
#ifndef SHMAP_WIRE_H
#define SHMAP_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "shmap/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SHMAP_WIRE_HEADER_SIZE 12
#define SHMAP_WIRE_REGION_SIZE 32
#define SHMAP_WIRE_MAX_REGIONS 8
#define SHMAP_WIRE_MAX_FDS 8
/* The largest payload: SET_MEM_TABLE with eight regions. */
#define SHMAP_WIRE_MAX_PAYLOAD (8 + SHMAP_WIRE_REGION_SIZE * SHMAP_WIRE_MAX_REGIONS)
#define SHMAP_WIRE_MAX_MESSAGE (SHMAP_WIRE_HEADER_SIZE + SHMAP_WIRE_MAX_PAYLOAD)

/* Request codes. The two directions have separate code spaces; the codes
 * used here happen not to collide, so a code names its direction. */
enum shmap_wire_request {
  /* front end -> back end */
  SHMAP_REQ_SET_MEM_TABLE = 5,
  SHMAP_REQ_GET_MAX_MEM_SLOTS = 36,
  SHMAP_REQ_ADD_MEM_REG = 37,
  SHMAP_REQ_REM_MEM_REG = 38,
  /* back end -> front end */
  SHMAP_REQ_SHMEM_MAP = 9,
  SHMAP_REQ_SHMEM_UNMAP = 10,
  SHMAP_REQ_EXTERNAL_MAP = 1007
};

/* Header flag bits. */
#define SHMAP_WIRE_VERSION 0x1u
#define SHMAP_WIRE_VERSION_MASK 0x3u
#define SHMAP_WIRE_REPLY 0x4u
#define SHMAP_WIRE_NEED_REPLY 0x8u
/* SHMEM_MAP flags: bit 0 set = read-write mapping. */
#define SHMAP_WIRE_MAP_RW 0x1u

/* Which way a message travels. */
enum shmap_wire_direction {
  SHMAP_WIRE_TO_BACKEND = 1,
  SHMAP_WIRE_TO_FRONTEND = 2
};

typedef struct shmap_wire_header {
  uint32_t request;
  uint32_t flags;
  uint32_t size; /* payload bytes after the header */
} shmap_wire_header;

typedef struct shmap_wire_region {
  uint64_t guest_phys_addr;
  uint64_t memory_size;
  uint64_t userspace_addr;
  uint64_t mmap_offset;
} shmap_wire_region;

typedef struct shmap_wire_mmap {
  uint8_t shmid;
  uint64_t fd_offset;
  uint64_t shm_offset;
  uint64_t len;
  uint64_t flags;
} shmap_wire_mmap;

typedef struct shmap_wire_external {
  uint8_t shmid;
  uint64_t shm_offset;
  uint64_t len;
  uint64_t ptr;
} shmap_wire_external;

/* One message. `hdr.size` is computed by the encoder; which union member
 * is used follows from hdr.request (and the REPLY flag: replies use u64). */
typedef struct shmap_wire_msg {
  shmap_wire_header hdr;
  union {
    struct {
      uint32_t num_regions;
      shmap_wire_region regions[SHMAP_WIRE_MAX_REGIONS];
    } mem_table;                  /* SET_MEM_TABLE */
    shmap_wire_region region;     /* ADD_MEM_REG, REM_MEM_REG */
    shmap_wire_mmap mmap;         /* SHMEM_MAP, SHMEM_UNMAP */
    shmap_wire_external external; /* EXTERNAL_MAP */
    uint64_t u64;                 /* replies */
  } u;
} shmap_wire_msg;

/* Name of a request code ("ADD_MEM_REG"), or "UNKNOWN". */
SHMAP_API const char *shmap_wire_request_name(uint32_t request);
/* Direction a request code travels in, or 0 for an unknown code. */
SHMAP_API int shmap_wire_direction(uint32_t request);

/* Validate a received 12-byte header, for a receiver to whom requests of
 * direction `inbound` are addressed (replies then answer the other
 * direction's codes). Checks version, reserved bits, the code, and that
 * `size` is one the request allows — before any payload is read.
 * Errors: EINVAL, EVERSION, EFLAGS, EREQUEST, ESIZE. */
SHMAP_API int shmap_wire_header_decode(const uint8_t *buf, int inbound,
                                       shmap_wire_header *out);

/* Decode the payload of a message whose header passed header_decode.
 * `out->hdr` is set from `h`. Errors: ESIZE, EPADDING, EFLAGS, EEMPTY,
 * EOVERFLOW, EOVERLAP, EINVAL. */
SHMAP_API int shmap_wire_decode(const shmap_wire_header *h,
                                const uint8_t *payload, size_t len,
                                shmap_wire_msg *out);

/* Encode header and payload into buf (cap >= SHMAP_WIRE_MAX_MESSAGE is
 * always enough); sets msg's size field in the output, not in `msg`. The
 * message is checked by the same rules a receiver applies, so an invalid
 * message is never sent. Errors: EINVAL, ESIZE (cap), and decode's. */
SHMAP_API int shmap_wire_encode(const shmap_wire_msg *msg, uint8_t *buf,
                                size_t cap, size_t *out_len);

/* Descriptors a message must carry: [*min, *max]. REM_MEM_REG tolerates
 * one (it is closed and ignored). */
SHMAP_API void shmap_wire_fd_range(const shmap_wire_msg *msg, size_t *min,
                                   size_t *max);
/* EFDCOUNT (with a message) unless min <= nfds <= max. */
SHMAP_API int shmap_wire_check_fds(const shmap_wire_msg *msg, size_t nfds);

/* Replies: a reply value is 0 for success; a failure is the negative shmap
 * error code as a two's-complement u64 (crosvm's convention for errno).
 * A receiver treats every non-zero value as failure: values that are not a
 * shmap code (QEMU sends 1) become SHMAP_EREPLY. */
SHMAP_API uint64_t shmap_wire_reply_value(int err);
SHMAP_API int shmap_wire_reply_result(uint64_t value);
/* A reply message for `request` carrying `value`. */
SHMAP_API void shmap_wire_reply_init(shmap_wire_msg *msg, uint32_t request,
                                     uint64_t value);

#ifdef __cplusplus
}
#endif
#endif /* SHMAP_WIRE_H */
