/* shmap — the OS seam: everything common code asks of a platform.
 *
 * Each platform (src/win32; on Linux src/unix, the part every Unix shares,
 * with src/linux, the OS's own: src/unix/unix.h draws that line)
 * implements every function below and provides "os.h" with the types
 * common code embeds:
 *   shmap__rwlock       a reader-writer lock, usable after rwlock_init;
 *   shmap__window_os    a window's platform state, inside struct
 *                       shmap_window (set by window_reserve);
 *   shmap__chan_os      one end of a connected channel;
 *   shmap__listener_os  a listening address;
 * and, optionally, SHMAP__OS_MAP_REPLACES (see shmap__os_window_map).
 * A port to a new OS is a new directory that fulfils this file (a Unix:
 * what src/unix/unix.h leaves to the OS).
 *
 * Rules for every function here, unless its comment says otherwise:
 * - An int result is 0 on success or a negative shmap code, and on failure
 *   the function has recorded its error (errors.h) before returning,
 *   naming the call and, for an OS failure, the OS error; common code adds
 *   nothing and passes the code on.
 * - On failure, outputs are unspecified and nothing was acquired: no
 *   descriptor, handle or memory is left for the caller to release.
 * - Functions are thread-safe on distinct objects; calls on one object are
 *   serialised by the caller as each comment says.
 * - Descriptors and handles the platform creates are close-on-exec /
 *   not inheritable.
 * Fault-safe access (the trap and the jump) is the one part of the seam
 * with its own header: guard.h. */
#ifndef SHMAP_OS_CONTRACT_H
#define SHMAP_OS_CONTRACT_H

#include <stddef.h>
#include <stdint.h>

#include "chan.h"
#include "objects.h"
#include "os.h"
#include "shmap.h"

/* ---- process facts (core.c) ---- */

/* The calling thread's last OS error: errno, GetLastError(). Never fails. */
int shmap__os_last_error(void);
/* The page size, and the granularity every mapping's offset and length
 * must be a multiple of (the page size on POSIX, 64 KiB on Windows): powers
 * of two, constant for the process's life. Never fail. */
uint64_t shmap__os_page_size(void);
uint64_t shmap__os_granularity(void);
/* Fill os, memfd, seals and window_path of `out`; leaves other fields.
 * Never fails. */
void shmap__os_platform(shmap_platform_info *out);

/* ---- locks (core.c) ---- */

/* The window's lock. init before any other use, destroy after the last;
 * no lock is held across a call that can block on a peer. Never fail. */
void shmap__rwlock_init(shmap__rwlock *l);
void shmap__rwlock_destroy(shmap__rwlock *l);
void shmap__rwlock_rdlock(shmap__rwlock *l);
void shmap__rwlock_rdunlock(shmap__rwlock *l);
void shmap__rwlock_wrlock(shmap__rwlock *l);
void shmap__rwlock_wrunlock(shmap__rwlock *l);

/* ---- memory objects (mappable.c) ---- */

/* Pre: size > 0, a multiple of the granularity.
 * Post: *out is a new object of exactly `size` zeroed, writable bytes,
 * owned by the caller; *size_fixed 1 when it can never shrink (sealed
 * memfd, any section). Errors: EOVERFLOW (a size the OS cannot take),
 * ENOMEM, ELIMIT, EOS. */
int shmap__os_mappable_create(uint64_t size, unsigned flags,
                              shmap_native_t *out, int *size_fixed);
/* 1 when no object of this platform's kind can shrink (sections). */
int shmap__os_sizes_fixed(void);
/* Pre: `native` is any descriptor or handle (the caller's; not consumed).
 * Post: it is a mappable kind of object (else EBADF; EOS when the OS
 * cannot say); *size is its current size; *committed 1 when every byte is
 * committed backing, 0 when not or the OS does not tell. With `access` not
 * NULL also *access SHMAP_PROT_READ or SHMAP_PROT_RW; the hot path (every
 * map's backing check) passes NULL and saves those system calls. */
int shmap__os_mappable_query(shmap_native_t native, uint64_t *size,
                             unsigned *access, int *committed);
/* Post: *out a new, independent descriptor / handle for the same object
 * with the same access. `native` is unchanged. */
int shmap__os_native_dup(shmap_native_t native, shmap_native_t *out);
/* Post: *out a new descriptor / handle for the same object that can map
 * it read-only and never writable (POSIX: a read-only reopen). */
int shmap__os_share_readonly(shmap_native_t native, shmap_native_t *out);
/* Post: nobody can make a new writable mapping of the object or write() it
 * (POSIX: F_SEAL_FUTURE_WRITE); mappings already writable keep working.
 * ENOTSUP where the object or OS cannot. */
int shmap__os_seal_writes(shmap_native_t native);
/* Is `native` memory a peer could shrink under a mapping (SIGBUS on the
 * next access)? `allow_unsealed` is an endpoint's policy: > 0 accept it,
 * < 0 refuse it, 0 the default: refuse it where shmap's own objects are
 * sealed (memfd builds), accept it in a build forced to shm_open, whose own
 * peers cannot seal. Post: 0 with *sealed 1 when the object can never
 * shrink (a memfd with F_SEAL_SHRINK, any Windows section), or
 * SHMAP_EBACKING. */
int shmap__os_check_sealed(shmap_native_t native, int allow_unsealed,
                           int *sealed);

/* ---- windows (window.c) ---- */

