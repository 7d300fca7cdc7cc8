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
 * A call that sends waits for the peer's reply when the peer will answer
 * (REPLY_ACK negotiated, which a shmap peer always does, or a request that
 * is always answered): it then returns only once the peer has applied (or
 * refused) the request, so the peer's mappings are in place when it returns
 * 0. Without REPLY_ACK it returns once the request is sent. An endpoint and
 * its channel belong to one thread at a time; the windows they fill may be
 * used from any thread meanwhile.
 *
 * Inside a full vhost-user connection the endpoints take only the memory
 * messages: either their serve loops hand every other message to a
 * callback (shmap_backend_on_foreign()), or the caller runs its own loop
 * over shmap_channel_recv_msg() and gives the memory messages to
 * shmap_backend_apply() / shmap_frontend_apply() (sans-I/O: apply, and get
 * the reply to send).
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
  /** The front end's own address of the region's first byte (e.g. from
   * shmap_window_translate() of the window it maps guest RAM into): sent as
   * userspace_addr, which real back ends translate vring addresses through
   * and match REM_MEM_REG on. Required by the calls that send a region. */
  void *host;
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

/* ---- front end: the handshake ---- */

/** What shmap_frontend_negotiate() agreed with the back end. */
typedef struct shmap_negotiation {
  uint64_t offered_features;  /**< GET_FEATURES' answer */
  uint64_t features;          /**< sent with SET_FEATURES */
  uint64_t offered_protocol;  /**< GET_PROTOCOL_FEATURES' answer (0 when
                                   the peer has no protocol features) */
  uint64_t protocol_features; /**< sent with SET_PROTOCOL_FEATURES */
  uint64_t reserved[4];       /**< zero; room to grow */
} shmap_negotiation;

/**
 * Negotiate a main channel's memory features with a vhost-user back end:
 * GET_FEATURES; when it offers SHMAP_VHOST_F_PROTOCOL_FEATURES,
 * GET_PROTOCOL_FEATURES and SET_PROTOCOL_FEATURES with what it offers of
 * REPLY_ACK, BACKEND_REQ, CONFIGURE_MEM_SLOTS, SHMEM and `want_protocol`;
 * SET_OWNER; SET_FEATURES with what it offers of `want_features` (and of
 * the protocol-features bit and SHMAP_VIRTIO_F_VERSION_1: libvhost-user drops
 * a front end that acknowledges a legacy device). Records the agreed protocol
 * features on `ch` (shmap_channel_set_protocol_features()), which decides
 * NEED_REPLY and ADD/REM_MEM_REG versus SET_MEM_TABLE from then on. A caller
 * that wants to run the handshake itself does so with shmap_channel_call()
 * instead.
 *
 * @param ch             The front end of a main channel.
 * @param want_features  Device features to acknowledge if offered.
 * @param want_protocol  Protocol features wanted beyond the memory ones.
 * @param out  NULL, or receives what was offered and agreed.
 * Errors: SHMAP_EINVAL, SHMAP_EPERM (not the front end of a main channel),
 * SHMAP_EPROTO / SHMAP_ESIZE (a malformed answer), and those of
 * shmap_channel_call().
 */
SHMAP_API int shmap_frontend_negotiate(shmap_channel *ch,
                                       uint64_t want_features,
                                       uint64_t want_protocol,
                                       shmap_negotiation *out);
/**
 * GET_MAX_MEM_SLOTS: how many regions the back end holds (needs
 * CONFIGURE_MEM_SLOTS; always answered). Errors: SHMAP_EINVAL, SHMAP_ENOTSUP
 * (not negotiated), those of shmap_channel_call().
 */
SHMAP_API int shmap_frontend_get_max_mem_slots(shmap_channel *ch,
                                               uint64_t *slots);
/**
 * Make the back-end request socket: a connected pair, one end sent to the
 * back end with SET_BACKEND_REQ_FD on `ch` (needs BACKEND_REQ), the other
 * returned in *req as the front end of a SHMAP_CHANNEL_BACKEND_REQ channel
 * (with `flags` added), on which shmap_frontend_serve_one() serves the back
 * end's SHMEM_MAP / SHMEM_UNMAP. On Windows the pair is a named pipe whose
 * handle travels in the envelope.
 *
 * Ownership: *req is the caller's (shmap_channel_close()). On failure
 * nothing is left open.
 * Errors: SHMAP_EINVAL, SHMAP_EPERM (not the front end of a main channel),
 * SHMAP_ENOTSUP (BACKEND_REQ not negotiated), those of
 * shmap_channel_pair() and shmap_channel_call().
 */
SHMAP_API int shmap_frontend_open_backend_channel(shmap_channel *ch,
                                                  unsigned flags,
                                                  shmap_channel **req);

/* ---- front end: sending regions ---- */

