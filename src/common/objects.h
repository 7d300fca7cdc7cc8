/* shmap — the library's memory objects as common code sees them: the
 * mappable (common/mappable.c), the window (common/window.c) and the walks
 * over a window's guest ranges (common/segments.c, common/access.c). */
#ifndef SHMAP_OBJECTS_H
#define SHMAP_OBJECTS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "os.h"
#include "shmap.h"
#include "table.h"
#include "xlat.h"

/* ---- mappable ---- */

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

/* check_range for a map about to happen: may use the size adopt just
 * read instead of asking again (once). */
int shmap__mappable_check_map(const char *what, shmap_mappable *m,
                              uint64_t offset, uint64_t len);
/* The access recorded so far (0: not asked yet); never queries. */
unsigned shmap__mappable_known_access(const shmap_mappable *m);
/* shmap_mappable_adopt() for an object received from a peer, under the
 * policy `allow_unsealed` (shmap__os_check_sealed()). On failure `native`
 * is still the caller's. */
int shmap__mappable_adopt_peer(shmap_native_t native, int allow_unsealed,
                               shmap_mappable **out);

/* ---- window ---- */

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
  shmap__window_os os; /* the platform's state of the reservation (os.h) */
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

/* ---- guest ranges ---- */

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

/* Replace the mapping that is exactly [offset, offset+len) with
 * [file_offset, +len) of `m` in one step under the window's lock. A
 * platform whose shmap__os_window_map() maps over an existing mapping
 * atomically defines SHMAP__OS_MAP_REPLACES in its os.h; elsewhere the old
 * view is unmapped first. */
int shmap__window_replace(shmap_window *w, uint64_t offset, uint64_t len,
                          shmap_mappable *m, uint64_t file_offset,
                          unsigned prot);

#endif /* SHMAP_OBJECTS_H */