/* Pre: w->size set (a multiple of the granularity, > 0); `align` a power
 * of two >= the granularity.
 * Post: w->base is the start of `w->size` bytes of reserved, inaccessible
 * address space aligned to `align`, which nothing else in the process will
 * be given until release; w->os is set. Errors: ENOMEM, EOS. */
int shmap__os_window_reserve(shmap_window *w, uint64_t align);
/* Pre: reserved, every mapping already unmapped. Post: the address space
 * and w->os are given back. Never fails. */
void shmap__os_window_release(shmap_window *w);
/* Pre: the caller holds w's write lock; `e` is of kind MAPPABLE or ANON,
 * inside the window, aligned to the granularity, and not in the table
 * yet; its range is reserved and inaccessible — or, when the platform
 * defines SHMAP__OS_MAP_REPLACES, still mapped by the entry being replaced
 * (shmap__window_replace).
 * Post: the range maps e->m from e->file_offset (or fresh zeroed memory)
 * with e->prot. On failure the range is reserved and inaccessible again,
 * exactly as before the call; SHMAP_ELIMIT (POSIX: too near the map-count
 * limit) means the call touched nothing at all. */
int shmap__os_window_map(shmap_window *w, const shmap__entry *e);
/* Pre: write lock held; `e` still in the table, mapped.
 * Post: its range is reserved and inaccessible again: the reservation is
 * never lost, not even for a moment another thread could use. On failure
 * the mapping is as it was. */
int shmap__os_window_unmap(shmap_window *w, const shmap__entry *e);
/* Pre: write lock held; `e` in the table, mapped. Post: its range allows
 * `prot` (SHMAP_PROT_*). On failure the protection is unchanged. */
int shmap__os_window_protect(shmap_window *w, const shmap__entry *e,
                             unsigned prot);

/* ---- channels (channel.c and the transport files) ---- */

/* Post: *out listens on `addr` (a socket path, a pipe name). EBUSY when
 * someone listens there already, EACCES, EINVAL for a bad address. */
int shmap__os_listen(const char *addr, shmap__listener_os *out);
/* Blocks until a peer connects. Post: *out is connected to it. */
int shmap__os_accept(shmap__listener_os *l, shmap__chan_os *out);
/* Stops listening and removes what listen created. Never fails. */
void shmap__os_listener_close(shmap__listener_os *l);
/* Post: *out connected to the listener at `addr`. ECONNREFUSED when nobody
 * listens there (no such address, or nothing accepting on it), EACCES. */
int shmap__os_connect(const char *addr, shmap__chan_os *out);
/* Pre: `conn` a connected descriptor / pipe handle, consumed on success
 * only. Post: *out wraps it. EBADF when it is not a channel's end. */
int shmap__os_adopt(shmap_native_t conn, shmap__chan_os *out);
/* Post: *a and *b are the two connected ends of a new channel. */
int shmap__os_pair(shmap__chan_os *a, shmap__chan_os *b);
/* Closes the end; the peer sees ECLOSED. Never fails. */
void shmap__os_chan_close(shmap__chan_os *c);
/* The descriptor / handle a caller may poll or wait on; still owned by c. */
shmap_native_t shmap__os_chan_native(const shmap__chan_os *c);
/* `c` is one end of a pair made in this process whose other end was just
 * handed to the peer of `from` (SET_BACKEND_REQ_FD): from now on `c`'s peer
 * is that process. POSIX needs nothing (descriptors travel without naming
 * a process); Windows duplicates handles into the peer and must know it. */
int shmap__os_chan_peer_from(shmap__chan_os *c, const shmap__chan_os *from);
/* SAME_USER: EPERM for a peer of another user. */
int shmap__os_peer_check(shmap__chan_os *c);
/* 1 when this platform's channels honour a timeout. */
int shmap__os_chan_timeouts(void);
/* Pre: buf holds one encoded message of len bytes; fds (nfds of them) stay
 * the caller's: the peer receives duplicates.
 * Post: all of it was sent, or an error: ECLOSED, ETIMEDOUT when
 * `timeout_ms` > 0 passed since the first wait (the channel is then out of
 * sync), EAGAIN on a non-blocking socket whose first call would block
 * (nothing sent). */
int shmap__os_chan_send(shmap__chan_os *c, const uint8_t *buf, size_t len,
                        const shmap_native_t *fds, size_t nfds, int timeout_ms);
/* Receive one frame: header (validated with shmap__chan_header before
 * anything else is read) and payload, into buf (cap bytes); descriptors
 * that arrived go to fds (room for SHMAP_WIRE_MAX_FDS), and on error the
 * caller closes those. ch->timeout_ms bounds completing a message whose
 * first byte arrived (SHMAP_ETIMEDOUT). On a non-blocking socket:
 * SHMAP_EAGAIN with nothing read, or with part of a message read, which is
 * then kept in ch (rx_got, rx_fds; *nfds 0) and resumed by the next call.
 * Every received descriptor is close-on-exec from the moment it exists. */
int shmap__os_chan_recv_frame(shmap_channel *ch, uint8_t *buf, size_t cap,
                              size_t *len, shmap_native_t *fds, size_t *nfds);

/* ---- errors (oserror.c) ---- */

/* shmap__os_translate(), shmap__os_error_text() and shmap__err_os() are
 * declared with the other error functions in errors.h. */

#endif /* SHMAP_OS_CONTRACT_H */
