/* shmap — internal declarations shared by src/common and the platform
 * backends. Nothing here is part of the public API.
 *
 * The platform directory (src/posix or src/win32) is on the include path and
 * provides "os.h" with the lock type; that is how common code stays free of
 * #ifdef _WIN32.
 */
#ifndef SHMAP_INTERNAL_H
#define SHMAP_INTERNAL_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "os.h"
#include "shmap.h"
#include "xlat.h"

#if defined(__MINGW32__)
/* mingw's C99 stdio (__USE_MINGW_ANSI_STDIO) takes the GNU formats. */
#  define SHMAP__PRINTF(a, b) __attribute__((format(gnu_printf, a, b)))
#elif defined(__GNUC__)
#  define SHMAP__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#  define SHMAP__PRINTF(a, b)
#endif

/* Errors are the rare path: the compiler lays out a branch that reports one
 * away from the code around it (a .cold part), so the valid path, which
 * mostly runs between two system calls with little of it in the caches,
 * stays dense. */
#if defined(__GNUC__)
#  define SHMAP__COLD __attribute__((cold))
#else
#  define SHMAP__COLD
#endif

/* The entry points a request goes through (serving one, sending one,
 * waiting for a reply, mapping and unmapping, creating, adopting and
 * dropping a mappable): everything they call is inlined into them, across
 * files when the shared library is built with LTO, so that their system
 * calls are made from their own frame. Where a system call's return clears
 * the return-stack predictor (the benchmark VM does: docs/performance.md),
 * each frame a system call happened under costs a mispredicted return when
 * it unwinds, and the layers between an entry point and the OS were most
 * of what a round trip cost beyond the bare calls. Optimised builds only:
 * a debug build keeps its frames. The variadic error reporters are never
 * inlined. */
#if defined(__GNUC__) && defined(__OPTIMIZE__)
#  define SHMAP__FLATTEN __attribute__((flatten))
#else
#  define SHMAP__FLATTEN
#endif
/* What flattening must leave out: work that makes no system call (the
 * codec, the mapping table, the translation index), whose frames therefore
 * cost nothing, and which would otherwise be copied, recursion and all,
 * into every entry point; and rare requests (SET_MEM_TABLE). */
#if defined(__GNUC__)
#  define SHMAP__NOINLINE __attribute__((noinline))
#else
#  define SHMAP__NOINLINE
#endif

/* ---- errors (common/error.c) ---- */

/* Record `code` with a formatted message and no OS cause; returns `code`. */
SHMAP__COLD int shmap__err(int code, const char *fmt, ...) SHMAP__PRINTF(2, 3);
/* Record `code` with the OS error `os_error` and its text (strerror_r,
 * FormatMessageA) appended to the message. Per platform (oserror.c). */
SHMAP__COLD int shmap__err_os(int code, int os_error, const char *fmt, ...)
    SHMAP__PRINTF(3, 4);
/* The one translation of an OS error (errno on POSIX, GetLastError() on
 * Windows) to a code, per platform (posix/oserror.c, win32/oserror.c): the same
 * condition gives the same code on both (busy address SHMAP_EBUSY, refused
 * SHMAP_ECONNREFUSED, denied SHMAP_EACCES, out of memory SHMAP_ENOMEM, would
 * block SHMAP_EAGAIN, timed out SHMAP_ETIMEDOUT, too many open descriptors or
 * handles SHMAP_ELIMIT, closed peer SHMAP_ECLOSED, bad descriptor
 * SHMAP_EBADF); any other error gives `fallback` (normally SHMAP_EOS). */
SHMAP__COLD int shmap__os_translate(int os_error, int fallback);
/* shmap__err_os() with the code from shmap__os_translate(os_error,
 * fallback); returns that code (oserror.c). */
SHMAP__COLD int shmap__err_sys(int fallback, int os_error, const char *fmt, ...)
    SHMAP__PRINTF(3, 4);
