/* shmap — headroom under Linux's limit on a process's mapped areas, for
 * src/unix/window.c (unix.h).
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
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>

#include "internal.h"
#include "unix.h"

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

void shmap__unix_maps_start(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  (void)pthread_once(&once, headroom_init);
}

/* Give back up to two pages; returns how many went. */
int shmap__unix_maps_relieve(void) {
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

int shmap__unix_maps_check(uint64_t offset) {
  if (atomic_load_explicit(&hr_missing, memory_order_relaxed) == 0 ||
      headroom_refill() == 0)
    return 0;
  return shmap__err_os(SHMAP_ELIMIT, ENOMEM,
                       "window map: at offset 0x%" PRIx64 ": the process "
                       "is within %d areas of its map-count limit "
                       "(vm.max_map_count), kept so that unmaps still work",
                       offset, HEADROOM);
}
