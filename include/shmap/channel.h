/**
 * @file shmap/channel.h
 * Channel: moves vhost-user memory messages and the OS objects they refer
 * to between two endpoints.
 *
 * POSIX: a SOCK_STREAM Unix socket; descriptors travel with SCM_RIGHTS on
 * the first byte of their message (a receiver takes them with its first
 * read of the header and refuses them with any later read; descriptors a
 * sender attaches to a later header byte are accepted when the kernel
 * delivers both pieces in that first read: docs/wire.md). Windows: a
 * message-mode named pipe; the sender duplicates each handle into the peer
 * process.
 *
 * A channel has a role — the front end (VMM) or the back end (device) — and a
 * kind: the main socket (the default), on which the front end sends its
 * requests and the back end answers, or the back-end request socket
 * (SHMAP_CHANNEL_BACKEND_REQ, the one the front end hands over with
 * SET_BACKEND_REQ_FD), on which the back end sends SHMEM_MAP & co. and the
 * front end answers. Role and kind say which code space a received request
 * belongs to (the two spaces' codes collide) and which requests this end may
 * send; a call that is wrong for the channel fails before anything is sent.
 * It is cross-process unless created with SHMAP_CHANNEL_INPROCESS; only an
 * in-process channel accepts EXTERNAL_MAP (its pointer is an address in this
 * process).
 *
 * A channel carries every well-framed vhost-user message, not only the
 * memory ones: shmap_channel_recv_msg() hands a request shmap does not
 * decode (GET_FEATURES, SET_VRING_ADDR...) to the caller whole, with its
 * descriptors, and shmap_channel_send_msg() sends any request or reply. So a
 * VMM or device can run the whole vhost-user conversation on one socket and
 * leave only the memory messages to shmap.
 *
 * What the peer agreed to (protocol features, shmap_channel_set_protocol_
 * features()) decides whether shmap sets NEED_REPLY and waits for an answer:
 * only with REPLY_ACK, or for a request that is always answered.
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
  SHMAP_CHANNEL_SAME_USER = 1u << 1,
  /** The back-end request socket (SET_BACKEND_REQ_FD): the back end sends
   * SHMEM_MAP, SHMEM_UNMAP and EXTERNAL_MAP on it and the front end answers.
   * Without it a channel is the main socket. */
  SHMAP_CHANNEL_BACKEND_REQ = 1u << 2,
  /** REM_MEM_REG carries the region's descriptor too, for a back end that
   * expects one there. Off by default: QEMU 7.2 and 10 send none, and
   * rust-vmm back ends drop a connection that sends one. */
  SHMAP_CHANNEL_REM_FD = 1u << 3
};

/**
 * One whole message as received: header, payload bytes and descriptors.
 * For a message shmap decodes (a memory request of the space this end
 * receives, or a reply to a memory request) `known` is 1 and `wire` holds
 * the decoded, checked form; for any other `known` is 0 and the payload is
 * the caller's to parse.
 *
 * Ownership: whoever holds the message owns fds[0..nfds); end it with
 * shmap_msg_release(), or take a descriptor and set its slot to
 * SHMAP_NATIVE_INVALID. Large (about 4.5 KiB): keep it off small stacks.
 */
typedef struct shmap_msg {
  shmap_wire_header hdr; /**< request, flags, size (of payload) */
  int direction;         /**< code space of hdr.request (enum
                              shmap_wire_direction) */
  int known;             /**< 1 when `wire` holds the decoded message */
  size_t nfds;           /**< descriptors received with the message */
  shmap_native_t fds[SHMAP_WIRE_MAX_FDS]; /**< owned: see above */
  shmap_wire_msg wire;                    /**< decoded form when known */
  uint64_t reserved[4];                   /**< zero; room to grow */
  uint8_t payload[SHMAP_MSG_MAX_PAYLOAD]; /**< hdr.size bytes */
} shmap_msg;