/**
 * Share region `r` with the back end: ADD_MEM_REG with its descriptor when
 * CONFIGURE_MEM_SLOTS was agreed, else SET_MEM_TABLE with every region
 * shared so far plus this one (DPDK offers nothing else; at most 8 then).
 * Waits for the reply when one is due.
 *
 * Ownership: `r` and its mappable are borrowed; the back end gets its own
 * copy of the descriptor. The channel keeps its own reference to the
 * mappable until the region is removed or the channel closed (to resend a
 * table, or the descriptor with SHMAP_CHANNEL_REM_FD).
 *
 * Returns 0, the back end's error as sent in its reply (any code of
 * shmap_window_map(), SHMAP_ELIMIT, or SHMAP_EREPLY for a non-shmap peer's
 * failure: QEMU, DPDK and rust-vmm answer 1), or a local one: those of
 * shmap_region_check(), SHMAP_EINVAL (no host address), SHMAP_EPERM (not the
 * front end of a main channel), SHMAP_EOVERLAP (overlaps a region already
 * shared), SHMAP_ELIMIT (a ninth region by SET_MEM_TABLE), SHMAP_ECLOSED,
 * SHMAP_EPROTO (the peer answered something else), SHMAP_EOS.
 */
SHMAP_API int shmap_frontend_add_region(shmap_channel *ch,
                                        const shmap_region *r);
/**
 * Stop sharing the region at r->guest_address of r->size bytes, as it was
 * shared on this channel: REM_MEM_REG repeating the ADD's fields
 * (libvhost-user matches guest address, size and userspace_addr), or
 * SET_MEM_TABLE with the other regions for a peer without
 * CONFIGURE_MEM_SLOTS. Waits for the reply when one is due; once it returns
 * 0 after a reply the back end no longer maps the region. Only guest_address
 * and size of `r` are read.
 *
 * Errors: SHMAP_ENOENT (nothing shared there on this channel), SHMAP_ENOTSUP
 * (the last region of a peer that only takes SET_MEM_TABLE: vhost-user has
 * no empty table), the back end's (SHMAP_ENOENT, SHMAP_EPARTIAL), and the
 * local ones of shmap_frontend_add_region().
 */
SHMAP_API int shmap_frontend_remove_region(shmap_channel *ch,
                                           const shmap_region *r);
/**
 * Replace the back end's whole table with regions[0..n) (1 <= n <= 8) in one
 * SET_MEM_TABLE, and wait for the reply. All or nothing: on failure the back
 * end keeps its old table. Ownership as shmap_frontend_add_region().
 *
 * The channel's record of shared regions becomes exactly these.
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

/** The default cap on the back end's live mappings (SHMEM_MAP and
 * EXTERNAL_MAP not yet unmapped) in one front end. */
#define SHMAP_FRONTEND_MAX_MAPPINGS 4096
/**
 * Cap what the back end may map through `fe`, so that a hostile peer cannot
 * spend the process's descriptors and kernel mappings without bound (each
 * SHMEM_MAP holds one descriptor and one or two map entries): at most
 * `max_mappings` live mappings (0: no cap; default
 * SHMAP_FRONTEND_MAX_MAPPINGS) and `max_bytes` bytes in them (0, the
 * default: only the windows' sizes bound it). A request past either is
 * refused with SHMAP_ELIMIT, its descriptor closed, nothing mapped; each
 * SHMEM_UNMAP gives room back. Counted per front end: serve each peer with
 * its own. Keep the mapping cap well below the process's descriptor limit.
 * Independently, on Linux a map is refused (SHMAP_ELIMIT) once the process
 * is within a few dozen entries of vm.max_map_count, kept so that unmaps
 * still succeed there. NULL is ignored.
 */
SHMAP_API void shmap_frontend_set_limits(shmap_frontend *fe,
                                         size_t max_mappings,
                                         uint64_t max_bytes);
/**
 * Whether memory the back end sends (SHMEM_MAP) must be sealed against
 * shrinking; see shmap_backend_set_require_sealed(). NULL is ignored.
 */
SHMAP_API void shmap_frontend_set_require_sealed(shmap_frontend *fe, int on);

/** What one received message did, for logs and tools. */
typedef struct shmap_event {
  uint32_t request;     /**< request code, in the space `direction` */
  int result;           /**< 0 or the negative error code replied */
  shmap_wire_msg msg;   /**< the decoded message; when its payload did not
                             decode, the header with a zeroed union; all zero
                             when not even the header was valid */
  void *head;           /**< for a new mapping: its first byte (borrowed, as
                             from shmap_window_translate()), else NULL */
  int direction;        /**< code space of `request` (enum
                             shmap_wire_direction; 0 when not known) */
  int foreign;          /**< 1: a message the endpoint does not handle (given
                             to the foreign callback, or refused) */
  uint32_t flags;       /**< the header's flags */
  uint32_t reserved[5]; /**< zero; room to grow */
} shmap_event;

