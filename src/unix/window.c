/* shmap — Unix windows: one PROT_NONE reservation, MAP_FIXED over parts.
 *
 * Unmapping never calls munmap inside the window: it maps fresh PROT_NONE
 * anonymous memory over the range, so the addresses stay ours. A process's
 * limit on mapped areas is the OS directory's business (unix.h). */
#include <errno.h>
#include <inttypes.h>
#include <sys/mman.h>

#include "internal.h"
#include "unix.h"

#define RESERVE_FLAGS (MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE)

static int to_prot(unsigned p) {
  return (p & SHMAP_PROT_READ ? PROT_READ : 0) |
         (p & SHMAP_PROT_WRITE ? PROT_WRITE : 0);
}

/* Over-reserve by the alignment plus a page, then trim head and tail: the
 * window is aligned and has at least a page of hole on either side. The
 * holes keep the kernel from merging the reservation with a neighbour of
 * the same kind (another window: PROT_NONE, anonymous, NORESERVE), and a
 * map or unmap at a window's edge then splits or merges two areas rather
 * than three, which makes a map+unmap pair cheaper (docs/performance.md,
 * "Design choices"). */
int shmap__os_window_reserve(shmap_window *w, uint64_t align) {
  /* The OS part's own areas first, so that the window, trimmed below,
   * keeps its holes from them as from any neighbour. */
  shmap__unix_maps_start();
  size_t page = (size_t)shmap__os_page_size();
  if (w->size > (uint64_t)SIZE_MAX - align - page)
    return shmap__err(SHMAP_EOVERFLOW,
                      "window reserve: 0x%" PRIx64 " bytes do not fit",
                      w->size);
  size_t total = (size_t)(w->size + align) + page;
  uint8_t *p = mmap(NULL, total, PROT_NONE, RESERVE_FLAGS, -1, 0);
  if (p == MAP_FAILED)
    return shmap__err_sys(SHMAP_EOS, errno,
                          "window reserve: 0x%" PRIx64 " bytes", w->size);
  uintptr_t start =
      ((uintptr_t)p + page + (uintptr_t)align - 1) & ~(uintptr_t)(align - 1);
  size_t head = start - (uintptr_t)p;           /* page to align */
  size_t tail = total - head - (size_t)w->size; /* >= page */
  munmap(p, head);
  munmap((uint8_t *)start + w->size, tail);
  w->base = (uint8_t *)start;
  return 0;
}

void shmap__os_window_release(shmap_window *w) {
  munmap(w->base, (size_t)w->size);
}

/* Put inaccessible reservation back over [addr, addr+len); at the limit on
 * mapped areas, with the OS part's help. */
static int rereserve(uint8_t *addr, uint64_t len) {
  for (;;) {
    void *p =
        mmap(addr, (size_t)len, PROT_NONE, RESERVE_FLAGS | MAP_FIXED, -1, 0);
    if (p != MAP_FAILED)
      return 0;
    int err = errno;
    if (err != ENOMEM || shmap__unix_maps_relieve() == 0)
      return err;
  }
}

int shmap__os_window_map(shmap_window *w, const shmap__entry *e) {
  uint8_t *addr = w->base + e->offset;
  void *p;
  int rc = shmap__unix_maps_check(e->offset);
  if (rc != 0)
    return rc;
  if (e->kind == SHMAP_MAPPING_ANON)
    p = mmap(addr, (size_t)e->len, to_prot(e->prot),
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  else
    p = mmap(addr, (size_t)e->len, to_prot(e->prot), MAP_SHARED | MAP_FIXED,
             e->m->native, (off_t)e->file_offset);
  if (p != MAP_FAILED)
    return 0;
  int err = errno;
  /* A failed MAP_FIXED may already have removed what was there; make sure
   * the range is reserved again rather than a hole anyone could take. */
  (void)rereserve(addr, e->len);
  /* EACCES: a read-only (or write-only) fd; EPERM: a write seal. */
  return shmap__err_sys(SHMAP_EOS, err,
                        "window map: mmap of 0x%" PRIx64 " bytes at offset "
                        "0x%" PRIx64,
                        e->len, e->offset);
}

int shmap__os_window_unmap(shmap_window *w, const shmap__entry *e) {
  int err = rereserve(w->base + e->offset, e->len);
  if (err != 0)
    return shmap__err_sys(SHMAP_EOS, err, "window unmap: at offset 0x%" PRIx64,
                          e->offset);
  return 0;
}

int shmap__os_window_protect(shmap_window *w, const shmap__entry *e,
                             unsigned prot) {
  if (mprotect(w->base + e->offset, (size_t)e->len, to_prot(prot)) != 0)
    return shmap__err_sys(SHMAP_EOS, errno,
                          "window protect: at offset 0x%" PRIx64, e->offset);
  return 0;
}
