/**
 * @file shmap/wire.h
 * Wire codec for the memory subset of vhost-user.
 *
 * Most programs never call it: channel.h sends and receives through it, and
 * region.h builds the messages. It is public for tools, tests and peers
 * that speak the protocol their own way.
 *
 * Pure functions: no OS calls, no allocation, nothing to free, thread-safe
 * (a failure is recorded in the calling thread's error state only).
 * Integers on the wire are little-endian; the codec reads and writes them
 * byte by byte. Decoding enforces every rule of the protocol that needs no
 * OS: exact sizes, zero padding, known flag bits, non-zero lengths, no
 * 64-bit overflow, no overlap inside one SET_MEM_TABLE, and the descriptor
 * count per request.
 */
#ifndef SHMAP_WIRE_H
#define SHMAP_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "shmap/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Bytes in a message header: request, flags, size (u32 each). */
#define SHMAP_WIRE_HEADER_SIZE 12
/** Bytes in one memory region on the wire. */
#define SHMAP_WIRE_REGION_SIZE 32
/** Most regions one SET_MEM_TABLE may carry. */
#define SHMAP_WIRE_MAX_REGIONS 8
/** Most descriptors one message may carry: room to give shmap_channel_recv. */
#define SHMAP_WIRE_MAX_FDS 8
/** The largest payload: SET_MEM_TABLE with eight regions. */
#define SHMAP_WIRE_MAX_PAYLOAD                                                 \
  (8 + SHMAP_WIRE_REGION_SIZE * SHMAP_WIRE_MAX_REGIONS)
/** The largest message, header included: enough for any encode buffer. */
#define SHMAP_WIRE_MAX_MESSAGE (SHMAP_WIRE_HEADER_SIZE + SHMAP_WIRE_MAX_PAYLOAD)

/**
 * Request codes. The two directions have separate code spaces; the codes
 * used here happen not to collide, so a code names its direction.
 */
enum shmap_wire_request {
  /* front end -> back end */
  SHMAP_REQ_SET_MEM_TABLE = 5,      /**< replace the whole region table */
  SHMAP_REQ_GET_MAX_MEM_SLOTS = 36, /**< ask how many regions fit */
  SHMAP_REQ_ADD_MEM_REG = 37,       /**< add one region (one descriptor) */
  SHMAP_REQ_REM_MEM_REG = 38,       /**< remove one region */
  /* back end -> front end */
  SHMAP_REQ_SHMEM_MAP = 9,      /**< map a buffer into a shm window */
  SHMAP_REQ_SHMEM_UNMAP = 10,   /**< unmap it again */
  SHMAP_REQ_EXTERNAL_MAP = 1007 /**< in-process: record a pointer range */
};

/** Header flags: protocol version 1 in the version bits. */
#define SHMAP_WIRE_VERSION 0x1u
/** Header flags: the version bits. */
#define SHMAP_WIRE_VERSION_MASK 0x3u
/** Header flags: this message is a reply. */
#define SHMAP_WIRE_REPLY 0x4u
/** Header flags: the sender waits for a reply. */
#define SHMAP_WIRE_NEED_REPLY 0x8u
/** SHMEM_MAP flags: bit 0 set = read-write mapping. */
#define SHMAP_WIRE_MAP_RW 0x1u

/** Which way a message travels. */
enum shmap_wire_direction {
  SHMAP_WIRE_TO_BACKEND = 1, /**< front end to back end */
  SHMAP_WIRE_TO_FRONTEND = 2 /**< back end to front end */
};

/** A message header, decoded. */
typedef struct shmap_wire_header {
  uint32_t request; /**< enum shmap_wire_request */
  uint32_t flags;   /**< SHMAP_WIRE_VERSION | _REPLY | _NEED_REPLY */
  uint32_t size;    /**< payload bytes after the header */
} shmap_wire_header;

/** One guest memory region (ADD_MEM_REG, REM_MEM_REG, SET_MEM_TABLE). */
typedef struct shmap_wire_region {
  uint64_t guest_phys_addr; /**< where the guest sees it */
  uint64_t memory_size;     /**< bytes */
  uint64_t userspace_addr;  /**< the sender's address; informational */
  uint64_t mmap_offset;     /**< offset into the descriptor's object */
} shmap_wire_region;

/** SHMEM_MAP / SHMEM_UNMAP: a buffer in a shared-memory window. */
typedef struct shmap_wire_mmap {
  uint8_t shmid;       /**< which window of the front end */
  uint64_t fd_offset;  /**< offset into the descriptor's object (MAP) */
  uint64_t shm_offset; /**< offset in the window */
  uint64_t len;        /**< bytes */
  uint64_t flags;      /**< SHMAP_WIRE_MAP_RW or 0 */
} shmap_wire_mmap;

