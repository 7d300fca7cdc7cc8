/**
 * @file shmap/frontend.h
 * The front end (the VMM's side): the handshake, sending regions to a back
 * end, and applying the back end's shared-memory requests (SHMEM_MAP,
 * SHMEM_UNMAP, EXTERNAL_MAP) to windows by shmid. Conventions of both
 * endpoints (replies, threads, foreign messages): region.h.
 */
#ifndef SHMAP_FRONTEND_H
#define SHMAP_FRONTEND_H

#include <stddef.h>
#include <stdint.h>

#include "shmap/channel.h"
#include "shmap/region.h"
#include "shmap/window.h"

#ifdef __cplusplus
extern "C" {
#endif

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
 * SHMAP_EPROTO / SHMAP_ESIZE (a malformed answer), SHMAP_ETIMEDOUT (the
 * channel's timeout passed), and those of shmap_channel_call().
 */
SHMAP_API int shmap_frontend_negotiate(shmap_channel *ch,
                                       uint64_t want_features,
                                       uint64_t want_protocol,
                                       shmap_negotiation *out);
/**
 * GET_MAX_MEM_SLOTS: how many regions the back end holds (needs
 * CONFIGURE_MEM_SLOTS; always answered). Errors: SHMAP_EINVAL, SHMAP_ENOTSUP
 * (not negotiated), SHMAP_ETIMEDOUT (the channel's timeout passed), those
 * of shmap_channel_call().
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
 * SHMAP_ENOTSUP (BACKEND_REQ not negotiated), SHMAP_ETIMEDOUT (the
 * channel's timeout passed), those of shmap_channel_pair() and
 * shmap_channel_call().
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
 * SHMAP_EPROTO (the peer answered something else), SHMAP_ETIMEDOUT (the
 * channel's timeout, shmap_channel_set_timeout(), passed while sending or
 * waiting inside the reply), the transport errors of shmap_channel_call(),
 * SHMAP_EOS.
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

/** The default cap on the back end's live mappings (SHMEM_MAP and
 * EXTERNAL_MAP not yet unmapped) in one front end. */
#define SHMAP_FRONTEND_MAX_MAPPINGS 4096

/**
 * Limits and policies of a front end, for shmap_frontend_create(). Zero it
 * and set `size` (`shmap_frontend_options o = {.size = sizeof o};`, in C++
 * `shmap_frontend_options o{}; o.size = sizeof o;`): every other field's zero
 * is its default. The library reads only the first `size` bytes, so a program
 * built against an older header keeps working when fields are appended.
 *
 * The caps keep a hostile back end from spending the process's descriptors
 * and kernel mappings without bound (each SHMEM_MAP holds one descriptor and
 * one or two map entries). A request past either is refused with
 * SHMAP_ELIMIT, its descriptor closed, nothing mapped; each SHMEM_UNMAP
 * gives room back. Counted per front end: serve each peer with its own.
 * Keep the mapping cap well below the process's descriptor limit.
 * Independently, on Linux a map is refused (SHMAP_ELIMIT) once the process
 * is within a few dozen entries of vm.max_map_count, kept so that unmaps
 * still succeed there.
 */
typedef struct shmap_frontend_options {
  size_t size;         /**< sizeof(shmap_frontend_options), set by the caller */
  size_t max_mappings; /**< cap on live mappings (SHMEM_MAP, EXTERNAL_MAP);
                            0: SHMAP_FRONTEND_MAX_MAPPINGS; SIZE_MAX: none */
  uint64_t max_bytes;  /**< cap on the bytes in them; 0: only the windows'
                            sizes bound it */
  unsigned seal_policy; /**< enum shmap_seal_policy for SHMEM_MAP's memory;
                             0: SHMAP_SEALS_DEFAULT */
} shmap_frontend_options;

/**
 * A front end with no windows yet, with the limits and policies of `opts`
 * (NULL: every default). `*out` is the caller's; end it with
 * shmap_frontend_destroy().
 *
 * Errors: SHMAP_EINVAL (NULL out, opts->size smaller than the size field, a
 * policy out of range), SHMAP_ENOTSUP (opts->size covers fields this version
 * does not know and they are not zero), SHMAP_ENOMEM.
 */
SHMAP_API int shmap_frontend_create(const shmap_frontend_options *opts,
                                    shmap_frontend **out);
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

#ifdef __cplusplus
}
#endif
#endif /* SHMAP_FRONTEND_H */