/** Close the descriptors `m` still owns (skipping SHMAP_NATIVE_INVALID
 * slots) and set nfds to 0. NULL is ignored. */
SHMAP_API void shmap_msg_release(shmap_msg *m);
/**
 * The payload of `m` as one u64 (GET_FEATURES' reply, SET_FEATURES...).
 * Errors: SHMAP_EINVAL, SHMAP_ESIZE (the payload is not 8 bytes).
 */
SHMAP_API int shmap_msg_u64(const shmap_msg *m, uint64_t *value);

/**
 * Listen for peers at `addr`. On POSIX it is a socket path, created mode
 * 0600 (a stale socket there is replaced); on Windows a pipe name such as
 * `\\.\pipe\shmap`.
 *
 * Ownership: `*out` is the caller's; shmap_listener_close() ends it.
 * Thread-safe.
 *
 * Errors: SHMAP_EINVAL (NULL, empty or too long a path, not a pipe name),
 * SHMAP_EBUSY (the address is in use: a live server is bound to the socket
 * or holds the pipe name, or a file that is not a socket is at the path),
 * SHMAP_EACCES (no permission to create the socket there), SHMAP_ELIMIT
 * (the process's descriptors are used up), SHMAP_ENOMEM, SHMAP_EOS.
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
 * peer is someone else: it is disconnected), SHMAP_ELIMIT (the process's
 * descriptors are used up), SHMAP_ENOMEM, SHMAP_EOS.
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
 * Errors: SHMAP_EINVAL, SHMAP_ECONNREFUSED (nobody listens there: no
 * socket or pipe of that name, or a socket file no server is bound to;
 * retry later), SHMAP_EACCES (no permission to connect), SHMAP_ETIMEDOUT
 * (Windows: every instance of the pipe stayed busy for 10 s), SHMAP_EPERM
 * (SAME_USER), SHMAP_ELIMIT (the process's descriptors are used up),
 * SHMAP_ENOMEM, SHMAP_EOS.
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
 * Errors: SHMAP_EINVAL, SHMAP_ELIMIT (the process's descriptors are used
 * up), SHMAP_ENOMEM, SHMAP_EOS.
 */
SHMAP_API int shmap_channel_pair(unsigned flags, shmap_channel **front,
                                 shmap_channel **back);
/**
 * Close the connection (the peer sees SHMAP_ECLOSED) and free the channel.
 * Descriptors already received stay the caller's. NULL is ignored; cannot
 * fail. No other thread may be using the channel. Windows: handles that
 * unread messages brought are closed, reading a bounded amount (4096
 * messages, about 4 MiB, 100 ms of waiting), so the peer cannot hold the
 * close up; handles in messages past that bound stay open.
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
 * (shmap_wire_encode()), SHMAP_ECLOSED (peer gone), SHMAP_EAGAIN (POSIX: a
 * non-blocking socket with no room, nothing sent), SHMAP_ETIMEDOUT (the
 * channel's timeout, shmap_channel_set_timeout(), passed before the message
 * was all sent: close the channel), SHMAP_EBADF (Windows: a handle to send
 * is not open), SHMAP_EOS. Nothing is sent when the message is invalid.
 */
SHMAP_API int shmap_channel_send(shmap_channel *ch, const shmap_wire_msg *msg,
                                 const shmap_native_t *fds, size_t nfds);

/**
 * Receive exactly one message that shmap decodes; blocks until it is all
 * there. A well-framed message shmap does not decode (a foreign request or
 * reply) is read whole and refused with SHMAP_EREQUEST, its descriptors
 * closed, the stream still in sync: use shmap_channel_recv_msg() on a
 * connection that carries other vhost-user messages.
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
 * socket with nothing, or not yet the whole message, to read: see
 * shmap_channel_set_timeout()), SHMAP_ETIMEDOUT (the channel's timeout
 * passed inside a message), the codec's errors
 * (shmap_wire_header_decode(), shmap_wire_decode()), SHMAP_EOS.
 */