/* The thread's record of a failure: the message from fmt and ap, then the
 * code's name and, when os_error is not 0, "OS error N: text" (common/error.c,
 * needing no platform file). */
void shmap__err_record(int code, int os_error, const char *os_text,
                       const char *fmt, va_list ap);
/* The OS's text for `os_error` into buf (NUL-terminated, no trailing line
 * break); an empty string when the OS has none. Per platform (oserror.c). */
SHMAP__COLD void shmap__os_error_text(int os_error, char *buf, size_t n);

/* ---- ranges (common/range.c) ---- */

static inline int shmap__is_pow2(uint64_t v) { return v && !(v & (v - 1)); }

/* Validate a [offset, offset+len) range against `limit` and alignment
 * `gran`; `what` names the caller in the message. Returns 0 or EEMPTY,
 * EOVERFLOW, EALIGN, ERANGE. */
/* Read a caller's options struct of the size-first convention (its first
 * field a size_t `size`): copy the first min(size, known) bytes of `opts`
 * over `dst`, which holds the defaults (zero) and is `known` bytes long.
 * NULL opts leaves `dst` as it is. Refuses a size smaller than the size
 * field (SHMAP_EINVAL) and bytes past `known` that are not zero
 * (SHMAP_ENOTSUP: fields of a newer version, asked for). */
int shmap__options_read(const void *opts, void *dst, size_t known,
                        const char *what);
/* The endpoints' seal policy (enum shmap_seal_policy) as the allow_unsealed
 * of shmap__mappable_adopt_peer(); SHMAP_EINVAL for an unknown one. */
int shmap__seal_policy(unsigned policy, const char *what, int *allow_unsealed);

int shmap__check_range(const char *what, uint64_t offset, uint64_t len,
                       uint64_t limit, uint64_t gran);

/* ---- mappable (common/mappable.c) ---- */

struct shmap_mappable {
  atomic_uint refs;
  /* SHMAP_PROT_READ or SHMAP_PROT_RW; 0 until first asked for. Mapping does
   * not need it: the OS refuses a writable view of a read-only grant, so
   * adopting a peer's object costs one query (its size), as a bare
   * receiver's fstat does. */
  atomic_uint access;
  shmap_native_t native; /* owned */
  uint64_t size;         /* as last queried */
  /* The object cannot shrink below `size` (a sealed memfd we made; any
   * section), so a map need not ask the OS again. */
  int size_fixed;
  int committed;
  /* Set by adopt: the first map within QUERY_FRESH_NS of the query may use
   * `size` as is (the receiver of a region adopts and maps at once). */
  atomic_int fresh;
  uint64_t queried_ns; /* shmap_time_ns() of the query behind `size` */
};

/* ---- mapping table (common/table.c) ---- */

typedef struct shmap__entry {
  uint64_t offset;
  uint64_t len;
  uint64_t file_offset;
  void *ext;         /* EXTERNAL: the producer's pointer */
  shmap_mappable *m; /* MAPPABLE: one reference held by the window */
  unsigned kind;
  unsigned prot;
} shmap__entry;

/* The table is a sorted array cut into chunks: each chunk holds up to
 * SHMAP__CHUNK consecutive entries, and a dense array of the chunks' first
 * offsets finds the chunk. Insert and remove search in O(log n) and move
 * the entries of one chunk (3.5 KiB at most); only a split or an emptied
 * chunk also moves the pointer array, 16 bytes a chunk. A lookup is two
 * binary searches over dense keys. */
#define SHMAP__CHUNK 64

typedef struct shmap__chunk {
  uint64_t keys[SHMAP__CHUNK]; /* keys[i] == v[i].offset: the search walks
                                  this dense array (8 bytes a step, not 48) */
  shmap__entry v[SHMAP__CHUNK];
  size_t n; /* 1 to SHMAP__CHUNK: an emptied chunk leaves the table */
} shmap__chunk;

