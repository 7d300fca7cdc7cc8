/* shmap — guest ranges as host segments: what a device does with every
 * descriptor buffer. A range may cross adjacent mappings; it is checked
 * whole (holes, protection, window bounds) before anything is returned or
 * copied, so a refusal has no effect. */
#include <inttypes.h>

#include "internal.h"

int shmap__window_walk(const shmap_window *w, const char *what, uint64_t offset,
                       uint64_t len, unsigned prot, shmap__piece_fn fn,
                       void *ctx) {
  if (prot != SHMAP_PROT_READ && prot != SHMAP_PROT_RW)
    return shmap__err(SHMAP_EINVAL, "%s: access %u is neither READ nor RW",
                      what, prot);
  if (len == 0)
    return shmap__err(SHMAP_EEMPTY, "%s: zero length", what);
  if (offset > UINT64_MAX - len)
    return shmap__err(SHMAP_EOVERFLOW,
                      "%s: 0x%" PRIx64 " + 0x%" PRIx64 " overflows", what,
                      offset, len);
  if (offset + len > w->size)
    return shmap__err(SHMAP_ERANGE,
                      "%s: 0x%" PRIx64 "+0x%" PRIx64
                      " runs past the window's 0x%" PRIx64 " bytes",
                      what, offset, len, w->size);
  /* Pass 0 checks, pass 1 hands out the pieces. */
  int passes = fn == NULL ? 1 : 2;
  for (int pass = 0; pass < passes; pass++) {
    uint64_t at = offset, end = offset + len, piece_at = 0, piece_len = 0;
    uint8_t *piece = NULL;
    const shmap__entry *e = shmap__table_find(&w->table, offset);
    while (at < end) {
      if (e == NULL || at < e->offset || at - e->offset >= e->len)
        return shmap__err(SHMAP_ENOENT,
                          "%s: 0x%" PRIx64 "+0x%" PRIx64
                          " has a hole: nothing is mapped at 0x%" PRIx64,
                          what, offset, len, at);
      if ((e->prot & prot) != prot)
        return shmap__err(SHMAP_EACCES,
                          "%s: the mapping at 0x%" PRIx64 "+0x%" PRIx64
                          " does not allow %s",
                          what, e->offset, e->len,
                          prot & SHMAP_PROT_WRITE ? "writing" : "reading");
      uint64_t n = e->len - (at - e->offset);
      n = n < end - at ? n : end - at;
      uint8_t *host = shmap__entry_host(w, e, at);
      if (pass == 1) {
        if (piece != NULL && piece + piece_len == host) {
          piece_len += n;
        } else {
          int rc = piece != NULL ? fn(ctx, piece_at, piece, piece_len) : 0;
          if (rc != 0)
            return rc;
          piece = host;
          piece_at = at;
          piece_len = n;
        }
      }
      at += n;
      e = at < end ? shmap__table_next(&w->table, e) : NULL;
    }
    if (pass == 1)
      return fn(ctx, piece_at, piece, piece_len);
  }
  return 0;
}

struct collect {
  const char *what;
  shmap_segment *segs;
  size_t max, n;
};

static int collect_piece(void *ctx, uint64_t offset, uint8_t *host,
                         uint64_t len) {
  struct collect *c = ctx;
  /* Pieces of consecutive calls (segments_uaddr) may touch too. */
  if (c->n > 0) {
    shmap_segment *last = &c->segs[c->n - 1];
    if ((uint8_t *)last->host + last->len == host &&
        last->offset + last->len == offset) {
      last->len += len;
      return 0;
    }
  }
  if (c->n == c->max)
    return shmap__err(SHMAP_ELIMIT, "%s: more than %zu segments", c->what,
                      c->max);
  c->segs[c->n++] = (shmap_segment){offset, host, len};
  return 0;
}

static int segments_in(const shmap_window *w, struct collect *c,
                       uint64_t offset, uint64_t len, unsigned prot) {
  shmap__rwlock_rdlock(shmap__window_lock(w));
  int rc = shmap__window_walk(w, c->what, offset, len, prot, collect_piece, c);
  shmap__rwlock_rdunlock(shmap__window_lock(w));
  return rc;
}

int shmap_window_segments(const shmap_window *w, uint64_t offset, uint64_t len,
                          unsigned prot, shmap_segment *segs, size_t max,
                          size_t *n) {
  if (n != NULL)
    *n = 0;
  if (w == NULL || segs == NULL || n == NULL)
    return shmap__err(SHMAP_EINVAL, "window segments: NULL argument");
  struct collect c = {"window segments", segs, max, 0};
  int rc = segments_in(w, &c, offset, len, prot);
  if (rc == 0)
    *n = c.n;
  return rc;
}

int shmap_backend_segments(const shmap_backend *be, uint64_t gpa, uint64_t len,
                           unsigned prot, shmap_segment *segs, size_t max,
                           size_t *n) {
  if (n != NULL)
    *n = 0;
  if (be == NULL || segs == NULL || n == NULL)
    return shmap__err(SHMAP_EINVAL, "backend segments: NULL argument");
  struct collect c = {"backend segments", segs, max, 0};
  int rc = segments_in(shmap__backend_guest(be), &c, gpa, len, prot);
  if (rc == 0)
    *n = c.n;
  return rc;
}

int shmap_backend_segments_uaddr(const shmap_backend *be, uint64_t uaddr,
                                 uint64_t len, unsigned prot,
                                 shmap_segment *segs, size_t max, size_t *n) {
  if (n != NULL)
    *n = 0;
  if (be == NULL || segs == NULL || n == NULL)
    return shmap__err(SHMAP_EINVAL, "backend segments_uaddr: NULL argument");
  if (len == 0)
    return shmap__err(SHMAP_EEMPTY, "backend segments_uaddr: zero length");
  if (uaddr > UINT64_MAX - len)
    return shmap__err(SHMAP_EOVERFLOW,
                      "backend segments_uaddr: 0x%" PRIx64 " + 0x%" PRIx64
                      " overflows",
                      uaddr, len);
  struct collect c = {"backend segments_uaddr", segs, max, 0};
  uint64_t at = uaddr, end = uaddr + len;
  while (at < end) {
    uint64_t gpa, room;
    if (!shmap__backend_uaddr(be, at, &gpa, &room))
      return shmap__err(SHMAP_ENOENT,
                        "backend segments_uaddr: front-end address 0x%" PRIx64
                        " (of 0x%" PRIx64 "+0x%" PRIx64 ") is in no region",
                        at, uaddr, len);
    uint64_t k = room < end - at ? room : end - at;
    int rc = segments_in(shmap__backend_guest(be), &c, gpa, k, prot);
    if (rc != 0)
      return rc;
    at += k;
  }
  *n = c.n;
  return 0;
}

int shmap_backend_read(const shmap_backend *be, uint64_t gpa, void *dst,
                       size_t len, uint64_t *fault_gpa) {
  if (be == NULL)
    return shmap__err(SHMAP_EINVAL, "backend read: NULL back end");
  return shmap__window_copy(shmap__backend_guest(be), "backend read", gpa, dst,
                            len, 0, fault_gpa);
}

int shmap_backend_write(const shmap_backend *be, uint64_t gpa, const void *src,
                        size_t len, uint64_t *fault_gpa) {
  if (be == NULL)
    return shmap__err(SHMAP_EINVAL, "backend write: NULL back end");
  return shmap__window_copy(shmap__backend_guest(be), "backend write", gpa,
                            (void *)(uintptr_t)src, len, 1, fault_gpa);
}