SHMAP_API int shmap_channel_recv(shmap_channel *ch, shmap_wire_msg *msg,
                                 shmap_native_t *fds, size_t *nfds);

/**
 * Receive exactly one well-framed message of any kind; blocks until it is
 * all there. Memory messages are decoded and checked into m->wire (m->known
 * 1) as shmap_channel_recv() does; any other request or reply of at most
 * SHMAP_MSG_MAX_PAYLOAD bytes and SHMAP_WIRE_MAX_FDS descriptors is handed
 * over whole (m->known 0).
 *
 * Ownership: on success the caller owns m->fds (shmap_msg_release()). On
 * any error every descriptor that arrived has been closed and m->nfds is 0.
 *
 * Errors: as shmap_channel_recv(), except that an unknown request is not
 * one. A memory message that fails its checks was read whole: the channel
 * stays in sync (shmap_channel_in_sync()).
 */
SHMAP_API int shmap_channel_recv_msg(shmap_channel *ch, shmap_msg *m);

/**
 * Send any message whole: header fields `request` and `flags` (the version
 * bit is added; REPLY and NEED_REPLY as given), `size` payload bytes and
 * `nfds` descriptors. A memory message shmap decodes is checked by the
 * receiver's rules first; a request must be one this end may send (its
 * role and kind), and a reply one it may answer.
 *
 * Ownership: `fds` are borrowed (the peer gets its own copies).
 *
 * Errors: SHMAP_EINVAL, SHMAP_ESIZE (size > SHMAP_MSG_MAX_PAYLOAD),
 * SHMAP_EFDCOUNT, SHMAP_EPERM (a memory request of the other direction),
 * the codec's errors, SHMAP_ECLOSED, SHMAP_EAGAIN, SHMAP_ETIMEDOUT,
 * SHMAP_EBADF and SHMAP_EOS as shmap_channel_send().
 */
SHMAP_API int shmap_channel_send_msg(shmap_channel *ch, uint32_t request,
                                     uint32_t flags, const void *payload,
                                     size_t size, const shmap_native_t *fds,
                                     size_t nfds);

/**
 * Send request `request` (any code of the space this end sends in) and,
 * when the peer will answer, wait for its reply: NEED_REPLY is set when
 * REPLY_ACK was negotiated, and a request that is always answered
 * (shmap_wire_always_answered()) is waited for either way.
 *
 * @param ch       The channel (an end that sends requests).
 * @param request  The request code, in the space this end sends in.
 * @param payload  `size` payload bytes (NULL when size is 0).
 * @param size     At most SHMAP_MSG_MAX_PAYLOAD.
 * @param fds      `nfds` descriptors to send along (borrowed).
 * @param nfds     At most SHMAP_WIRE_MAX_FDS.
 * @param reply  NULL, or receives the reply message (known 0 for foreign
 *               requests); unchanged (nfds 0, hdr zeroed) when no reply
 *               was due. With NULL a reply carrying a u64 is read as a
 *               result (0 success, any other value a failure).
 * @return 0; SHMAP_EREPLY or the shmap code the peer answered with; the
 *         errors of shmap_channel_send_msg() and shmap_channel_recv_msg();
 *         SHMAP_EPROTO when the next message is not that reply; SHMAP_ESIZE
 *         when an acknowledgement is not a u64; SHMAP_ETIMEDOUT when the
 *         channel's timeout (shmap_channel_set_timeout()) passed while
 *         sending or inside the reply. On any failure every
 *         descriptor that came with the answer is closed (reply->nfds 0).
 */
SHMAP_API int shmap_channel_call(shmap_channel *ch, uint32_t request,
                                 const void *payload, size_t size,
                                 const shmap_native_t *fds, size_t nfds,
                                 shmap_msg *reply);

