/* shmap — the portable half of windows: validation, locking and the mapping
 * table. The platform backend only turns ranges of the reservation into
 * mappings and back. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* translate's index may use this much memory beyond what the table itself
 * uses (see shmap_window.xlat): dense 4 KiB mappings need ~32 bytes each.
 * The budget is on the nodes in use. Emptied nodes stay allocated until the
 * window is released, since a lock-free translate may still be in them
 * (xlat.h), but later maps reuse them first: the index never holds more
 * than the budget allowed at its largest, plus one map's nodes. */
#define XLAT_BASE_BYTES ((size_t)256 << 10)
#define XLAT_BYTES_PER_MAPPING ((size_t)512)

static unsigned log2u(uint64_t v) {
  unsigned n = 0;
  while (v > 1) {
    v >>= 1;
    n++;
  }
  return n;
}

/* At reserve. An index whose root cannot be allocated now is tried again
 * when the window is next empty (xlat_restart). */
static void xlat_start(shmap_window *w) {
  w->xlat_on =
      shmap__xlat_init(&w->xlat, w->size, log2u(shmap__os_granularity())) == 0;
}

/* Drop the index: translate takes the read lock and searches the table
 * until the window is empty again. Suspended, not freed: lock-free readers
 * may still be walking it (shmap_window_release frees it). */
static void xlat_stop(shmap_window *w) {
  if (w->xlat_on)
    shmap__xlat_suspend(&w->xlat);
  w->xlat_on = 0;
}

/* Record `e` in translate's index; an index that cannot take it (out of
 * memory, over budget) is dropped rather than failing the map. */
static void xlat_add(shmap_window *w, const shmap__entry *e) {
  if (!w->xlat_on)
    return;
  if (shmap__xlat_set(&w->xlat, e->offset, e->len,
                      (uintptr_t)shmap__entry_host(w, e, e->offset)) != 0 ||
      shmap__xlat_bytes_used(&w->xlat) >
          XLAT_BASE_BYTES + XLAT_BYTES_PER_MAPPING * (w->table.n + 1))
    xlat_stop(w);
}

static void xlat_remove(shmap_window *w, const shmap__entry *e) {
  if (w->xlat_on)
    shmap__xlat_clear(&w->xlat, e->offset, e->len);
}

/* After a removal from the table: an empty window starts its index over. */
static void xlat_restart(shmap_window *w) {
  if (!w->xlat_on && w->table.n == 0)
    w->xlat_on = shmap__xlat_resume(&w->xlat) == 0;
}

int shmap_window_reserve(uint64_t size, uint64_t align, shmap_window **out) {
  if (out == NULL)
    return shmap__err(SHMAP_EINVAL, "window reserve: NULL out");
  uint64_t gran = shmap__os_granularity();
  if (size == 0)
    return shmap__err(SHMAP_EEMPTY, "window reserve: zero length");
  if (size & (gran - 1))
    return shmap__err(SHMAP_EALIGN,
                      "window reserve: size 0x%" PRIx64
                      " not a multiple of 0x%" PRIx64,
                      size, gran);
  if (align == 0)
    align = gran;
  if (!shmap__is_pow2(align) || align < gran)
    return shmap__err(SHMAP_EALIGN,
                      "window reserve: alignment 0x%" PRIx64
                      " not a power of two >= 0x%" PRIx64,
                      align, gran);
  if (size > UINT64_MAX - align || size + align > (uint64_t)SIZE_MAX)
    return shmap__err(SHMAP_EOVERFLOW,
                      "window reserve: size 0x%" PRIx64
                      " + alignment 0x%" PRIx64
                      " does not fit the address space",
                      size, align);
  shmap_window *w = calloc(1, sizeof *w);
  if (w == NULL)
    return shmap__err(SHMAP_ENOMEM, "window reserve: out of memory");
  w->size = size;
  int rc = shmap__os_window_reserve(w, align);
  if (rc != 0) {
    free(w);
    return rc;
  }
  shmap__rwlock_init(&w->lock);
  xlat_start(w);
  *out = w;
  return 0;
}

