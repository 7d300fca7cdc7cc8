/**
 * @file shmap/backend.h
 * The back end (the device's side): a guest-memory window filled from the
 * front end's SET_MEM_TABLE / ADD_MEM_REG / REM_MEM_REG, translation and
 * fault-safe access through it, and the requests a back end sends on the
 * back-end request channel (SHMEM_MAP, SHMEM_UNMAP, EXTERNAL_MAP).
 * Conventions of both endpoints (replies, threads, foreign messages):
 * region.h.
 */
#ifndef SHMAP_BACKEND_H
#define SHMAP_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "shmap/channel.h"
#include "shmap/mappable.h"
#include "shmap/region.h"
#include "shmap/window.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque; the back end's table of guest regions. */
typedef struct shmap_backend shmap_backend;

/**
 * Limits and policies of a back end, for shmap_backend_create(). Zero it
 * and set `size` (`shmap_backend_options o = {.size = sizeof o};`, in C++
 * `shmap_backend_options o{}; o.size = sizeof o;`): every other field's zero
 * is its default. The library reads only the first `size` bytes, so a program
 * built against an older header keeps working when fields are appended.
 */
typedef struct shmap_backend_options {
  size_t size;          /**< sizeof(shmap_backend_options), set by the caller */
  uint64_t max_bytes;   /**< cap on the bytes it maps for the peer, so that a
                             hostile front end cannot make it map without
                             bound; 0: no cap */
  unsigned seal_policy; /**< enum shmap_seal_policy for the memory of
                             SET_MEM_TABLE and ADD_MEM_REG; 0:
                             SHMAP_SEALS_DEFAULT */
} shmap_backend_options;

/**
 * A back end mapping guest regions into `guest` at offset = guest address,
 * with the limits and policies of `opts` (NULL: every default).
 *
 * Ownership: `guest` and `opts` are borrowed (`opts` only during the call);
 * `guest` must outlive the back end; `*out` is the caller's, ended with
 * shmap_backend_destroy().
 *
 * Errors: SHMAP_EINVAL (NULL guest or out, opts->size smaller than the size
 * field, a policy out of range), SHMAP_ENOTSUP (opts->size covers fields
 * this version does not know and they are not zero), SHMAP_ENOMEM.
 */
SHMAP_API int shmap_backend_create(shmap_window *guest,
                                   const shmap_backend_options *opts,
                                   shmap_backend **out);
/**
 * Unmap every region it mapped (closing their descriptors) and free; the
 * guest window stays the caller's. NULL is ignored; cannot fail.
 */
SHMAP_API void shmap_backend_destroy(shmap_backend *be);
/** Number of regions currently mapped (0 for NULL). */
SHMAP_API size_t shmap_backend_count(const shmap_backend *be);
/**
 * The host pointer for front-end address `uaddr` (a vring address of
 * SET_VRING_ADDR: the front end's userspace_addr space) with `len` bytes
 * behind it inside one region, or NULL. Thread-safe against translate, as
 * shmap_window_translate(); not against the serve thread changing regions.
 */
SHMAP_API void *shmap_backend_translate_uaddr(const shmap_backend *be,
                                              uint64_t uaddr, uint64_t len);

/**
 * shmap_window_segments() for guest-physical range [gpa, gpa+len) of the
 * back end's guest window: the host memory behind a descriptor buffer, all
 * or nothing, across adjacent regions. Errors as shmap_window_segments()
 * (SHMAP_EINVAL for a NULL back end).
 */
SHMAP_API int shmap_backend_segments(const shmap_backend *be, uint64_t gpa,
                                     uint64_t len, unsigned prot,
                                     shmap_segment *segs, size_t max,
                                     size_t *n);
/**
 * The same for a range of front-end addresses (the userspace_addr space of
 * SET_VRING_ADDR): each byte is translated through the region that holds it,
 * so the range may cross regions the front end placed next to each other.
 * SHMAP_ENOENT when a byte is in no region. `segs[i].offset` is the guest
 * address.
 */
SHMAP_API int shmap_backend_segments_uaddr(const shmap_backend *be,
                                           uint64_t uaddr, uint64_t len,
                                           unsigned prot, shmap_segment *segs,
                                           size_t max, size_t *n);
/**
 * Fault-safe copy of guest range [gpa, gpa+len) to `dst`, across adjacent
 * regions: for devices that must survive a front end that shrinks its memory
 * (seal_policy SHMAP_SEALS_OPTIONAL). A fault returns SHMAP_EFAULT
 * and, when `fault_gpa` is not NULL, the guest address of the first byte
 * that could not be read. Errors: those of shmap_backend_segments() with
 * SHMAP_PROT_READ, and SHMAP_EFAULT / SHMAP_EBUSY as shmap_window_read().
 */
SHMAP_API int shmap_backend_read(const shmap_backend *be, uint64_t gpa,
                                 void *dst, size_t len, uint64_t *fault_gpa);
/** Fault-safe copy of `src` to guest range [gpa, gpa+len); as
 * shmap_backend_read() with SHMAP_PROT_RW. */
SHMAP_API int shmap_backend_write(const shmap_backend *be, uint64_t gpa,
                                  const void *src, size_t len,
                                  uint64_t *fault_gpa);