typedef struct shmap__table {
  shmap__chunk **c;    /* in offset order; entries never overlap */
  uint64_t *first;     /* first[i] == c[i]->keys[0] */
  size_t nc;           /* chunks in use */
  size_t cap;          /* room in c and first */
  shmap__chunk *spare; /* an unused chunk: reserve keeps one for a split */
  size_t n;            /* entries */
} shmap__table;

/* Entry pointers from the table stay valid only until the next insert or
 * remove (entries move within and between chunks); copy what must outlive
 * one. Nothing here locks: the window's rwlock does. */

void shmap__table_free(shmap__table *t);
/* Make room for one more entry, chunk split included, so that the next
 * insert cannot fail. Returns 0 or SHMAP_ENOMEM (recorded, table
 * unchanged). */
int shmap__table_reserve(shmap__table *t);
/* The entry containing `offset`, or NULL. */
shmap__entry *shmap__table_find(const shmap__table *t, uint64_t offset);
/* The first entry that meets [offset, offset+len), or NULL if the range is
 * free. len >= 1 and offset + len <= 2^64. */
shmap__entry *shmap__table_overlap(const shmap__table *t, uint64_t offset,
                                   uint64_t len);
/* Insert a copy of `e`, whose range must be free, after table_reserve.
 * Cannot fail. Returns the stored entry. */
shmap__entry *shmap__table_insert(shmap__table *t, const shmap__entry *e);
/* Remove `e`, an entry of the table. Never fails, never allocates. */
void shmap__table_remove(shmap__table *t, const shmap__entry *e);
/* In offset order; NULL past either end. next and prev take an entry of
 * the table. */
shmap__entry *shmap__table_first(const shmap__table *t);
shmap__entry *shmap__table_last(const shmap__table *t);
shmap__entry *shmap__table_next(const shmap__table *t, const shmap__entry *e);
shmap__entry *shmap__table_prev(const shmap__table *t, const shmap__entry *e);
/* The entries around [offset, offset+len), len >= 1: *prev the last one
 * ending at or before offset, *next the first one starting at or after
 * offset + len (NULL when there is none). Entries that meet the range are
 * neither. */
void shmap__table_neighbors(const shmap__table *t, uint64_t offset,
                            uint64_t len, shmap__entry **prev,
                            shmap__entry **next);
/* Test-only: when not NULL, the table allocates through this instead of
 * realloc, so that a test can make an allocation fail. */
extern void *(*shmap__table_test_realloc)(void *p, size_t size);

/* ---- window (common/window.c) ---- */

struct shmap_window {
  uint8_t *base;
  uint64_t size;
  shmap__rwlock lock;
  shmap__table table;
  /* translate's index (xlat.h), kept while it stays small for the number
   * of mappings: dense or large mappings cost a few dozen bytes each and
   * a lookup a few loads; sparse small ones would cost a whole leaf each,
   * so past the budget translate falls back to the table's search.
   * translate walks it without the lock (its sequence counter, xlat.h);
   * xlat_on is for holders of the lock only. */
  shmap__xlat xlat;
  int xlat_on;
  void *os; /* backend state (Windows placeholders), NULL on POSIX */
};

/* The lock of a window a reader was given as const: the lock is the one
 * part of a window that reading changes (every window is allocated
 * mutable, so the cast is defined). */
static inline shmap__rwlock *shmap__window_lock(const shmap_window *w) {
  return (shmap__rwlock *)&w->lock;
}

/* The host address of `offset` inside entry `e` of `w`: external ranges
 * live where their producer put them, everything else in the reservation. */
static inline uint8_t *shmap__entry_host(const shmap_window *w,
                                         const shmap__entry *e,
                                         uint64_t offset) {
  uint8_t *start = e->kind == SHMAP_MAPPING_EXTERNAL ? (uint8_t *)e->ext
                                                     : w->base + e->offset;
  return start + (offset - e->offset);
}

