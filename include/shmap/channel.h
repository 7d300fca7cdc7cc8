/**
 * @file shmap/channel.h
 * Channel: moves vhost-user memory messages and the OS objects they refer
 * to between two endpoints.
 *
 * POSIX: a SOCK_STREAM Unix socket; descriptors travel with SCM_RIGHTS on
 * the first byte of their message. Windows: a message-mode named pipe; the
 * sender duplicates each handle into the peer process.
 *
 * A channel has a role — the front end (VMM) or the back end (device) — which
 * says which requests it may receive and which replies it waits for. It is
 * cross-process unless created with SHMAP_CHANNEL_INPROCESS; only an
 * in-process channel accepts EXTERNAL_MAP (its pointer is an address in this
 * process).
 *
 * Thread safety: one thread may send while another receives; two threads
 * must not send (or receive) on one channel at the same time, and close
 * must wait for both. Different channels and listeners are independent.
 *
 * Descriptors: whatever a call sends is borrowed (the caller still closes
 * it); whatever a call receives is the caller's from then on.
 */
#ifndef SHMAP_CHANNEL_H
#define SHMAP_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

#include "shmap/mappable.h"
#include "shmap/wire.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque; one connection, made by accept, connect, adopt or pair. */
typedef struct shmap_channel shmap_channel;
/** Opaque; made by shmap_listener_open(). */
typedef struct shmap_listener shmap_listener;

/** Which end of the protocol a channel is. */
enum shmap_channel_role {
  SHMAP_ROLE_FRONTEND = 1, /**< sends regions, receives SHMEM_MAP & co. */
  SHMAP_ROLE_BACKEND = 2   /**< receives regions, sends SHMEM_MAP & co. */
};

/** Flags for making a channel. */
enum shmap_channel_flags {
  /** Both ends live in this process (EXTERNAL_MAP allowed). */
  SHMAP_CHANNEL_INPROCESS = 1u << 0,
  /** Refuse a peer that runs as another user (POSIX: its SO_PEERCRED uid;
   * Windows: its process token's user SID). */
  SHMAP_CHANNEL_SAME_USER = 1u << 1
};

/**
 * Listen for peers at `addr`. On POSIX it is a socket path, created mode
 * 0600 (a stale socket there is replaced); on Windows a pipe name such as
 * `\\.\pipe\shmap`.
 *
 * Ownership: `*out` is the caller's; shmap_listener_close() ends it.
 * Thread-safe.
 *
 * Errors: SHMAP_EINVAL (NULL, empty or too long a path), SHMAP_ENOMEM,
 * SHMAP_EOS (cannot bind: in use, no permission...).
 */
SHMAP_API int shmap_listener_open(const char *addr, shmap_listener **out);
/**
 * Wait (blocking) for one peer and wrap it in a channel with `role` and
 * `flags`. May be called again for more peers.
 *
 * Ownership: `*out` is the caller's; shmap_channel_close() ends it. One
 * thread per listener at a time.
 *
 * Errors: SHMAP_EINVAL (bad role or flags), SHMAP_EPERM (SAME_USER and the
 * peer is someone else: it is disconnected), SHMAP_ENOMEM, SHMAP_EOS.
 */
SHMAP_API int shmap_listener_accept(shmap_listener *l, unsigned role,
                                    unsigned flags, shmap_channel **out);
/**
 * Close the listener and unlink its socket path. Channels it accepted stay
 * open. NULL is ignored; cannot fail. Not while another thread accepts.
 */
SHMAP_API void shmap_listener_close(shmap_listener *l);

/**
 * Connect to a listener at `addr` (see shmap_listener_open()) and wrap the
 * connection with `role` and `flags`.
 *
 * Ownership: `*out` is the caller's; shmap_channel_close() ends it.
 * Thread-safe.
 *
 * Errors: SHMAP_EINVAL, SHMAP_ENOENT (nobody listens there: retry later),
 * SHMAP_EPERM (SAME_USER), SHMAP_ENOMEM, SHMAP_EOS.
 */
SHMAP_API int shmap_channel_connect(const char *addr, unsigned role,
                                    unsigned flags, shmap_channel **out);
/**
 * Wrap an already connected native socket or pipe (e.g. one end of a
 * socketpair() inherited across fork/exec).
 *
 * Ownership: on success the channel owns `conn` and closes it; on failure
 * the caller still does. Thread-safe.
 *
 * Errors: SHMAP_EINVAL, SHMAP_EBADF (not a connected stream socket or
 * pipe), SHMAP_EPERM (SAME_USER), SHMAP_ENOMEM, SHMAP_EOS.
 */
SHMAP_API int shmap_channel_adopt(shmap_native_t conn, unsigned role,
                                  unsigned flags, shmap_channel **out);
/**
 * A connected pair in this process: `*front` has the front-end role,
 * `*back` the back-end role (threads in one process, or one end passed to
 * a child with shmap_channel_native()).
 *
 * Ownership: both are the caller's, each closed on its own; on failure
 * neither exists. Thread-safe.
 *
 * Errors: SHMAP_EINVAL, SHMAP_ENOMEM, SHMAP_EOS.
 */