/**
 * Make the back end answer the handshake itself: GET_FEATURES with
 * `device_features` plus SHMAP_VHOST_F_PROTOCOL_FEATURES, SET_FEATURES
 * (recorded: shmap_backend_features()), GET_PROTOCOL_FEATURES with
 * `protocol_features` (REPLY_ACK, CONFIGURE_MEM_SLOTS, BACKEND_REQ are the
 * ones it implements), SET_PROTOCOL_FEATURES (recorded on the channel),
 * SET_OWNER and RESET_OWNER, and SET_BACKEND_REQ_FD (the socket adopted as
 * the back-end request channel: shmap_backend_request_channel()). Without
 * this call those requests are foreign to it.
 */
SHMAP_API void shmap_backend_answer_handshake(shmap_backend *be,
                                              uint64_t device_features,
                                              uint64_t protocol_features);
/** The device features the front end acknowledged with SET_FEATURES. */
SHMAP_API uint64_t shmap_backend_features(const shmap_backend *be);
/**
 * The back-end request channel adopted from SET_BACKEND_REQ_FD (borrowed:
 * the back end closes it when destroyed or replaced), or NULL.
 */
SHMAP_API shmap_channel *shmap_backend_request_channel(const shmap_backend *be);
/** Give serve_one's foreign messages to `fn` (NULL: refuse them). */
SHMAP_API void shmap_backend_on_foreign(shmap_backend *be, shmap_foreign_fn fn,
                                        void *ctx);
/**
 * Sans-I/O: apply a message the caller received on `ch` (SET_MEM_TABLE,
 * ADD_MEM_REG, REM_MEM_REG, GET_MAX_MEM_SLOTS, and the handshake when
 * shmap_backend_answer_handshake() was called) exactly as serve_one would,
 * and say in *reply what to answer (shmap_channel_send_reply()). `ev` may be
 * NULL. Returns 0 when the message was the back end's (result in
 * ev->result, descriptors consumed) or SHMAP_EREQUEST when it is not
 * (nothing done, the message still the caller's).
 */
SHMAP_API int shmap_backend_apply(shmap_backend *be, shmap_channel *ch,
                                  shmap_msg *m, shmap_reply *reply,
                                  shmap_event *ev);

/**
 * Receive one message (SET_MEM_TABLE, ADD_MEM_REG, REM_MEM_REG,
 * GET_MAX_MEM_SLOTS), apply it to the guest window and reply when asked
 * to. Blocks until a message arrives. `ev` may be NULL.
 *
 * A rejected request (ev->result: any of shmap_window_map(),
 * shmap_mappable_adopt(), SHMAP_ELIMIT past the cap or the slot count,
 * SHMAP_ENOENT / SHMAP_EPARTIAL for a removal) changes no mapping.
 * Foreign messages, ownership and returned errors as
 * shmap_frontend_serve_one() (SHMAP_ECLOSED, SHMAP_EAGAIN, SHMAP_ETIMEDOUT
 * for the channel's timeout, framing and transport errors): received
 * descriptors end up owned by the back end's mappings, or closed.
 */
SHMAP_API int shmap_backend_serve_one(shmap_backend *be, shmap_channel *ch,
                                      shmap_event *ev);

/**
 * Ask the front end to map [file_offset, file_offset+len) of `m` at
 * `shm_offset` of its window `shmid` with access `prot` (SHMAP_PROT_READ or
 * SHMAP_PROT_RW), and wait for its reply. `ch` is the back-end request channel
 * (SHMAP_CHANNEL_BACKEND_REQ, e.g. shmap_backend_request_channel()). A
 * read-only grant travels as a read-only descriptor
 * (shmap_mappable_share_readonly()), so the front end could not write even
 * if it ignored the flag.
 *
 * Ownership: `m` is borrowed; the front end holds its own copy of the
 * object until it unmaps, whatever the caller does with `m`.
 *
 * Errors: the front end's as replied (see shmap_frontend_serve_one()),
 * or local: SHMAP_EINVAL (NULL, `prot` neither READ nor RW), SHMAP_EACCES
 * (read-write grant of a read-only mappable), those of
 * shmap_mappable_check_range(), SHMAP_ECLOSED, SHMAP_EPROTO,
 * SHMAP_ETIMEDOUT (the channel's timeout, shmap_channel_set_timeout(),
 * passed while sending or waiting inside the reply), the transport errors
 * of shmap_channel_call(), SHMAP_EOS.
 */
SHMAP_API int shmap_backend_shmem_map(shmap_channel *ch, uint8_t shmid,
                                      shmap_mappable *m, uint64_t file_offset,
                                      uint64_t shm_offset, uint64_t len,
                                      unsigned prot);
/**
 * Ask the front end to unmap exactly that mapping, and wait; once it
 * returns 0 the front end no longer maps it. Errors as
 * shmap_backend_shmem_map() (SHMAP_ENOENT, SHMAP_EPARTIAL from the front
 * end).
 */
SHMAP_API int shmap_backend_shmem_unmap(shmap_channel *ch, uint8_t shmid,
                                        uint64_t shm_offset, uint64_t len);
/**
 * In-process only: record [ptr, ptr+len) at `shm_offset` of window `shmid`
 * (EXTERNAL_MAP), and wait for the reply. The front end refuses it with
 * SHMAP_EPERM unless its channel was made with SHMAP_CHANNEL_INPROCESS.
 *
 * Ownership: `ptr` stays the caller's and must stay valid until the front
 * end unmaps the record (shmap_backend_shmem_unmap()).
 *
 * Errors: as shmap_backend_shmem_map().
 */
SHMAP_API int shmap_backend_external_map(shmap_channel *ch, uint8_t shmid,
                                         uint64_t shm_offset, uint64_t len,
                                         void *ptr);

#ifdef __cplusplus
}
#endif
#endif /* SHMAP_BACKEND_H */
