/**
 * @file shmap/wire.h
 * Wire codec for the memory subset of vhost-user.
 *
 * Most programs never call it: channel.h sends and receives through it, and
 * frontend.h and backend.h build the messages. It is public for tools, tests
 * and peers that speak the protocol their own way.
 *
 * Pure functions: no OS calls, no allocation, nothing to free, thread-safe
 * (a failure is recorded in the calling thread's error state only).
 * Integers on the wire are little-endian; the codec reads and writes them
 * byte by byte. Decoding enforces every rule of the protocol that needs no
 * OS: exact sizes, zero padding, known flag bits, non-zero lengths, no
 * 64-bit overflow, no overlap inside one SET_MEM_TABLE, and the descriptor
 * count per request.
 *
 * The structs here are the wire format and keep vhost-user's own field
 * names (guest_phys_addr, memory_size, mmap_offset, fd_offset, ...), so
 * that they read against the specification. The rest of the public API
 * names things its own way, one name for one thing: the offset into the
 * memory object, mmap_offset and fd_offset here, is `file_offset` there.
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
 * The largest payload a channel carries for any request, foreign ones
 * included (vhost-user's own messages are far smaller: GET_CONFIG's 256-byte
 * config space is the largest in common use). A header announcing more is
 * a framing error.
 */
#define SHMAP_MSG_MAX_PAYLOAD 4096
/** The largest frame a channel carries: header plus SHMAP_MSG_MAX_PAYLOAD. */
#define SHMAP_MSG_MAX_FRAME (SHMAP_WIRE_HEADER_SIZE + SHMAP_MSG_MAX_PAYLOAD)

/**
 * Which way a request travels, i.e. which code space it belongs to. The two
 * spaces collide (front-end 9 is SET_VRING_ADDR, back-end 9 is SHMEM_MAP),
 * so a code means something only together with its space, which a channel
 * knows from its role and kind (channel.h).
 */
enum shmap_wire_direction {
  /** Front-end requests, on the main socket (vhost-user "front-end message
   * types"). */
  SHMAP_WIRE_TO_BACKEND = 1,
  /** Back-end requests, on the back-end request socket handed over with
   * SET_BACKEND_REQ_FD (vhost-user "back-end message types"). */
  SHMAP_WIRE_TO_FRONTEND = 2
};

/**
 * Request codes shmap decodes and applies. The memory requests live in the
 * two spaces of enum shmap_wire_direction; EXTERNAL_MAP is shmap's own
 * (in-process only), in the back-end space.
 */
enum shmap_wire_request {
  /* front end -> back end (SHMAP_WIRE_TO_BACKEND) */
  SHMAP_REQ_SET_MEM_TABLE = 5,      /**< replace the whole region table */
  SHMAP_REQ_GET_MAX_MEM_SLOTS = 36, /**< ask how many regions fit */
  SHMAP_REQ_ADD_MEM_REG = 37,       /**< add one region (one descriptor) */
  SHMAP_REQ_REM_MEM_REG = 38,       /**< remove one region */
  /* back end -> front end (SHMAP_WIRE_TO_FRONTEND) */
  SHMAP_REQ_SHMEM_MAP = 9,      /**< map a buffer into a shm window */
  SHMAP_REQ_SHMEM_UNMAP = 10,   /**< unmap it again */
  SHMAP_REQ_EXTERNAL_MAP = 1007 /**< in-process: record a pointer range */
};

/**
 * Other front-end request codes (SHMAP_WIRE_TO_BACKEND) that shmap names,
 * and the handshake helpers send or answer. shmap does not decode their
 * payloads: a channel hands them to the caller whole (shmap_msg).
 */