SHMAP_API int shmap_channel_pair(unsigned flags, shmap_channel **front,
                                 shmap_channel **back);
/**
 * Close the connection (the peer sees SHMAP_ECLOSED) and free the channel.
 * Descriptors already received stay the caller's. NULL is ignored; cannot
 * fail. No other thread may be using the channel.
 */
SHMAP_API void shmap_channel_close(shmap_channel *ch);

/** The role the channel was made with (0 for NULL). Thread-safe. */
SHMAP_API unsigned shmap_channel_role(const shmap_channel *ch);
/** The flags the channel was made with (0 for NULL). Thread-safe. */
SHMAP_API unsigned shmap_channel_flags(const shmap_channel *ch);

/**
 * Encode `msg` and send it, whole, with `nfds` descriptors/handles. The
 * count must be what the message requires (shmap_wire_fd_range()).
 * Blocks until sent.
 *
 * Ownership: `fds` are borrowed: the peer gets its own copies and the
 * caller still owns and closes the originals.
 *
 * Errors: SHMAP_EINVAL, SHMAP_EFDCOUNT, the codec's errors
 * (shmap_wire_encode()), SHMAP_ECLOSED (peer gone), SHMAP_EOS. Nothing is
 * sent when the message is invalid.
 */
SHMAP_API int shmap_channel_send(shmap_channel *ch, const shmap_wire_msg *msg,
                                 const shmap_native_t *fds, size_t nfds);

/**
 * Receive exactly one message; blocks until it is all there.
 *
 * Ownership: on success the caller owns the `*nfds` descriptors written to
 * fds[] (room for SHMAP_WIRE_MAX_FDS) and must adopt or close each. On any
 * error every descriptor that arrived has been closed and `*nfds` is 0.
 *
 * A header that fails validation (version, flags, size, code) is a framing
 * error: nothing more is read and the channel should be closed. A payload
 * that fails validation was fully read, so the stream stays in sync and the
 * caller may reply with the error (shmap_channel_in_sync());
 * shmap_channel_last_header() tells which request failed.
 *
 * Errors: SHMAP_EINVAL, SHMAP_ECLOSED (peer closed between messages),
 * SHMAP_EPROTO, SHMAP_ETRUNC, SHMAP_EFDCOUNT, SHMAP_EAGAIN (non-blocking
 * socket with nothing to read), the codec's errors
 * (shmap_wire_header_decode(), shmap_wire_decode()), SHMAP_EOS.
 */
SHMAP_API int shmap_channel_recv(shmap_channel *ch, shmap_wire_msg *msg,
                                 shmap_native_t *fds, size_t *nfds);

/**
 * The header of the last message shmap_channel_recv() read, valid or not
 * (zeroed when none was read); with shmap_channel_in_sync() the caller knows
 * whether it can answer it. Borrowed from the channel: valid until the next
 * receive or close, by the receiving thread.
 */
SHMAP_API const shmap_wire_header *
shmap_channel_last_header(const shmap_channel *ch);
/**
 * 1 when the stream is at a message boundary (the last failure was in a
 * payload that was read whole), 0 after a framing error (or for NULL).
 */
SHMAP_API int shmap_channel_in_sync(const shmap_channel *ch);

/**
 * @brief Wait for the reply to `request`, which this end sent with
 * SHMAP_WIRE_NEED_REPLY, and report its result.
 *
 * For callers that send with shmap_channel_send() and run their own loop;
 * the endpoint functions (shmap_frontend_add_region() & co.) do this
 * themselves. The reply's fixed size lets a stream transport read it with
 * one call.
 *
 * @param ch       The channel the request went out on.
 * @param request  The request code the reply must carry.
 * @param value    NULL to decode the reply as a result; else receives the
 *                 raw u64 (GET_MAX_MEM_SLOTS's slot count) and 0 is returned.
 * @return 0, the peer's error (a negative SHMAP_E* code it answered with),
 *         SHMAP_EPROTO when the next message is not that reply (a message
 *         read past its end is a framing error: see
 *         shmap_channel_in_sync()), or any error of shmap_channel_recv().
 * @par Thread safety
 *   As shmap_channel_recv(): one receiver at a time per channel.
 * @par Ownership
 *   A reply carries no descriptors; any that arrive are closed.
 */
SHMAP_API int shmap_channel_recv_reply(shmap_channel *ch, uint32_t request,
                                       uint64_t *value);

/**
 * Send a reply (flags 0x5, size 8) for `request` carrying `result`: 0 for
 * success or a negative shmap error code (shmap_wire_reply_value()).
 * Thread safety and errors as shmap_channel_send().
 */
SHMAP_API int shmap_channel_reply(shmap_channel *ch, uint32_t request,
                                  int result);

/**
 * The native socket/pipe, borrowed (for poll/select/WaitFor...): the channel
 * still owns it; never close it or read from it. SHMAP_NATIVE_INVALID for
 * NULL.
 */
SHMAP_API shmap_native_t shmap_channel_native(const shmap_channel *ch);

#ifdef __cplusplus
}
#endif
#endif /* SHMAP_CHANNEL_H */
