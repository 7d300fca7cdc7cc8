/**
 * @file shmap/region.h
 * What both protocol endpoints share: shareable regions, the event a served
 * message produces, the reply an applied message calls for, and the callback
 * that takes the messages an endpoint does not handle.
 *
 * A shareable region ties the layers together: guest addresses
 * [guest_address, guest_address+size) are backed by bytes
 * [file_offset, file_offset+size) of a mappable. The producer promises the
 * backing is committed; the library checks what the OS lets it check.
 *
 * The endpoints themselves are in frontend.h (the VMM's side) and
 * backend.h (the device's side).
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
#include "shmap/wire.h"

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
  /** Zero (start from `shmap_region r = {0}` or a designated initializer):
   * shmap_region_check() refuses anything else with SHMAP_EINVAL, so that
   * a later version can give it a meaning. */
  uint64_t reserved[4];
} shmap_region;

/**
 * Check a region before sharing it: non-NULL mappable, reserved room zero,
 * size > 0, no overflow, offsets granularity-aligned, backing covers the range
 * (asked of the OS now). The add and set calls below do this themselves.
 * Thread-safe.
 *
 * Errors: SHMAP_EINVAL, SHMAP_EEMPTY, SHMAP_EOVERFLOW, SHMAP_EALIGN,
 * SHMAP_EBACKING, SHMAP_EOS.
 */
SHMAP_API int shmap_region_check(const shmap_region *r);

/**
 * Whether an endpoint accepts memory from its peer that is not sealed
 * against shrinking (the `seal_policy` of shmap_backend_options and
 * shmap_frontend_options).
 *
 * A peer that can shrink the object under a mapping (an unsealed memfd, a
 * regular file, an shm object) can kill this process with SIGBUS on its next
 * direct access to the memory. With sealing required, such memory is refused
 * with SHMAP_EBACKING before anything is mapped; POSIX requires F_SEAL_SHRINK
 * on a memfd (QEMU's memory-backend-memfd seals by default, seal=on). Accept
 * unsealed memory only from peers that cannot seal, and then read it with
 * the fault-safe calls (shmap_window_read(), shmap_backend_read()). Windows
 * sections cannot shrink: the policy changes nothing there.
 */
enum shmap_seal_policy {
  /** The default: required, except in a build forced to shm_open
   * (SHMAP_FORCE_SHM_OPEN), whose own objects cannot be sealed. */
  SHMAP_SEALS_DEFAULT = 0,
  SHMAP_SEALS_REQUIRED = 1, /**< refuse unsealed memory */
  SHMAP_SEALS_OPTIONAL = 2  /**< accept unsealed memory */
};

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
  uint32_t reserved[5]; /**< zeroed by the library: room to grow */
} shmap_event;

/**
 * The reply an applied message calls for (sans-I/O). The library fills it
 * whole, `reserved` included; a reply built by hand zeroes `reserved`
 * (an initialiser does), which shmap_channel_send_reply() checks, so that
 * later versions can give those bytes a meaning.
 */
typedef struct shmap_reply {
  uint32_t request;     /**< the code it answers */
  int due;              /**< 1 when a reply must be sent, 0 when none is */
  uint64_t value;       /**< the u64 to send (0 success, else the failure or
                             the answer: features, slot count) */
  uint64_t reserved[2]; /**< zero; room to grow */
} shmap_reply;

/**
 * Send the reply `r` describes on `ch`, or nothing when r->due is 0.
 * SHMAP_EINVAL (nothing sent) when r->reserved is not zero; other errors
 * as shmap_channel_reply_u64().
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

#ifdef __cplusplus
}
#endif
#endif /* SHMAP_REGION_H */