enum shmap_wire_frontend_request {
  SHMAP_REQ_GET_FEATURES = 1,           /**< reply: u64 device features */
  SHMAP_REQ_SET_FEATURES = 2,           /**< u64 acknowledged features */
  SHMAP_REQ_SET_OWNER = 3,              /**< no payload */
  SHMAP_REQ_RESET_OWNER = 4,            /**< no payload */
  SHMAP_REQ_SET_VRING_NUM = 8,          /**< vring state */
  SHMAP_REQ_SET_VRING_ADDR = 9,         /**< vring addresses (front end's) */
  SHMAP_REQ_SET_VRING_BASE = 10,        /**< vring state */
  SHMAP_REQ_GET_VRING_BASE = 11,        /**< reply: vring state */
  SHMAP_REQ_SET_VRING_KICK = 12,        /**< u64 index, eventfd */
  SHMAP_REQ_SET_VRING_CALL = 13,        /**< u64 index, eventfd */
  SHMAP_REQ_SET_VRING_ERR = 14,         /**< u64 index, eventfd */
  SHMAP_REQ_GET_PROTOCOL_FEATURES = 15, /**< reply: u64 protocol features */
  SHMAP_REQ_SET_PROTOCOL_FEATURES = 16, /**< u64 agreed protocol features */
  SHMAP_REQ_GET_QUEUE_NUM = 17,         /**< reply: u64 queue count */
  SHMAP_REQ_SET_VRING_ENABLE = 18,      /**< vring state */
  SHMAP_REQ_SET_BACKEND_REQ_FD = 21,    /**< the back-end request socket */
  SHMAP_REQ_GET_CONFIG = 24,            /**< reply: device config space */
  SHMAP_REQ_SET_CONFIG = 25,            /**< device config space */
  SHMAP_REQ_SET_STATUS = 39,            /**< u64 device status */
  SHMAP_REQ_GET_STATUS = 40             /**< reply: u64 device status */
};

/** Device feature bit 32: a virtio 1.0 device (libvhost-user refuses to go
 * on without it). */
#define SHMAP_VIRTIO_F_VERSION_1 (1ull << 32)
/** Device feature bit 30: the peer speaks GET/SET_PROTOCOL_FEATURES. */
#define SHMAP_VHOST_F_PROTOCOL_FEATURES (1ull << 30)
/** Protocol feature: multiple queues (GET_QUEUE_NUM). */
#define SHMAP_PROTOCOL_F_MQ (1ull << 0)
/** Protocol feature: a request with NEED_REPLY is answered (bit 3). */
#define SHMAP_PROTOCOL_F_REPLY_ACK (1ull << 3)
/** Protocol feature: the back-end request socket (bit 5). */
#define SHMAP_PROTOCOL_F_BACKEND_REQ (1ull << 5)
/** Protocol feature: GET_CONFIG / SET_CONFIG (bit 9). */
#define SHMAP_PROTOCOL_F_CONFIG (1ull << 9)
/** Protocol feature: ADD/REM_MEM_REG and GET_MAX_MEM_SLOTS (bit 15). */
#define SHMAP_PROTOCOL_F_CONFIGURE_MEM_SLOTS (1ull << 15)
/**
 * Protocol feature: SHMEM_MAP / SHMEM_UNMAP on the back-end request socket.
 * Bit 20, the bit QEMU's SHMEM_MAP proposal gives it (the next one free
 * after DEVICE_STATE, 19); docs/wire.md says why this one.
 */
#define SHMAP_PROTOCOL_F_SHMEM (1ull << 20)
/**
 * What a channel assumes until told what was negotiated
 * (shmap_channel_set_protocol_features()): everything a shmap peer always
 * speaks. A peer that is not shmap must be negotiated with first.
 */
#define SHMAP_PROTOCOL_SHMAP_DEFAULT                                           \
  (SHMAP_PROTOCOL_F_REPLY_ACK | SHMAP_PROTOCOL_F_BACKEND_REQ |                 \
   SHMAP_PROTOCOL_F_CONFIGURE_MEM_SLOTS | SHMAP_PROTOCOL_F_SHMEM)

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
  uint64_t userspace_addr;  /**< the front end's own address of the region:
                                 real back ends translate vring addresses
                                 through it and match REM_MEM_REG on it */
  uint64_t mmap_offset;     /**< offset into the descriptor's object (the
                                 public API's file_offset) */
} shmap_wire_region;