void shmap_window_release(shmap_window *w) {
  if (w == NULL)
    return;
  /* Unmap last-to-first so the table shrinks from its end (no moves), and
   * remove each entry as it goes: the backend may look at the table. */
  shmap__entry *e;
  while ((e = shmap__table_last(&w->table)) != NULL) {
    if (e->kind != SHMAP_MAPPING_EXTERNAL)
      (void)shmap__os_window_unmap(w, e);
    shmap_mappable_unref(e->m);
    shmap__table_remove(&w->table, e);
  }
  shmap__os_window_release(w);
  shmap__xlat_free(&w->xlat);
  shmap__table_free(&w->table);
  shmap__rwlock_destroy(&w->lock);
  free(w);
}

void *shmap_window_base(const shmap_window *w) {
  return w != NULL ? w->base : NULL;
}

uint64_t shmap_window_size(const shmap_window *w) {
  return w != NULL ? w->size : 0;
}

size_t shmap_window_count(const shmap_window *w) {
  if (w == NULL)
    return 0;
  shmap__rwlock_rdlock(shmap__window_lock(w));
  size_t n = w->table.n;
  shmap__rwlock_rdunlock(shmap__window_lock(w));
  return n;
}

/* Validate, find the slot, let the backend map, then record. The table has
 * room reserved before the OS is touched so that recording cannot fail
 * after the mapping exists. */
static int add(shmap_window *w, const char *what, shmap__entry *e) {
  int rc = shmap__check_range(what, e->offset, e->len, w->size,
                              shmap__os_granularity());
  if (rc != 0)
    return rc;
  shmap__rwlock_wrlock(&w->lock);
  const shmap__entry *hit = shmap__table_overlap(&w->table, e->offset, e->len);
  if (hit != NULL) {
    rc = shmap__err(SHMAP_EOVERLAP,
                    "%s: offset 0x%" PRIx64 " + length 0x%" PRIx64
                    " overlaps the existing mapping at offset 0x%" PRIx64
                    " + length 0x%" PRIx64,
                    what, e->offset, e->len, hit->offset, hit->len);
  } else if ((rc = shmap__table_reserve(&w->table)) == 0) {
    if (e->kind != SHMAP_MAPPING_EXTERNAL)
      rc = shmap__os_window_map(w, e);
    if (rc == 0) {
      xlat_add(w, e);
      (void)shmap__table_insert(&w->table, e);
    }
  }
  shmap__rwlock_wrunlock(&w->lock);
  return rc;
}

/* A read-write map of a read-only mappable fails the same way whether or not
 * its access was asked before: with the access known, up front (no system
 * call); unknown (an adopted mappable nobody asked about), the OS refuses
 * the map and read_only_refused() then asks, only on that failure path, and
 * records the same message. The common path pays nothing. */
static int refuse_read_only(const char *what) {
  return shmap__err(SHMAP_EACCES,
                    "%s: read-write mapping of a read-only mappable", what);
}

static int check_writable(const char *what, const shmap_mappable *m,
                          unsigned prot) {
  unsigned known = shmap__mappable_known_access(m);
  if ((prot & SHMAP_PROT_WRITE) && known != 0 && !(known & SHMAP_PROT_WRITE))
    return refuse_read_only(what);
  return 0;
}

static int read_only_refused(const char *what, const shmap_mappable *m,
                             unsigned prot, int rc) {
  if (rc != SHMAP_EACCES || !(prot & SHMAP_PROT_WRITE))
    return rc;
  unsigned access = shmap_mappable_access(m); /* asks the OS, caches */
  if (access != 0 && !(access & SHMAP_PROT_WRITE))
    return refuse_read_only(what);
  return rc;
}

static int check_prot(const char *what, unsigned prot, int allow_none) {
  if (prot == SHMAP_PROT_READ || prot == SHMAP_PROT_RW ||
      (allow_none && prot == SHMAP_PROT_NONE))
    return 0;
  return shmap__err(SHMAP_EINVAL, "%s: invalid protection 0x%x", what, prot);
}

