/* shmap — channel: moves vhost-user memory messages and the OS objects they
 * refer to between two endpoints.
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
 * must not send (or receive) on one channel at the same time.
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

typedef struct shmap_channel shmap_channel;
typedef struct shmap_listener shmap_listener;

enum shmap_channel_role {
  SHMAP_ROLE_FRONTEND = 1, /* sends regions, receives SHMEM_MAP & co. */
  SHMAP_ROLE_BACKEND = 2   /* receives regions, sends SHMEM_MAP & co. */
};

enum shmap_channel_flags {
  /* Both ends live in this process (EXTERNAL_MAP allowed). */
  SHMAP_CHANNEL_INPROCESS = 1u << 0,
  /* POSIX: refuse a peer whose uid differs from ours (SO_PEERCRED). */
  SHMAP_CHANNEL_SAME_USER = 1u << 1
};

/* Listen on `addr` (a socket path on POSIX, created mode 0600 and replaced if
 * a stale socket is there; a \\.\pipe\ name on Windows). */
SHMAP_API int shmap_listener_open(const char *addr, shmap_listener **out);
/* Wait for one peer and wrap it in a channel with `role` and `flags`. */
SHMAP_API int shmap_listener_accept(shmap_listener *l, unsigned role,
                                    unsigned flags, shmap_channel **out);
/* Close the listener (and unlink its socket path). NULL is ignored. */
SHMAP_API void shmap_listener_close(shmap_listener *l);

/* Connect to a listener at `addr`. */
SHMAP_API int shmap_channel_connect(const char *addr, unsigned role,
                                    unsigned flags, shmap_channel **out);
/* Wrap a connected native socket/pipe; ownership passes on success only. */
SHMAP_API int shmap_channel_adopt(shmap_native_t conn, unsigned role,
                                  unsigned flags, shmap_channel **out);
/* A connected pair in this process: *front has the front-end role, *back
 * the back-end role. */
SHMAP_API int shmap_channel_pair(unsigned flags, shmap_channel **front,
                                 shmap_channel **back);
/* Close the connection. NULL is ignored. */
SHMAP_API void shmap_channel_close(shmap_channel *ch);

SHMAP_API unsigned shmap_channel_role(const shmap_channel *ch);
SHMAP_API unsigned shmap_channel_flags(const shmap_channel *ch);

/* Encode `msg` and send it with `nfds` descriptors/handles (borrowed: the
 * caller still owns and closes them). The count must be what the message
 * requires. Errors: EINVAL, EFDCOUNT, the codec's errors, ECLOSED, EOS. */
SHMAP_API int shmap_channel_send(shmap_channel *ch, const shmap_wire_msg *msg,
                                 const shmap_native_t *fds, size_t nfds);

/* Receive exactly one message. On success the caller owns the `*nfds`
 * descriptors written to fds[] (room for SHMAP_WIRE_MAX_FDS). On any error
 * every descriptor that arrived has been closed and *nfds is 0.
 * A header that fails validation (version, flags, size, code) is a framing
 * error: nothing more is read and the channel should be closed. A payload
 * that fails validation was fully read, so the stream stays in sync and the
 * caller may reply with the error. shmap_channel_last_header() tells which
 * request failed. Errors: ECLOSED (peer closed between messages), EPROTO,
 * ETRUNC, EFDCOUNT, EAGAIN (non-blocking socket with nothing to read), the
 * codec's errors, EOS. */
SHMAP_API int shmap_channel_recv(shmap_channel *ch, shmap_wire_msg *msg,
                                 shmap_native_t *fds, size_t *nfds);

/* The header of the last message shmap_channel_recv() read, valid or not
 * (zeroed when none was read); with shmap_channel_in_sync() the caller knows
 * whether it can answer it. */
SHMAP_API const shmap_wire_header *shmap_channel_last_header(
    const shmap_channel *ch);
/* 1 when the stream is at a message boundary (the last failure was in a
 * payload that was read whole), 0 after a framing error. */
SHMAP_API int shmap_channel_in_sync(const shmap_channel *ch);

/* Send a reply (flags 0x5, size 8) for `request` carrying `result`: 0 for
 * success or a negative shmap error code. */
SHMAP_API int shmap_channel_reply(shmap_channel *ch, uint32_t request,
                                  int result);

/* The native socket/pipe, borrowed (for poll/select/WaitFor...). */
SHMAP_API shmap_native_t shmap_channel_native(const shmap_channel *ch);

#ifdef __cplusplus
}
#endif
#endif /* SHMAP_CHANNEL_H */
