/* shmap — fault-safe access to window memory: reads, writes and a 64-bit
 * compare-exchange that report a fault as SHMAP_EFAULT with its offset
 * instead of killing the process (see shmap__guarded in guard.h). */
#include <inttypes.h>
#include <string.h>

#include "guard.h"
#include "internal.h"

enum { OP_READ, OP_WRITE, OP_CAS };

struct job {
  int op;
  uint8_t *host; /* set by access(): where the window bytes are */
  void *buf;     /* OP_READ destination, OP_WRITE source */
  size_t len;
  uint64_t *expected; /* OP_CAS */
  uint64_t desired;
  int swapped;
};

/* Runs under shmap__guarded: it may be abandoned at any byte. */
static void run(void *arg) {
  struct job *j = arg;
  switch (j->op) {
  case OP_READ: memcpy(j->buf, j->host, j->len); break;
  case OP_WRITE: memcpy(j->host, j->buf, j->len); break;
  default:
    j->swapped = __atomic_compare_exchange_n(
        (uint64_t *)(void *)j->host, j->expected, j->desired, 0,
        __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  }
}

/* Find the mapping holding [offset, offset+len), check it allows `need`
 * and return the host address. Called with the read lock held. */
static int locate(const shmap_window *w, const char *what, uint64_t offset,
                  uint64_t len, unsigned need, uint8_t **host) {
  if (len == 0)
    return shmap__err(SHMAP_EEMPTY, "%s: zero length", what);
  if (offset > UINT64_MAX - len)
    return shmap__err(SHMAP_EOVERFLOW,
                      "%s: 0x%" PRIx64 " + 0x%" PRIx64 " overflows", what,
                      offset, len);
  const shmap__entry *e = shmap__table_find(&w->table, offset);
  if (e == NULL)
    return shmap__err(SHMAP_ENOENT, "%s: nothing mapped at 0x%" PRIx64, what,
                      offset);
  if (offset + len - e->offset > e->len)
    return shmap__err(SHMAP_EPARTIAL,
                      "%s: 0x%" PRIx64 "+0x%" PRIx64 " runs past its mapping",
                      what, offset, len);
  if ((e->prot & need) != need)
    return shmap__err(
        SHMAP_EACCES, "%s: mapping at 0x%" PRIx64 " does not allow %s", what,
        e->offset, need & SHMAP_PROT_WRITE ? "writing" : "reading");
  *host = shmap__entry_host(w, e, offset);
  return 0;
}

/* A fault is reported where the copy touched missing memory, and a copy
 * need not go front to back (memcpy may load a buffer's tail first). What a
 * caller wants is the first byte it cannot have: probe one byte a page from
 * the start of [host, fault] and return the first that faults. Memory is
 * lost a page at a time, so a page's first byte stands for all of it. */
static void probe(void *arg) { (void)*(volatile const uint8_t *)arg; }

static uintptr_t first_missing(uintptr_t lo, uintptr_t fault) {
  uintptr_t page = (uintptr_t)shmap__os_page_size();
  for (uintptr_t p = lo; p < fault; p = (p & ~(page - 1)) + page) {
    uintptr_t at = 0;
    if (shmap__guarded(probe, (void *)p, p, p + 1, &at) == SHMAP_EFAULT)
      return p;
  }
  return fault;
}

/* Run j over [host, host+len), window offset `offset`: on a fault report
 * the first missing byte's window offset. */
static int guarded_run(const char *what, uint64_t offset, struct job *j,
                       uint64_t *fault_offset) {
  uintptr_t fault = 0, lo = (uintptr_t)j->host;
  int rc = shmap__guarded(run, j, lo, lo + j->len, &fault);
  if (rc == SHMAP_EFAULT) {
    uint64_t at = offset + (uint64_t)(first_missing(lo, fault) - lo);
    if (fault_offset != NULL)
      *fault_offset = at;
    rc = shmap__err(SHMAP_EFAULT,
                    "%s: memory at window offset 0x%" PRIx64 " is gone", what,
                    at);
  }
  return rc;
}

/* The read lock is held across the access so the mapping cannot be
 * unmapped under it; the lock belongs to this frame, not to run(), so an
 * abandoned access still releases it. */
static int guarded_access(const shmap_window *w, const char *what,
                          uint64_t offset, unsigned need, struct job *j,
                          uint64_t *fault_offset) {
  if (w == NULL)
    return shmap__err(SHMAP_EINVAL, "%s: NULL window", what);
  shmap__rwlock_rdlock(shmap__window_lock(w));
  int rc = locate(w, what, offset, j->len, need, &j->host);
  if (rc == 0)
    rc = guarded_run(what, offset, j, fault_offset);
  shmap__rwlock_rdunlock(shmap__window_lock(w));
  return rc;
}

struct copy {
  struct job j;
  const char *what;
  uint64_t *fault;
};

static int copy_piece(void *ctx, uint64_t offset, uint8_t *host, uint64_t len) {
  struct copy *c = ctx;
  c->j.host = host;
  c->j.len = (size_t)len;
  int rc = guarded_run(c->what, offset, &c->j, c->fault);
  c->j.buf = (uint8_t *)c->j.buf + len;
  return rc;
}

int shmap__window_copy(shmap_window *w, const char *what, uint64_t offset,
                       void *buf, size_t len, int write, uint64_t *fault) {
  if (w == NULL || buf == NULL)
    return shmap__err(SHMAP_EINVAL, "%s: NULL argument", what);
  struct copy c = {
      {write ? OP_WRITE : OP_READ, NULL, buf, 0, NULL, 0, 0}, what, fault};
  shmap__rwlock_rdlock(&w->lock);
  /* The walk checks the whole range before the first piece is copied, so
   * a hole or a read-only mapping fails without writing any byte. */
  int rc = shmap__window_walk(w, what, offset, len,
                              write ? SHMAP_PROT_RW : SHMAP_PROT_READ,
                              copy_piece, &c);
  shmap__rwlock_rdunlock(&w->lock);
  return rc;
}

int shmap_window_read(const shmap_window *w, uint64_t offset, void *dst,
                      size_t len, uint64_t *fault_offset) {
  if (dst == NULL)
    return shmap__err(SHMAP_EINVAL, "window read: NULL buffer");
  struct job j = {OP_READ, NULL, dst, len, NULL, 0, 0};
  return guarded_access(w, "window read", offset, SHMAP_PROT_READ, &j,
                        fault_offset);
}

int shmap_window_write(shmap_window *w, uint64_t offset, const void *src,
                       size_t len, uint64_t *fault_offset) {
  if (src == NULL)
    return shmap__err(SHMAP_EINVAL, "window write: NULL buffer");
  struct job j = {OP_WRITE, NULL, (void *)(uintptr_t)src, len, NULL, 0, 0};
  return guarded_access(w, "window write", offset, SHMAP_PROT_WRITE, &j,
                        fault_offset);
}

int shmap_window_cmpxchg64(shmap_window *w, uint64_t offset, uint64_t *expected,
                           uint64_t desired, uint64_t *fault_offset) {
  if (expected == NULL)
    return shmap__err(SHMAP_EINVAL, "window cmpxchg64: NULL expected");
  if (offset & 7)
    return shmap__err(SHMAP_EALIGN,
                      "window cmpxchg64: offset 0x%" PRIx64 " not 8-aligned",
                      offset);
  struct job j = {OP_CAS, NULL, NULL, 8, expected, desired, 0};
  int rc = guarded_access(w, "window cmpxchg64", offset, SHMAP_PROT_RW, &j,
                          fault_offset);
  if (rc == 0 && !j.swapped)
    rc = shmap__err(SHMAP_EBUSY,
                    "window cmpxchg64: value at 0x%" PRIx64 " was 0x%" PRIx64,
                    offset, *expected);
  return rc;
}