/* ---- guest ranges (common/segments.c) ---- */

/* One host-contiguous piece of a range: fn returns 0 to go on. */
typedef int (*shmap__piece_fn)(void *ctx, uint64_t offset, uint8_t *host,
                               uint64_t len);
/* Check that [offset, offset+len) of `w` is mapped without a hole and every
 * mapping allows `prot`; only then call `fn` for each host-contiguous piece
 * in order (fn may be NULL: a check only). The caller holds w's read lock.
 * Errors (messages start with `what`): SHMAP_EINVAL (bad prot), EEMPTY,
 * EOVERFLOW, ERANGE, ENOENT, EACCES, or what fn returned. */
int shmap__window_walk(const shmap_window *w, const char *what, uint64_t offset,
                       uint64_t len, unsigned prot, shmap__piece_fn fn,
                       void *ctx);
/* The back end's guest window, and the guest address of front-end address
 * `uaddr` with the bytes of its region from there in *room (0 when no
 * region holds it). common/backend.c. */
shmap_window *shmap__backend_guest(const shmap_backend *be);
int shmap__backend_uaddr(const shmap_backend *be, uint64_t uaddr, uint64_t *gpa,
                         uint64_t *room);
/* The fault-safe copy behind shmap_backend_read/write (common/access.c):
 * as shmap_window_read/write, but across adjacent mappings. */
int shmap__window_copy(shmap_window *w, const char *what, uint64_t offset,
                       void *buf, size_t len, int write, uint64_t *fault);

/* ---- channel (common/channel.c) ---- */

/* A region the front end shared on a main channel: the fields it sent (so
 * that REM_MEM_REG repeats them, and SET_MEM_TABLE can resend the table to
 * a peer without CONFIGURE_MEM_SLOTS) and a reference to its memory. */
typedef struct shmap__shared {
  shmap_wire_region w;
  shmap_mappable *m;
} shmap__shared;

struct shmap_channel {
  shmap__chan_os os;
  unsigned role;
  unsigned flags;
  int rx;         /* code space of requests this end receives (0: none) */
  int tx;         /* code space of requests this end sends (0: none) */
  uint64_t proto; /* protocol features agreed with the peer */
  shmap_wire_header last; /* header of the last message received */
  int in_sync;
  int timeout_ms; /* shmap_channel_set_timeout(); 0: no bound */
  /* A message half read on a non-blocking socket (the OS layer's, POSIX):
   * rx_got bytes of it are in rxbuf and rx_fds are the descriptors that
   * came with it, owned here until the next receive resumes it or close
   * closes them. rx_got 0: none kept. */
  size_t rx_got;
  size_t rx_nfds;
  shmap_native_t rx_fds[SHMAP_WIRE_MAX_FDS];
  /* Whole size of the next message when the caller knows it (a requester
   * waiting for its reply), else 0. A stream transport may then read it
   * with one call instead of header and payload apart. */
  size_t expect;
  /* Front end, main channel: what it shared, in the order it shared it. */
  shmap__shared *shared;
  size_t nshared, capshared;
  /* The receiving thread's frame buffer (one receiver at a time). Here
   * rather than on the stack: a 4 KiB frame on every receive path cost the
   * round trip 3 points over the bare calls (docs/performance.md), and the
   * same lines are reused by every message. */
  uint8_t rxbuf[SHMAP_MSG_MAX_FRAME];
};

struct shmap_listener {
  shmap__listener_os os;
};

/* Validate a received header for `ch` (records it as ch->last) and give
 * the payload size it announces. */
int shmap__chan_header(shmap_channel *ch, const uint8_t *buf, size_t *payload);

