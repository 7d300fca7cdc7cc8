/* shmap — POSIX windows: one PROT_NONE reservation, MAP_FIXED over parts.
 *
 * Unmapping never calls munmap inside the window: it maps fresh PROT_NONE
 * anonymous memory over the range, so the addresses stay ours. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>

#include "internal.h"

#define RESERVE_FLAGS (MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE)

static int to_prot(unsigned p) {
  return (p & SHMAP_PROT_READ ? PROT_READ : 0) |
         (p & SHMAP_PROT_WRITE ? PROT_WRITE : 0);
}

/* ---- headroom under the process's map-count limit ----
 *
 * Linux caps the areas of a process (vm.max_map_count). A map splits the
 * reservation it lands in; an unmap normally merges the range back, but when
 * the kernel had merged neighbouring mappings of one file at contiguous
 * offsets into one area, unmapping one of them splits that area and needs up
 * to two more entries. At the limit such an unmap failed with ENOMEM, and
 * nothing could be given back. So the process keeps HEADROOM areas of its
 * own (one page each, alternating protections so that none merge): an
 * unmap that meets ENOMEM gives two back and tries again, and while any is
 * missing and cannot be taken again a new map is refused. No count of
 * /proc/self/maps is needed: the kernel says when the limit is near. */
#define HEADROOM 64

static pthread_mutex_t hr_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t *hr_base;                /* HEADROOM + 2 pages, or NULL */
static unsigned char hr_gone[HEADROOM]; /* 1: page given back */
static atomic_int hr_missing;           /* pages given back, not retaken */

static int hr_prot(size_t i) { return i & 1 ? PROT_READ : PROT_NONE; }

/* Pages 1..HEADROOM of the area; 0 and HEADROOM+1 only keep them from
 * merging with whatever the kernel places beside it. */
static void headroom_init(void) {
  size_t page = (size_t)shmap__os_page_size();
  uint8_t *p = mmap(NULL, (HEADROOM + 2) * page, PROT_NONE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED)
    return;
  for (size_t i = 1; i <= HEADROOM; i += 2)
    (void)mprotect(p + i * page, page, PROT_READ);
  hr_base = p;
}

static void headroom_start(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  (void)pthread_once(&once, headroom_init);
}

/* Give back up to two pages; returns how many went. */
static int headroom_release(void) {
  size_t page = (size_t)shmap__os_page_size();
  int n = 0;
  pthread_mutex_lock(&hr_lock);
  for (size_t i = 0; i < HEADROOM && n < 2 && hr_base != NULL; i++) {
    if (hr_gone[i])
      continue;
    if (munmap(hr_base + (i + 1) * page, page) == 0) {
      hr_gone[i] = 1;
      n++;
    }
  }
  atomic_fetch_add(&hr_missing, n);
  pthread_mutex_unlock(&hr_lock);
  return n;
}

/* Take given-back pages again; 0 when the headroom is whole. */
static int headroom_refill(void) {
  size_t page = (size_t)shmap__os_page_size();
  pthread_mutex_lock(&hr_lock);
  for (size_t i = 0; i < HEADROOM; i++) {
    if (!hr_gone[i])
      continue;
    uint8_t *a = hr_base + (i + 1) * page;
    void *p = mmap(a, page, hr_prot(i + 1),
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == a) {
      hr_gone[i] = 0;
      atomic_fetch_sub(&hr_missing, 1);
    } else {
      if (p != MAP_FAILED)
        munmap(p, page); /* an old kernel ignored NOREPLACE */
      if (p != MAP_FAILED || errno == EEXIST) {
        /* Someone else has the page now: forget it. */
        hr_gone[i] = 0;
        atomic_fetch_sub(&hr_missing, 1);
        continue;
      }
      break; /* ENOMEM: still at the limit */
    }
  }
  int missing = atomic_load(&hr_missing);
  pthread_mutex_unlock(&hr_lock);
  return missing;
}

/* Over-reserve by the alignment plus a page, then trim head and tail: the
 * window is aligned and has at least a page of hole on either side. The
 * holes keep the kernel from merging the reservation with a neighbour of
 * the same kind (another window: PROT_NONE, anonymous, NORESERVE), and a
 * map or unmap at a window's edge then splits or merges two areas rather
 * than three, which makes a map+unmap pair cheaper (docs/performance.md,
 * "Design choices"). */
int shmap__os_window_reserve(shmap_window *w, uint64_t align) {
  /* The headroom's area first, so that the window, trimmed below, keeps
   * its holes from it as from any neighbour. */
  headroom_start();
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

/* Put inaccessible reservation back over [addr, addr+len); at the map-count
 * limit, with the headroom's help. */
static int rereserve(uint8_t *addr, uint64_t len) {
  for (;;) {
    void *p =
        mmap(addr, (size_t)len, PROT_NONE, RESERVE_FLAGS | MAP_FIXED, -1, 0);
    if (p != MAP_FAILED)
      return 0;
    int err = errno;
    if (err != ENOMEM || headroom_release() == 0)
      return err;
  }
}

int shmap__os_window_map(shmap_window *w, const shmap__entry *e) {
  uint8_t *addr = w->base + e->offset;
  void *p;
  if (atomic_load_explicit(&hr_missing, memory_order_relaxed) != 0 &&
      headroom_refill() != 0)
    return shmap__err_os(SHMAP_ELIMIT, ENOMEM,
                         "window map: at offset 0x%" PRIx64 ": the process "
                         "is within %d areas of its map-count limit "
                         "(vm.max_map_count), kept so that unmaps still work",
                         e->offset, HEADROOM);
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