SHMAP__FLATTEN int shmap_window_map(shmap_window *w, uint64_t offset,
                                    shmap_mappable *m, uint64_t file_offset,
                                    uint64_t len, unsigned prot) {
  static const char what[] = "window map";
  if (w == NULL || m == NULL)
    return shmap__err(SHMAP_EINVAL, "%s: NULL window or mappable", what);
  int rc = check_prot(what, prot, 0);
  if (rc != 0)
    return rc;
  if (len != 0 && (file_offset & (shmap__os_granularity() - 1)))
    return shmap__err(SHMAP_EALIGN,
                      "%s: file offset 0x%" PRIx64 " not aligned to 0x%" PRIx64,
                      what, file_offset, shmap__os_granularity());
  if ((rc = check_writable(what, m, prot)) != 0)
    return rc;
  /* Check the window range first so its errors win over backing errors. */
  rc = shmap__check_range(what, offset, len, w->size, shmap__os_granularity());
  if (rc != 0)
    return rc;
  rc = shmap__mappable_check_map(what, m, file_offset, len);
  if (rc != 0)
    return rc;
  shmap__entry e = {offset, len, file_offset, NULL, m, SHMAP_MAPPING_MAPPABLE,
                    prot};
  shmap_mappable_ref(m);
  rc = add(w, what, &e);
  if (rc != 0) {
    rc = read_only_refused(what, m, prot, rc);
    shmap_mappable_unref(m);
  }
  return rc;
}

int shmap_window_map_anon(shmap_window *w, uint64_t offset, uint64_t len,
                          unsigned prot) {
  static const char what[] = "window map_anon";
  if (w == NULL)
    return shmap__err(SHMAP_EINVAL, "%s: NULL window", what);
  int rc = check_prot(what, prot, 0);
  if (rc != 0)
    return rc;
  shmap__entry e = {offset, len, 0, NULL, NULL, SHMAP_MAPPING_ANON, prot};
  return add(w, what, &e);
}

int shmap_window_map_external(shmap_window *w, uint64_t offset, uint64_t len,
                              void *ptr) {
  static const char what[] = "window map_external";
  if (w == NULL || ptr == NULL)
    return shmap__err(SHMAP_EINVAL, "%s: NULL window or pointer", what);
  if ((uint64_t)(uintptr_t)ptr > UINT64_MAX - len ||
      (uintptr_t)ptr > UINTPTR_MAX - (uintptr_t)len)
    return shmap__err(SHMAP_EOVERFLOW,
                      "%s: pointer %p + length 0x%" PRIx64 " overflows", what,
                      ptr, len);
  shmap__entry e = {offset,       len, 0, ptr, NULL, SHMAP_MAPPING_EXTERNAL,
                    SHMAP_PROT_RW};
  return add(w, what, &e);
}

/* The mapping that is exactly [offset, offset+len) (valid until the table
 * next changes), or NULL with the error in *rc. */
static shmap__entry *find_exact(shmap_window *w, const char *what,
                                uint64_t offset, uint64_t len, int *rc) {
  *rc = shmap__check_range(what, offset, len, w->size, 1);
  if (*rc != 0)
    return NULL;
  shmap__entry *e = shmap__table_find(&w->table, offset);
  if (e == NULL) {
    *rc = shmap__err(SHMAP_ENOENT, "%s: nothing mapped at 0x%" PRIx64, what,
                     offset);
  } else if (e->offset != offset || e->len != len) {
    *rc = shmap__err(SHMAP_EPARTIAL,
                     "%s: 0x%" PRIx64 "+0x%" PRIx64
                     " is not the whole mapping 0x%" PRIx64 "+0x%" PRIx64,
                     what, offset, len, e->offset, e->len);
    e = NULL;
  }
  return e;
}