/* Receive one frame into buf (room for SHMAP_MSG_MAX_FRAME) with its
 * descriptors. A message shmap decodes (a memory request of ch->rx, a reply
 * to one of ch->tx) is decoded into *wire and its descriptor count checked:
 * *known 1. Any other well-framed message: *known 0, its payload at
 * buf + SHMAP_WIRE_HEADER_SIZE, descriptors kept. On error every descriptor
 * is closed and *nfds is 0. */
int shmap__chan_recv(shmap_channel *ch, uint8_t *buf, shmap_wire_msg *wire,
                     shmap_native_t *fds, size_t *nfds, int *known);

/* Send request `m` with its descriptors; when a reply is due (NEED_REPLY,
 * set with REPLY_ACK, or a request always answered) wait for it: its value
 * in *value when value is not NULL, else 0 or the error the peer replied.
 * Refuses locally a request this end may not send. */
int shmap__request(shmap_channel *ch, shmap_wire_msg *m,
                   const shmap_native_t *fds, size_t nfds, uint64_t *value);

/* Send a reply (flags 0x5) to `request` carrying `value`. */
int shmap__send_reply(shmap_channel *ch, uint32_t request, uint64_t value);

/* Drop the front end's record of what it shared (channel close). */
void shmap__shared_clear(shmap_channel *ch);

/* What applying one request produced, besides its result. */
typedef struct shmap__outcome {
  uint64_t value; /* the reply value on success (GET_MAX_MEM_SLOTS) */
  void *head;     /* first byte of a new mapping, for the event */
} shmap__outcome;

/* An endpoint's handler of one received message. `m` is the decoded form
 * when `known`; `raw` the whole message otherwise (header, payload,
 * descriptors), NULL when the caller has only the decoded form. Returns
 * the result to reply, or SHMAP__NOT_MINE (positive) for a message the
 * endpoint does not handle, leaving its descriptors alone. Handled: the
 * descriptors are the handler's. */
#define SHMAP__NOT_MINE 1
typedef int (*shmap__apply_fn)(void *ctx, shmap_channel *ch,
                               const shmap_wire_msg *m, int known,
                               shmap_msg *raw, shmap_native_t *fds, size_t nfds,
                               shmap__outcome *out);

/* Receive one message, apply it (apply owns the descriptors) and answer
 * when asked: the loop shared by both endpoints. A message the endpoint
 * does not handle goes to `foreign` (which then owns it), or is refused. */
int shmap__serve_one(shmap_channel *ch, shmap_event *ev, shmap__apply_fn apply,
                     void *ctx, shmap_foreign_fn foreign, void *foreign_ctx);

/* The sans-I/O step both endpoints expose: apply `m`, fill *reply. */
int shmap__apply_msg(shmap_channel *ch, shmap_msg *m, shmap_reply *reply,
                     shmap_event *ev, shmap__apply_fn apply, void *ctx);

/* ---- wire internals (common/wire.c) ---- */

/* shmap_wire_header_decode()'s checks of a header already read (a channel
 * records the raw fields first, to name what failed): `rx` is the space
 * of the requests this receiver gets, `tx` the space of those it sent
 * (which replies answer). */
int shmap__wire_header_check(const shmap_wire_header *h, int rx, int tx);
/* 1 when shmap decodes request `code` of `space`. */
int shmap__wire_decoded(int space, uint32_t code);
/* Decode / encode a memory message whose code is in `space`. */
int shmap__wire_decode_in(int space, const shmap_wire_header *h,
                          const uint8_t *payload, size_t len,
                          shmap_wire_msg *out);
int shmap__wire_encode_in(int space, const shmap_wire_msg *msg, uint8_t *buf,
                          size_t cap, size_t *out_len);
/* Header and payload bytes of any message, as given (no checks). */
void shmap__wire_frame(uint8_t *buf, uint32_t request, uint32_t flags,
                       const void *payload, uint32_t size);

/* The 20 bytes of a reply to `request` carrying `value`: what
 * shmap_wire_encode() makes of shmap_wire_reply_init()'s message, without
 * building one. */
