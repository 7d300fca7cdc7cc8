/* Thread safety: 8 threads map, protect, translate and unmap in one window
 * for a bounded time, checking every byte they read. Built with TSan by the
 * "tsan" preset. */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "support.h"

#define G shmap_map_granularity()
enum { THREADS = 8, SLOTS = 32 };

struct ctx {
  shmap_window *w;
  shmap_mappable *m;
  int id;
  long rounds;
  long failures;
};

static double now(void) {
  struct timespec ts;
  timespec_get(&ts, TIME_UTC);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Each thread owns its slots: every byte it reads there must be the pattern
 * it wrote. A peek into another thread's slot only has to be consistent:
 * NULL, or a pointer inside that slot. */
static void *worker(void *arg) {
  struct ctx *c = arg;
  double end = now() + 1.0;
  for (long r = 0; now() < end; r++) {
    uint64_t slot = (uint64_t)c->id * SLOTS + (uint64_t)(r % SLOTS);
    uint32_t seed = (uint32_t)(c->id * 100000 + r);
    if (shmap_window_map(c->w, slot * G, c->m, slot * G, G, SHMAP_PROT_RW) != 0) {
      c->failures++;
      continue;
    }
    uint8_t *p = shmap_window_translate(c->w, slot * G, G);
    if (p == NULL) {
      c->failures++;
      continue;
    }
    test_fill(p, 256, seed);
    if (shmap_window_protect(c->w, slot * G, G, SHMAP_PROT_READ) != 0 ||
        test_check(p, 256, seed) != (size_t)-1)
      c->failures++;
    uint64_t other = (slot + SLOTS) % (THREADS * SLOTS);
    uint8_t *q = shmap_window_translate(c->w, other * G + 8, 8);
    if (q != NULL && q != (uint8_t *)shmap_window_base(c->w) + other * G + 8)
      c->failures++;
    if (shmap_window_unmap(c->w, slot * G, G) != 0)
      c->failures++;
    c->rounds++;
  }
  return NULL;
}

SHMAP_TEST(threads, concurrent_map_protect_translate_unmap) {
  shmap_mappable *m;
  ASSERT_OK(shmap_mappable_create(THREADS * SLOTS * G, 0, &m));
  shmap_window *w;
  ASSERT_OK(shmap_window_reserve(THREADS * SLOTS * G, 0, &w));
  pthread_t t[THREADS];
  struct ctx c[THREADS];
  for (int i = 0; i < THREADS; i++) {
    c[i] = (struct ctx){w, m, i, 0, 0};
    cr_assert_eq(pthread_create(&t[i], NULL, worker, &c[i]), 0);
  }
  long total = 0;
  for (int i = 0; i < THREADS; i++) {
    pthread_join(t[i], NULL);
    cr_assert_eq(c[i].failures, 0, "thread %d: %ld failures", i, c[i].failures);
    cr_assert(c[i].rounds > 0, "thread %d never ran", i);
    total += c[i].rounds;
  }
  (void)total;
  cr_assert_eq(shmap_window_count(w), 0);
  cr_assert(test_range_reserved(shmap_window_base(w), (size_t)(THREADS * SLOTS * G)));
  shmap_window_release(w);
  shmap_mappable_unref(m);
}
