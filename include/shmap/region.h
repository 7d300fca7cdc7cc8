/**
 * @file shmap/region.h
 * Shareable regions and the two protocol endpoints.
 *
 * A shareable region ties the layers together: guest addresses
 * [guest_address, guest_address+size) are backed by bytes
 * [file_offset, file_offset+size) of a mappable. The producer promises the
 * backing is committed; the library checks what the OS lets it check.
 *
 * The back end keeps a guest-memory window and maps every region it is sent
 * at offset guest_address; the front end keeps shared-memory windows (virtio
 * shared memory regions, by shmid) into which the back end asks it to map
 * its buffers.
 *
 * Every call that sends waits for the peer's reply, so it returns only once
 * the peer has applied (or refused) the request: the peer's mappings are in
 * place when it returns 0. An endpoint and its channel belong to one thread
 * at a time; the windows they fill may be used from any thread meanwhile.
 */
#ifndef SHMAP_REGION_H
#define SHMAP_REGION_H

#include <stddef.h>
#include <stdint.h>

#include "shmap/channel.h"
#include "shmap/window.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Guest RAM the front end shares: where the guest sees it, what backs it. */
typedef struct shmap_region {
  uint64_t guest_address;   /**< guest physical address of the first byte */
  uint64_t size;            /**< bytes; a multiple of the granularity */
  shmap_mappable *mappable; /**< borrowed: the caller keeps its reference */
  uint64_t file_offset;     /**< where in the mappable the region starts */
} shmap_region;

/**
 * Check a region before sharing it: non-NULL mappable, size > 0, no
 * overflow, offsets granularity-aligned, backing covers the range (asked of
 * the OS now). The add and set calls below do this themselves. Thread-safe.
 *
 * Errors: SHMAP_EINVAL, SHMAP_EEMPTY, SHMAP_EOVERFLOW, SHMAP_EALIGN,
 * SHMAP_EBACKING, SHMAP_EOS.
 */
SHMAP_API int shmap_region_check(const shmap_region *r);

/* ---- front end: sending regions ---- */

/**
 * Send ADD_MEM_REG for `r` with its descriptor and wait for the reply.
 *
 * Ownership: `r` and its mappable are borrowed; the back end gets its own
 * copy of the descriptor, so the caller may drop its reference afterwards
 * without affecting the back end's mapping.
 *
 * Returns 0, the back end's error as sent in its reply (any code of
 * shmap_window_map(), SHMAP_ELIMIT, or SHMAP_EREPLY for a non-shmap peer's
 * failure), or a local one: those of shmap_region_check(), SHMAP_ECLOSED,
 * SHMAP_EPROTO (the peer answered something else), SHMAP_EOS.
 */
SHMAP_API int shmap_frontend_add_region(shmap_channel *ch,
                                        const shmap_region *r);
/**
 * Send REM_MEM_REG for `r` (guest address and size must match exactly what
 * was added) and wait for the reply; once it returns 0 the back end no
 * longer maps the region. `r` is borrowed; its mappable is not used.
 *
 * Errors: the back end's (SHMAP_ENOENT, SHMAP_EPARTIAL), and the local ones
 * of shmap_frontend_add_region().
 */
SHMAP_API int shmap_frontend_remove_region(shmap_channel *ch,
                                           const shmap_region *r);
/**
 * Replace the back end's whole table with regions[0..n) (1 <= n <= 8) in one
 * SET_MEM_TABLE, and wait for the reply. All or nothing: on failure the back
 * end keeps its old table. Ownership as shmap_frontend_add_region().
 *
 * Errors: SHMAP_EINVAL (n out of range), and those of
 * shmap_frontend_add_region() (SHMAP_EOVERLAP when regions overlap).
 */
SHMAP_API int shmap_frontend_set_mem_table(shmap_channel *ch,
                                           const shmap_region *regions,
                                           size_t n);

/* ---- front end: applying the back end's shared-memory requests ---- */

/** Opaque; the front end's table of shared-memory windows by shmid. */
typedef struct shmap_frontend shmap_frontend;

/**
 * A front end with no windows yet. `*out` is the caller's; end it with
 * shmap_frontend_destroy(). Errors: SHMAP_EINVAL, SHMAP_ENOMEM.
 */
SHMAP_API int shmap_frontend_create(shmap_frontend **out);
/**
 * Forget every window and free. The windows stay the caller's, with
 * whatever the back end mapped into them still mapped (release or unmap
 * them). NULL is ignored; cannot fail.
 */
SHMAP_API void shmap_frontend_destroy(shmap_frontend *fe);
/**
 * Let the back end map into window `w` under `shmid`. `w` is borrowed and
 * must outlive the front end.
 *
 * Errors: SHMAP_EINVAL, SHMAP_EOVERLAP (shmid taken).
 */