/**
 * Record what was negotiated with the peer: its agreed protocol features
 * (SHMAP_PROTOCOL_F_*). A new channel assumes SHMAP_PROTOCOL_SHMAP_DEFAULT
 * (a shmap peer). It decides NEED_REPLY (REPLY_ACK) and whether the
 * front-end region calls use ADD/REM_MEM_REG (CONFIGURE_MEM_SLOTS) or
 * SET_MEM_TABLE. shmap_frontend_negotiate() and a back end answering the
 * handshake set it themselves. Not while another thread sends.
 */
SHMAP_API void shmap_channel_set_protocol_features(shmap_channel *ch,
                                                   uint64_t features);
/** The protocol features recorded on `ch` (0 for NULL). */
SHMAP_API uint64_t shmap_channel_protocol_features(const shmap_channel *ch);

/**
 * The code space of the requests this end receives, or sends (enum
 * shmap_wire_direction), from its role and kind; 0 for NULL.
 */
SHMAP_API int shmap_channel_rx_direction(const shmap_channel *ch);
/** See shmap_channel_rx_direction(). */
SHMAP_API int shmap_channel_tx_direction(const shmap_channel *ch);

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
 * @brief Bound how long a stalled peer can hold this end.
 *
 * With `ms` > 0, two waits are bounded by `ms` milliseconds:
 *  - completing a message whose first byte has arrived (a receive that
 *    has part of a message waits at most `ms` for the rest, counted from
 *    its first wait), and
 *  - each send, including one blocked because the peer does not read
 *    (counted from its first wait).
 * Past the bound the call fails with SHMAP_ETIMEDOUT; the stream is then
 * inside a message (shmap_channel_in_sync() 0) and the caller closes the
 * channel. Every descriptor received with the unfinished message is
 * closed. Waiting for a message to begin is never bounded: poll the native
 * socket (shmap_channel_native()) for that.
 *
 * `ms` 0 or negative: no bound (the default; a stalled peer blocks a
 * blocking channel for ever).
 *
 * The bound costs nothing while the peer keeps up: the calls that find
 * their bytes there (or room to send) are the same system calls as
 * without it; a wait (poll) happens only where a call would block.
 *
 * Non-blocking sockets (O_NONBLOCK on shmap_channel_native()), with or
 * without a timeout:
 *  - a receive with nothing to read returns SHMAP_EAGAIN (in sync);
 *  - a receive that has read part of a message returns SHMAP_EAGAIN
 *    without waiting and keeps what it read (bytes, descriptors) in the
 *    channel; the next receive on the channel (any of the receive and
 *    serve_one calls) resumes it. The timeout does not run across those
 *    calls: an event loop bounds a peer's unfinished message itself
 *    (closing the channel closes what it kept);
 *  - a send is whole or nothing as the caller sees it: when its first
 *    system call would block it returns SHMAP_EAGAIN with nothing sent;
 *    once part of a message is out it finishes it, waiting for room at
 *    most the timeout (without one, until the peer reads).
 *
 * Windows (message-mode pipes): a pipe message longer than the first
 * read (a frame the peer has not finished writing, or one too long for
 * any message) is read in parts, and its rest is waited for at most `ms`;
 * a write that would block waits at most `ms`. Either is then cancelled;
 * the handles a cancelled send carried are taken back from the peer.
 * The wait (WaitForSingleObject) happens only when the I/O is pending.
 *
 * Thread safety: set it before the channel is used by other threads.
 * Errors: SHMAP_EINVAL (NULL).
 */
SHMAP_API int shmap_channel_set_timeout(shmap_channel *ch, int ms);
/** The bound set with shmap_channel_set_timeout(), 0 when none (or NULL). */
SHMAP_API int shmap_channel_timeout(const shmap_channel *ch);

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
 * Send a reply for `request` carrying the u64 `value` as it is (a feature
 * mask, a slot count). Errors as shmap_channel_send().
 */
SHMAP_API int shmap_channel_reply_u64(shmap_channel *ch, uint32_t request,
                                      uint64_t value);

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