/** The reply an applied message calls for (sans-I/O). */
typedef struct shmap_reply {
  uint32_t request; /**< the code it answers */
  int due;          /**< 1 when a reply must be sent, 0 when none is */
  uint64_t value;   /**< the u64 to send (0 success, else the failure or
                         the answer: features, slot count) */
} shmap_reply;

/**
 * Send the reply `r` describes on `ch`, or nothing when r->due is 0.
 * Errors as shmap_channel_reply_u64().
 */
SHMAP_API int shmap_channel_send_reply(shmap_channel *ch, const shmap_reply *r);

/**
 * Called by a serve loop for each message its endpoint does not handle
 * (any non-memory vhost-user request, or a reply to a request the caller
 * sent itself). The callback owns `m` (its descriptors: shmap_msg_release())
 * and answers it itself when an answer is due. Return 0 to go on, or a
 * negative code that the serve call then returns.
 */
typedef int (*shmap_foreign_fn)(void *ctx, shmap_channel *ch, shmap_msg *m);

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
 * A message that is not one of those (on the back-end request socket any
 * other back-end request) goes to the callback of shmap_frontend_on_foreign(),
 * or without one is refused (ev->result SHMAP_EREQUEST, answered when due)
 * without ending the channel.
 *
 * Errors (returned): SHMAP_EINVAL, SHMAP_ECLOSED (the peer hung up between
 * messages: the normal end), SHMAP_EAGAIN (a non-blocking channel has
 * nothing, or not yet the whole message, to read: the channel stays usable,
 * call again when it is readable), SHMAP_ETIMEDOUT (the channel's timeout,
 * shmap_channel_set_timeout(): close it), framing or transport errors (those
 * of shmap_channel_recv_msg() and shmap_channel_send()) after which the
 * channel should be closed, and what the foreign callback returned.
 */
SHMAP_API int shmap_frontend_serve_one(shmap_frontend *fe, shmap_channel *ch,
                                       shmap_event *ev);
/** Give serve_one's foreign messages to `fn` (NULL: refuse them). */
SHMAP_API void shmap_frontend_on_foreign(shmap_frontend *fe,
                                         shmap_foreign_fn fn, void *ctx);
/**
 * Sans-I/O: apply a message the caller received (shmap_channel_recv_msg())
 * on `ch` — SHMEM_MAP, SHMEM_UNMAP, EXTERNAL_MAP — exactly as serve_one
 * would, and say in *reply what to answer (shmap_channel_send_reply()).
 * `ev` may be NULL.
 *
 * Returns 0 when the message was the front end's (its result is in
 * ev->result and the reply; its descriptors are consumed, m->nfds 0), or
 * SHMAP_EREQUEST when it is not one the front end handles (nothing done,
 * the message and its descriptors still the caller's).
 */
SHMAP_API int shmap_frontend_apply(shmap_frontend *fe, shmap_channel *ch,
                                   shmap_msg *m, shmap_reply *reply,
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
 * Whether memory the front end sends (SET_MEM_TABLE, ADD_MEM_REG) must be
 * sealed against shrinking (`on` 1, the default) or not (0).
 *
 * A peer that can shrink the object under a mapping (an unsealed memfd, a
 * regular file, an shm object) can kill this process with SIGBUS on its next
 * direct access to the memory. With the policy on, such memory is refused
 * with SHMAP_EBACKING before anything is mapped; POSIX requires F_SEAL_SHRINK
 * on a memfd (QEMU's memory-backend-memfd seals by default, seal=on). Turn it
 * off only for peers that cannot seal, and then read their memory with the
 * fault-safe calls (shmap_window_read()). Windows sections cannot shrink:
 * the policy changes nothing there. A build forced to shm_open
 * (SHMAP_FORCE_SHM_OPEN), whose own objects cannot be sealed, defaults to
 * off. NULL is ignored.
 */
SHMAP_API void shmap_backend_set_require_sealed(shmap_backend *be, int on);

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
 * (shmap_backend_set_require_sealed() off). A fault returns SHMAP_EFAULT
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
 * shmap_frontend_serve_one(): received descriptors end up owned by the back
 * end's mappings, or closed.
 */
SHMAP_API int shmap_backend_serve_one(shmap_backend *be, shmap_channel *ch,
                                      shmap_event *ev);

/**
 * Ask the front end to map [fd_offset, fd_offset+len) of `m` at
 * `shm_offset` of its window `shmid`, read-write when `writable`, and wait
 * for its reply. `ch` is the back-end request channel
 * (SHMAP_CHANNEL_BACKEND_REQ, e.g. shmap_backend_request_channel()). A
 * read-only grant travels as a read-only descriptor
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