SHMAP_API int shmap_frontend_add_window(shmap_frontend *fe, uint8_t shmid,
                                        shmap_window *w);

/** What one received message did, for logs and tools. */
typedef struct shmap_event {
  uint32_t request;   /**< request code (enum shmap_wire_request) */
  int result;         /**< 0 or the negative error code replied */
  shmap_wire_msg msg; /**< the decoded message; when its payload did not
                           decode, the header with a zeroed union; all zero
                           when not even the header was valid */
  void *head;         /**< for a new mapping: its first byte (borrowed, as
                           from shmap_window_translate()), else NULL */
} shmap_event;

/**
 * Receive one message (SHMEM_MAP, SHMEM_UNMAP, EXTERNAL_MAP), apply it to
 * the matching window, and reply when the sender asked for a reply. Blocks
 * until a message arrives. `ev` may be NULL.
 *
 * A rejected request changes no window and is answered with its error; the
 * return value is then 0 (the channel is fine) and `ev->result` holds the
 * error (SHMAP_ENOWINDOW, SHMAP_EPERM for EXTERNAL_MAP across processes,
 * or any of shmap_window_map() and shmap_window_unmap()).
 *
 * Ownership: a received descriptor is owned by the window it is mapped
 * into, or closed; the caller never sees it.
 *
 * Errors (returned): SHMAP_EINVAL, SHMAP_ECLOSED (the peer hung up between
 * messages: the normal end), and framing or transport errors (those of
 * shmap_channel_recv() and shmap_channel_send()) after which the channel
 * should be closed.
 */
SHMAP_API int shmap_frontend_serve_one(shmap_frontend *fe, shmap_channel *ch,
                                       shmap_event *ev);

/* ---- back end ---- */

/** Opaque; the back end's table of guest regions. */
typedef struct shmap_backend shmap_backend;

/**
 * A back end mapping guest regions into `guest` at offset = guest address.
 * `max_bytes` caps the total it will map for the peer (0: no cap), so a
 * hostile front end cannot make it map without bound.
 *
 * Ownership: `guest` is borrowed and must outlive the back end; `*out` is
 * the caller's, ended with shmap_backend_destroy().
 *
 * Errors: SHMAP_EINVAL, SHMAP_ENOMEM.
 */
SHMAP_API int shmap_backend_create(shmap_window *guest, uint64_t max_bytes,
                                   shmap_backend **out);
/**
 * Unmap every region it mapped (closing their descriptors) and free; the
 * guest window stays the caller's. NULL is ignored; cannot fail.
 */
SHMAP_API void shmap_backend_destroy(shmap_backend *be);
/** Number of regions currently mapped (0 for NULL). */
SHMAP_API size_t shmap_backend_count(const shmap_backend *be);

/**
 * Receive one message (SET_MEM_TABLE, ADD_MEM_REG, REM_MEM_REG,
 * GET_MAX_MEM_SLOTS), apply it to the guest window and reply when asked
 * to. Blocks until a message arrives. `ev` may be NULL.
 *
 * A rejected request (ev->result: any of shmap_window_map(),
 * shmap_mappable_adopt(), SHMAP_ELIMIT past the cap or the slot count,
 * SHMAP_ENOENT / SHMAP_EPARTIAL for a removal) changes no mapping.
 * Ownership and returned errors as shmap_frontend_serve_one(): received
 * descriptors end up owned by the back end's mappings, or closed.
 */
SHMAP_API int shmap_backend_serve_one(shmap_backend *be, shmap_channel *ch,
                                      shmap_event *ev);

/**
 * Ask the front end to map [fd_offset, fd_offset+len) of `m` at
 * `shm_offset` of its window `shmid`, read-write when `writable`, and wait
 * for its reply. A read-only grant travels as a read-only descriptor
 * (shmap_mappable_share_readonly()), so the front end could not write even
 * if it ignored the flag.
 *
 * Ownership: `m` is borrowed; the front end holds its own copy of the
 * object until it unmaps, whatever the caller does with `m`.
 *
 * Errors: the front end's as replied (see shmap_frontend_serve_one()),
 * or local: SHMAP_EINVAL, SHMAP_EACCES (writable grant of a read-only
 * mappable), those of shmap_mappable_check_range(), SHMAP_ECLOSED,
 * SHMAP_EPROTO, SHMAP_EOS.
 */
SHMAP_API int shmap_backend_shmem_map(shmap_channel *ch, uint8_t shmid,
                                      shmap_mappable *m, uint64_t fd_offset,
                                      uint64_t shm_offset, uint64_t len,
                                      int writable);
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
#endif /* SHMAP_REGION_H */
