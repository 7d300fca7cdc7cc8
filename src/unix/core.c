/* shmap — POSIX basics: page size, errno, locks, closing descriptors. */
#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

int shmap__os_last_error(void) { return errno; }

uint64_t shmap__os_page_size(void) {
  /* sysconf is cheap but not free; the answer never changes. */
  static _Atomic uint64_t cached;
  uint64_t v = atomic_load_explicit(&cached, memory_order_relaxed);
  if (v == 0) {
    long ps = sysconf(_SC_PAGESIZE);
    v = ps > 0 ? (uint64_t)ps : 4096;
    atomic_store_explicit(&cached, v, memory_order_relaxed);
  }
  return v;
}

uint64_t shmap__os_granularity(void) { return shmap__os_page_size(); }

void shmap__rwlock_init(shmap__rwlock *l) { pthread_rwlock_init(l, NULL); }
void shmap__rwlock_destroy(shmap__rwlock *l) { pthread_rwlock_destroy(l); }
void shmap__rwlock_rdlock(shmap__rwlock *l) { pthread_rwlock_rdlock(l); }
void shmap__rwlock_rdunlock(shmap__rwlock *l) { pthread_rwlock_unlock(l); }
void shmap__rwlock_wrlock(shmap__rwlock *l) { pthread_rwlock_wrlock(l); }
void shmap__rwlock_wrunlock(shmap__rwlock *l) { pthread_rwlock_unlock(l); }

void shmap_native_close(shmap_native_t native) {
  if (native < 0)
    return;
  /* Linux closes the descriptor even when close() reports EINTR, so it must
   * not be retried (that could close a descriptor another thread just got). */
  int saved = errno;
  (void)close(native);
  errno = saved;
}

uint64_t shmap_time_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