#define SHMAP__REPLY_BYTES (SHMAP_WIRE_HEADER_SIZE + 8)
void shmap__wire_reply_bytes(uint8_t *buf, uint32_t request, uint64_t value);

static inline uint32_t shmap__le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

/* ---- what each platform backend provides (src/posix, src/win32) ---- */

int shmap__os_last_error(void);
uint64_t shmap__os_page_size(void);
uint64_t shmap__os_granularity(void);
/* Fill os, memfd, seals and window_path of `out`. */
void shmap__os_platform(shmap_platform_info *out);

void shmap__rwlock_init(shmap__rwlock *l);
void shmap__rwlock_destroy(shmap__rwlock *l);
void shmap__rwlock_rdlock(shmap__rwlock *l);
void shmap__rwlock_rdunlock(shmap__rwlock *l);
void shmap__rwlock_wrlock(shmap__rwlock *l);
void shmap__rwlock_wrunlock(shmap__rwlock *l);

/* Create a fresh, zeroed, writable memory object of exactly `size` bytes
 * (already rounded to the granularity). */
int shmap__os_mappable_create(uint64_t size, unsigned flags,
                              shmap_native_t *out, int *size_fixed);
/* check_range for a map about to happen: may use the size adopt just
 * read instead of asking again (once). */
int shmap__mappable_check_map(const char *what, shmap_mappable *m,
                              uint64_t offset, uint64_t len);
/* The access recorded so far (0: not asked yet); never queries. */
unsigned shmap__mappable_known_access(const shmap_mappable *m);
/* 1 when no object of this platform's kind can shrink (sections). */
int shmap__os_sizes_fixed(void);
/* Validate that `native` is a mappable kind of object; report its current
 * size and, where the OS tells, whether every byte of it is committed
 * backing (`committed` 1) or not (0). With `access` not NULL also report
 * READ or RW; the hot path (every map's backing check) passes NULL and
 * saves those system calls. */
int shmap__os_mappable_query(shmap_native_t native, uint64_t *size,
                             unsigned *access, int *committed);
int shmap__os_native_dup(shmap_native_t native, shmap_native_t *out);
int shmap__os_share_readonly(shmap_native_t native, shmap_native_t *out);
/* Forbid new writable mappings and writes of the object for everyone
 * (POSIX: F_SEAL_FUTURE_WRITE); mappings already writable keep working. */
int shmap__os_seal_writes(shmap_native_t native);
/* Memory a peer could shrink under a mapping (SIGBUS on the next access).
 * `allow_unsealed` is an endpoint's policy: > 0 accept it, < 0 refuse it,
 * 0 the default: refuse it where shmap's own objects are sealed (memfd
 * builds), accept it in a build forced to shm_open, whose own peers cannot
 * seal. Returns 0 (*sealed 1 when the object can never shrink: a memfd
 * with F_SEAL_SHRINK, any Windows section) or SHMAP_EBACKING, recorded. */
int shmap__os_check_sealed(shmap_native_t native, int allow_unsealed,
                           int *sealed);
/* shmap_mappable_adopt() for an object received from a peer, under that
 * policy. On failure `native` is still the caller's. */
int shmap__mappable_adopt_peer(shmap_native_t native, int allow_unsealed,
                               shmap_mappable **out);

/* Reserve the window's address space: set w->base (aligned to `align`) and
 * w->os. w->size is already set. */
int shmap__os_window_reserve(shmap_window *w, uint64_t align);
/* Give the whole reservation back (every mapping was already unmapped). */
void shmap__os_window_release(shmap_window *w);
/* Make `e` (kind MAPPABLE or ANON) accessible. On failure the range must be
 * reserved and inaccessible again, as before the call; SHMAP_ELIMIT (POSIX:
 * too near the map-count limit) means it touched nothing. Called under the
 * write lock with `e` not yet in the table (or, from shmap__window_replace,
 * with `e`'s range still mapped when SHMAP__OS_MAP_REPLACES). */