SHMAP__FLATTEN int shmap_window_unmap(shmap_window *w, uint64_t offset,
                                      uint64_t len) {
  static const char what[] = "window unmap";
  if (w == NULL)
    return shmap__err(SHMAP_EINVAL, "%s: NULL window", what);
  int rc;
  shmap__rwlock_wrlock(&w->lock);
  shmap__entry *e = find_exact(w, what, offset, len, &rc);
  shmap_mappable *m = NULL;
  if (e != NULL) {
    /* Out of translate's index before the OS takes the pages away: a
     * lock-free translate that starts after this cannot return the range
     * (one that started before may, as it could just before the call). */
    xlat_remove(w, e);
    if (e->kind != SHMAP_MAPPING_EXTERNAL)
      rc = shmap__os_window_unmap(w, e);
    if (rc == 0) {
      m = e->m;
      shmap__table_remove(&w->table, e);
      xlat_restart(w);
    } else {
      xlat_add(w, e); /* still mapped */
    }
  }
  shmap__rwlock_wrunlock(&w->lock);
  /* Outside the lock: the last unref closes an fd, no need to block lookups. */
  shmap_mappable_unref(m);
  return rc;
}

/* 1 when a failed shmap__os_window_map() left the range as it was: it
 * refuses with SHMAP_ELIMIT before touching anything (POSIX: the headroom
 * under the map-count limit). */
static int untouched(int rc) {
#ifdef SHMAP__OS_MAP_REPLACES
  return rc == SHMAP_ELIMIT;
#else
  (void)rc;
  return 0;
#endif
}

/* Put `m` where the mapping that is exactly [offset, offset+len) was, in one
 * step under the write lock: translate and lookup see the old mapping or the
 * new one, never nothing. Where the OS maps over an existing mapping
 * atomically (SHMAP__OS_MAP_REPLACES: POSIX MAP_FIXED) direct readers of the
 * memory never meet a hole either; elsewhere the old view is unmapped first.
 * On failure the old mapping is put back when it can be; when it cannot, it
 * leaves the table (it is no longer mapped) and the message says so. */
int shmap__window_replace(shmap_window *w, uint64_t offset, uint64_t len,
                          shmap_mappable *m, uint64_t file_offset,
                          unsigned prot) {
  static const char what[] = "window replace";
  if (w == NULL || m == NULL)
    return shmap__err(SHMAP_EINVAL, "%s: NULL window or mappable", what);
  int rc = check_prot(what, prot, 0);
  if (rc != 0)
    return rc;
  if (file_offset & (shmap__os_granularity() - 1))
    return shmap__err(SHMAP_EALIGN,
                      "%s: file offset 0x%" PRIx64 " not aligned to 0x%" PRIx64,
                      what, file_offset, shmap__os_granularity());
  if ((rc = check_writable(what, m, prot)) != 0 ||
      (rc = shmap__mappable_check_map(what, m, file_offset, len)) != 0)
    return rc;
  shmap__entry ne = {offset, len, file_offset, NULL, m, SHMAP_MAPPING_MAPPABLE,
                     prot};
  shmap_mappable *drop = m;
  shmap_mappable_ref(m);
  shmap__rwlock_wrlock(&w->lock);
  shmap__entry *e = find_exact(w, what, offset, len, &rc);
  if (e != NULL) {
    shmap__entry old = *e;
    int os_old = old.kind != SHMAP_MAPPING_EXTERNAL;
    int unmap_failed = 0;
#ifndef SHMAP__OS_MAP_REPLACES
    if (os_old && (rc = shmap__os_window_unmap(w, e)) != 0)
      unmap_failed = 1; /* still mapped: nothing changed */
#endif
    if (rc == 0 && (rc = shmap__os_window_map(w, &ne)) == 0) {
      if (!os_old)
        xlat_remove(w, &old);
      *e = ne; /* same offset: the table's order and keys hold */
      if (!os_old)
        xlat_add(w, e);
      drop = old.m;
    } else if (os_old && !unmap_failed && !untouched(rc) &&
               shmap__os_window_map(w, &old) != 0) {
      /* The old range was unmapped (or removed by the failed MAP_FIXED)
       * and cannot be mapped again: it leaves the table. */
      xlat_remove(w, &old);
      shmap__table_remove(&w->table, e);
      xlat_restart(w);
      shmap_mappable_unref(old.m);
      rc = shmap__err(rc,
                      "%s: at 0x%" PRIx64 ": the new mapping failed and the "
                      "old one could not be restored (now unmapped)",
                      what, offset);
    }
  }
  shmap__rwlock_wrunlock(&w->lock);
  shmap_mappable_unref(drop);
  return rc;
}

