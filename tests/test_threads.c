/* Thread safety: threads map, translate and unmap in one window at once. */
#include <pthread.h>

#include "support.h"

#define G shmap_map_granularity()
enum { THREADS = 4, SLOTS = 64, ROUNDS = 200 };

struct ctx {
  shmap_window *w;
  shmap_mappable *m;
  int id;
  int failures;
};

/* Each thread owns its own slots, so every byte it reads must be its own
 * pattern; a lookup of another thread's slot only has to be consistent. */
static void *worker(void *arg) {
  struct ctx *c = arg;
  for (int r = 0; r < ROUNDS; r++) {
    uint64_t slot = (uint64_t)(c->id * SLOTS + (r % SLOTS));
    if (shmap_window_map(c->w, slot * G, c->m, slot * G, G, SHMAP_PROT_RW) != 0) {
      c->failures++;
      continue;
    }
    uint32_t *p = shmap_window_translate(c->w, slot * G, G);
    if (p == NULL) {
      c->failures++;
      continue;
    }
    p[0] = (uint32_t)(c->id * 1000000 + r);
    if (p[0] != (uint32_t)(c->id * 1000000 + r))
      c->failures++;
    (void)shmap_window_translate(c->w, ((slot + SLOTS) % (THREADS * SLOTS)) * G, 4);
    if (shmap_window_unmap(c->w, slot * G, G) != 0)
      c->failures++;
  }
  return NULL;
}

SHMAP_TEST(threads, concurrent_map_translate_unmap) {
  shmap_mappable *m;
  ASSERT_OK(shmap_mappable_create(THREADS * SLOTS * G, 0, &m));
  shmap_window *w;
  ASSERT_OK(shmap_window_reserve(THREADS * SLOTS * G, 0, &w));
  pthread_t t[THREADS];
  struct ctx c[THREADS];
  for (int i = 0; i < THREADS; i++) {
    c[i] = (struct ctx){w, m, i, 0};
    cr_assert_eq(pthread_create(&t[i], NULL, worker, &c[i]), 0);
  }
  for (int i = 0; i < THREADS; i++) {
    pthread_join(t[i], NULL);
    cr_assert_eq(c[i].failures, 0, "thread %d saw %d failures", i, c[i].failures);
  }
  cr_assert_eq(shmap_window_count(w), 0);
  shmap_window_release(w);
  shmap_mappable_unref(m);
}