int shmap__os_window_map(shmap_window *w, const shmap__entry *e);
/* Turn `e`'s range back into inaccessible reservation. Called under the
 * write lock with `e` still in the table. */
int shmap__os_window_unmap(shmap_window *w, const shmap__entry *e);
int shmap__os_window_protect(shmap_window *w, const shmap__entry *e,
                             unsigned prot);
/* Replace the mapping that is exactly [offset, offset+len) with
 * [file_offset, +len) of `m` in one step under the window's lock (common/
 * window.c). A platform whose shmap__os_window_map() maps over an existing
 * mapping atomically defines SHMAP__OS_MAP_REPLACES in its os.h; elsewhere
 * the old view is unmapped first. */
int shmap__window_replace(shmap_window *w, uint64_t offset, uint64_t len,
                          shmap_mappable *m, uint64_t file_offset,
                          unsigned prot);

/* Run fn(arg), which touches memory in [lo, hi). A fault at an address in
 * that range abandons fn and returns SHMAP_EFAULT with *fault set to the
 * address; faults elsewhere go to the process's previous handler. fn must
 * hold no lock and own no resource while it touches the range. */
int shmap__os_guarded(void (*fn)(void *), void *arg, uintptr_t lo, uintptr_t hi,
                      uintptr_t *fault);

/* Channels. Every function records its own error. */
int shmap__os_listen(const char *addr, shmap__listener_os *out);
int shmap__os_accept(shmap__listener_os *l, shmap__chan_os *out);
void shmap__os_listener_close(shmap__listener_os *l);
int shmap__os_connect(const char *addr, shmap__chan_os *out);
int shmap__os_adopt(shmap_native_t conn, shmap__chan_os *out);
int shmap__os_pair(shmap__chan_os *a, shmap__chan_os *b);
void shmap__os_chan_close(shmap__chan_os *c);
shmap_native_t shmap__os_chan_native(const shmap__chan_os *c);
/* `c` is one end of a pair made in this process whose other end was just
 * handed to the peer of `from` (SET_BACKEND_REQ_FD): from now on `c`'s peer
 * is that process. POSIX needs nothing (descriptors travel without naming
 * a process); Windows duplicates handles into the peer and must know it. */
int shmap__os_chan_peer_from(shmap__chan_os *c, const shmap__chan_os *from);
/* SAME_USER: refuse a peer of another user. */
int shmap__os_peer_check(shmap__chan_os *c);
/* Send one encoded message with its descriptors, all of it or an error.
 * `timeout_ms` > 0 bounds the send (SHMAP_ETIMEDOUT past it), counted from
 * its first wait; a non-blocking socket whose first call would block gives
 * SHMAP_EAGAIN with nothing sent. */
int shmap__os_chan_send(shmap__chan_os *c, const uint8_t *buf, size_t len,
                        const shmap_native_t *fds, size_t nfds, int timeout_ms);
/* 1 when this platform's channels honour a timeout. */
int shmap__os_chan_timeouts(void);
/* Receive one frame: header (validated with shmap__chan_header before
 * anything else is read) and payload, into buf (cap bytes); descriptors
 * that arrived go to fds (room for SHMAP_WIRE_MAX_FDS), and on error the
 * caller closes those. ch->timeout_ms bounds completing a message whose
 * first byte arrived (SHMAP_ETIMEDOUT). On a non-blocking socket:
 * SHMAP_EAGAIN with nothing read, or with part of a message read, which is
 * then kept in ch (rx_got, rx_fds; *nfds 0) and resumed by the next call. */
int shmap__os_chan_recv_frame(shmap_channel *ch, uint8_t *buf, size_t cap,
                              size_t *len, shmap_native_t *fds, size_t *nfds);

#endif /* SHMAP_INTERNAL_H */