int shmap_window_protect(shmap_window *w, uint64_t offset, uint64_t len,
                         unsigned prot) {
  static const char what[] = "window protect";
  if (w == NULL)
    return shmap__err(SHMAP_EINVAL, "%s: NULL window", what);
  int rc = check_prot(what, prot, 1);
  if (rc != 0)
    return rc;
  shmap__rwlock_wrlock(&w->lock);
  shmap__entry *e = find_exact(w, what, offset, len, &rc);
  if (e != NULL) {
    if (e->kind == SHMAP_MAPPING_EXTERNAL)
      rc = shmap__err(SHMAP_ENOTSUP,
                      "%s: external ranges belong to their producer", what);
    else if ((prot & SHMAP_PROT_WRITE) && e->m != NULL &&
             !(shmap_mappable_access(e->m) & SHMAP_PROT_WRITE))
      rc = shmap__err(SHMAP_EACCES, "%s: write access to a read-only mappable",
                      what);
    else if ((rc = shmap__os_window_protect(w, e, prot)) == 0)
      e->prot = prot;
  }
  shmap__rwlock_wrunlock(&w->lock);
  return rc;
}

void *shmap_window_translate(const shmap_window *w, uint64_t offset,
                             uint64_t len) {
  if (w == NULL || len == 0 || offset > UINT64_MAX - len)
    return NULL;
  void *p = NULL;
  /* No lock first: a read lock costs more than the index's walk and makes
   * every translating thread write the lock's cache line (xlat.h). The lock
   * when a writer is at work, or when the window has no index. */
  if (shmap__xlat_lookup_unlocked(&w->xlat, offset, len, &p))
    return p;
  shmap__rwlock_rdlock(shmap__window_lock(w));
  if (w->xlat_on) {
    p = shmap__xlat_lookup(&w->xlat, offset, len);
  } else {
    const shmap__entry *e = shmap__table_find(&w->table, offset);
    if (e != NULL && offset + len - e->offset <= e->len)
      p = shmap__entry_host(w, e, offset);
  }
  shmap__rwlock_rdunlock(shmap__window_lock(w));
  return p;
}

static void describe(const shmap_window *w, const shmap__entry *e,
                     shmap_mapping_info *info) {
  memset(info, 0, sizeof *info);
  info->offset = e->offset;
  info->len = e->len;
  info->host = shmap__entry_host(w, e, e->offset);
  info->kind = e->kind;
  info->prot = e->prot;
  info->mappable = e->m;
  info->file_offset = e->file_offset;
}

int shmap_window_lookup(const shmap_window *w, uint64_t offset,
                        shmap_mapping_info *info) {
  if (w == NULL || info == NULL)
    return shmap__err(SHMAP_EINVAL, "window lookup: NULL argument");
  int rc = 0;
  shmap__rwlock_rdlock(shmap__window_lock(w));
  const shmap__entry *e = shmap__table_find(&w->table, offset);
  if (e == NULL)
    rc = shmap__err(SHMAP_ENOENT, "window lookup: nothing mapped at 0x%" PRIx64,
                    offset);
  else
    describe(w, e, info);
  shmap__rwlock_rdunlock(shmap__window_lock(w));
  return rc;
}

int shmap_window_foreach(const shmap_window *w, shmap_mapping_cb cb,
                         void *arg) {
  if (w == NULL || cb == NULL)
    return shmap__err(SHMAP_EINVAL, "window foreach: NULL argument");
  int rc = 0;
  shmap__rwlock_rdlock(shmap__window_lock(w));
  /* The read lock keeps the table still, so `e` stays valid across cb. */
  for (const shmap__entry *e = shmap__table_first(&w->table);
       e != NULL && rc == 0; e = shmap__table_next(&w->table, e)) {
    shmap_mapping_info info;
    describe(w, e, &info);
    rc = cb(&info, arg);
  }
  shmap__rwlock_rdunlock(shmap__window_lock(w));
  return rc;
}