/** SHMEM_MAP / SHMEM_UNMAP: a buffer in a shared-memory window. */
typedef struct shmap_wire_mmap {
  uint8_t shmid;       /**< which window of the front end */
  uint64_t fd_offset;  /**< offset into the descriptor's object (MAP; the
                            public API's file_offset) */
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
  /** Zero: zeroed by shmap_wire_decode(), and an encoder refuses anything
   * else (SHMAP_EINVAL), so that it can be given a meaning later. */
  uint64_t reserved[2];
} shmap_wire_msg;

/**
 * Name of a request decoded by shmap ("ADD_MEM_REG"), or "UNKNOWN"; a
 * static string. Only the codes of enum shmap_wire_request: for any other
 * code use shmap_wire_request_name_in(), which knows the space.
 */
SHMAP_API const char *shmap_wire_request_name(uint32_t request);
/**
 * The vhost-user name of `request` in code space `direction` (enum
 * shmap_wire_direction), e.g. "GET_FEATURES" for 1 to the back end and
 * "IOTLB_MSG" for 1 to the front end; "UNKNOWN" for a code vhost-user does
 * not define. A static string.
 */
SHMAP_API const char *shmap_wire_request_name_in(int direction,
                                                 uint32_t request);
/**
 * Direction of a request code that shmap decodes (enum shmap_wire_request),
 * or 0 for any other code. The codes of the two spaces collide, so this
 * is only meaningful for the decoded ones.
 */
SHMAP_API int shmap_wire_direction(uint32_t request);
/**
 * 1 when the receiver answers `request` of space `direction` whether or not
 * NEED_REPLY is set (GET_FEATURES, GET_PROTOCOL_FEATURES, GET_CONFIG,
 * GET_MAX_MEM_SLOTS, EXTERNAL_MAP...), else 0.
 */
SHMAP_API int shmap_wire_always_answered(int direction, uint32_t request);

/**
 * Validate a received 12-byte header, for a receiver to whom requests of
 * direction `inbound` are addressed (replies then answer the other
 * direction's codes). Checks version, reserved bits, and the size: exactly
 * what a request shmap decodes allows, at most SHMAP_MSG_MAX_PAYLOAD for
 * any other (a foreign request is well framed, not an error) — before any
 * payload is read, so a hostile size is never used to read. A reply must
 * carry flags exactly 0x5; a reply to a request shmap decodes, 8 bytes.
 *
 * Errors: SHMAP_EINVAL, SHMAP_EVERSION, SHMAP_EFLAGS, SHMAP_ESIZE.
 */
SHMAP_API int shmap_wire_header_decode(const uint8_t *buf, int inbound,
                                       shmap_wire_header *out);

/**
 * Decode the payload of a message whose header passed
 * shmap_wire_header_decode(); `out->hdr` is set from `h` and the union
 * member the request uses is filled in whole (the rest of the union is left
 * as it was). On failure the union is zeroed.
 *
 * Errors: SHMAP_EREQUEST (a code shmap does not decode: see
 * shmap_channel_recv_msg() for those), SHMAP_ESIZE, SHMAP_EPADDING,
 * SHMAP_EFLAGS, SHMAP_EEMPTY, SHMAP_EOVERFLOW, SHMAP_EOVERLAP, SHMAP_EINVAL.
 */
SHMAP_API int shmap_wire_decode(const shmap_wire_header *h,
                                const uint8_t *payload, size_t len,
                                shmap_wire_msg *out);
/**
 * shmap_wire_decode() for a receiver to whom requests of direction
 * `inbound` are addressed, as in shmap_wire_header_decode(): a request's
 * code is read in that space and a reply's in the other, so front-end 9
 * (SET_VRING_ADDR) is refused with SHMAP_EREQUEST rather than decoded as
 * back-end 9 (SHMEM_MAP). shmap_wire_decode() itself can only go by the
 * code; a receiver that knows its direction calls this one.
 *
 * Errors: as shmap_wire_decode().
 */
SHMAP_API int shmap_wire_decode_in(int inbound, const shmap_wire_header *h,
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
 * one (some front ends attach the region's; it is closed and ignored).
 * Cannot fail.
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