/** EXTERNAL_MAP: a pointer range standing for part of a window. */
typedef struct shmap_wire_external {
  uint8_t shmid;       /**< which window of the front end */
  uint64_t shm_offset; /**< offset in the window */
  uint64_t len;        /**< bytes */
  uint64_t ptr;        /**< address in the (shared) process */
} shmap_wire_external;

/**
 * One message. `hdr.size` is computed by the encoder; which union member
 * is used follows from hdr.request (and the REPLY flag: replies use u64).
 */
typedef struct shmap_wire_msg {
  shmap_wire_header hdr; /**< request, flags; size set by the encoder */
  /** The payload; the member in use follows from `hdr`. */
  union {
    /** SET_MEM_TABLE */
    struct {
      uint32_t num_regions; /**< 1 to SHMAP_WIRE_MAX_REGIONS */
      /** The first num_regions are in use. */
      shmap_wire_region regions[SHMAP_WIRE_MAX_REGIONS];
    } mem_table;
    shmap_wire_region region;     /**< ADD_MEM_REG, REM_MEM_REG */
    shmap_wire_mmap mmap;         /**< SHMEM_MAP, SHMEM_UNMAP */
    shmap_wire_external external; /**< EXTERNAL_MAP */
    uint64_t u64;                 /**< replies: see shmap_wire_reply_value() */
  } u;
} shmap_wire_msg;

/** Name of a request code ("ADD_MEM_REG"), or "UNKNOWN"; a static string. */
SHMAP_API const char *shmap_wire_request_name(uint32_t request);
/**
 * Direction a request code travels in (enum shmap_wire_direction), or 0
 * for an unknown code.
 */
SHMAP_API int shmap_wire_direction(uint32_t request);

/**
 * Validate a received 12-byte header, for a receiver to whom requests of
 * direction `inbound` are addressed (replies then answer the other
 * direction's codes). Checks version, reserved bits, the code, and that
 * `size` is one the request allows — before any payload is read, so a
 * hostile size is never used to read.
 *
 * Errors: SHMAP_EINVAL, SHMAP_EVERSION, SHMAP_EFLAGS, SHMAP_EREQUEST,
 * SHMAP_ESIZE.
 */
SHMAP_API int shmap_wire_header_decode(const uint8_t *buf, int inbound,
                                       shmap_wire_header *out);

/**
 * Decode the payload of a message whose header passed
 * shmap_wire_header_decode(); `out->hdr` is set from `h` and the union
 * member the request uses is filled in whole (the rest of the union is left
 * as it was). On failure the union is zeroed.
 *
 * Errors: SHMAP_ESIZE, SHMAP_EPADDING, SHMAP_EFLAGS, SHMAP_EEMPTY,
 * SHMAP_EOVERFLOW, SHMAP_EOVERLAP, SHMAP_EINVAL.
 */
SHMAP_API int shmap_wire_decode(const shmap_wire_header *h,
                                const uint8_t *payload, size_t len,
                                shmap_wire_msg *out);

/**
 * Encode header and payload into `buf` (cap >= SHMAP_WIRE_MAX_MESSAGE is
 * always enough) and set `*out_len`; the size field is computed into the
 * output, `msg` is not changed. The message is checked by the same rules a
 * receiver applies, so an invalid message is never sent.
 *
 * Errors: SHMAP_EINVAL, SHMAP_ESIZE (cap too small), and those of
 * shmap_wire_header_decode() and shmap_wire_decode().
 */
SHMAP_API int shmap_wire_encode(const shmap_wire_msg *msg, uint8_t *buf,
                                size_t cap, size_t *out_len);

/**
 * Descriptors a message must carry: [*min, *max]. REM_MEM_REG tolerates
 * one (QEMU sends it; it is closed and ignored). Cannot fail.
 */
SHMAP_API void shmap_wire_fd_range(const shmap_wire_msg *msg, size_t *min,
                                   size_t *max);
/**
 * 0 when `nfds` is in the range of shmap_wire_fd_range(), else
 * SHMAP_EFDCOUNT (with a message naming the request); SHMAP_EINVAL for a
 * NULL message.
 */
SHMAP_API int shmap_wire_check_fds(const shmap_wire_msg *msg, size_t nfds);

/**
 * The reply value for a result: 0 for success; a failure is the negative
 * shmap error code as a two's-complement u64 (crosvm's convention for
 * errno). Cannot fail.
 */
SHMAP_API uint64_t shmap_wire_reply_value(int err);
/**
 * The result a reply value stands for: 0, the shmap code it carries, or
 * SHMAP_EREPLY for any other non-zero value (QEMU sends 1). Every non-zero
 * value is a failure. Sets no error state.
 */
SHMAP_API int shmap_wire_reply_result(uint64_t value);
/** Fill `*msg` with a reply (flags 0x5, size 8) to `request` with `value`. */
SHMAP_API void shmap_wire_reply_init(shmap_wire_msg *msg, uint32_t request,
                                     uint64_t value);

#ifdef __cplusplus
}
#endif
#endif /* SHMAP_WIRE_H */
