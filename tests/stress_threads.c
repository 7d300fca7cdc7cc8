/* Thread safety: 8 threads map, protect, translate and unmap in one window
 * for a bounded time, checking every byte they read. A plain program (no
 * test framework) so that it also runs under ThreadSanitizer, whose memory
 * layout Criterion's runner does not survive; the "tsan" preset builds it.
 *
 *   stress_threads [SECONDS [THREADS]]   default 1 s, 8 threads; exit 0
 *                                        when every check held */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "support.h"

#define G shmap_map_granularity()
enum { THREADS = 8, SLOTS = 32 };
static double seconds = 1.0;
/* Threads start mapping together, once all exist: on Windows' fallback path
 * a new thread's stack could otherwise land in a hole the window opened for
 * a moment (a limit of that path, documented; not what this test is for). */
static atomic_int go;

struct ctx {
  shmap_window *w;
  shmap_mappable *m;
  int id;
  long rounds;
  long failures;
};

static double now(void) { return (double)shmap_time_ns() * 1e-9; }

/* Each thread owns its slots: every byte it reads there must be the pattern
 * it wrote. A peek into another thread's slot only has to be consistent:
 * NULL, or a pointer inside that slot. */
static void worker(void *arg) {
  struct ctx *c = arg;
  while (!atomic_load(&go))
    ;
  double end = now() + seconds;
  for (long r = 0; now() < end; r++) {
    uint64_t slot = (uint64_t)c->id * SLOTS + (uint64_t)(r % SLOTS);
    uint32_t seed = (uint32_t)(c->id * 100000 + r);
    if (shmap_window_map(c->w, slot * G, c->m, slot * G, G, SHMAP_PROT_RW) !=
        0) {
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
}

#define CHECK(cond, ...)                                                       \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "stress_threads: " __VA_ARGS__);                         \
      fprintf(stderr, " (%s)\n", shmap_last_message());                        \
      return 1;                                                                \
    }                                                                          \
  } while (0)

int main(int argc, char **argv) {
  if (argc > 1)
    seconds = atof(argv[1]);
  int threads = argc > 2 ? atoi(argv[2]) : THREADS;
  if (threads < 1 || threads > THREADS)
    threads = THREADS;
  long fds = test_handle_count();
  shmap_mappable *m;
  CHECK(shmap_mappable_create(THREADS * SLOTS * G, 0, &m) == 0, "create");
  shmap_window *w;
  CHECK(shmap_window_reserve(THREADS * SLOTS * G, 0, &w) == 0, "reserve");
  test_thread *t[THREADS];
  struct ctx c[THREADS];
  for (int i = 0; i < threads; i++) {
    c[i] = (struct ctx){w, m, i, 0, 0};
    t[i] = test_thread_start(worker, &c[i]);
    CHECK(t[i] != NULL, "starting thread %d", i);
  }
  atomic_store(&go, 1);
  long total = 0, failures = 0;
  for (int i = 0; i < threads; i++) {
    test_thread_join(t[i]);
    if (c[i].failures != 0 || c[i].rounds == 0)
      fprintf(stderr, "thread %d: %ld rounds, %ld failures\n", i, c[i].rounds,
              c[i].failures);
    failures += c[i].failures + (c[i].rounds == 0);
    total += c[i].rounds;
  }
  CHECK(failures == 0, "%ld failures", failures);
  CHECK(shmap_window_count(w) == 0, "mappings left behind");
  CHECK(
      test_range_reserved(shmap_window_base(w), (size_t)(THREADS * SLOTS * G)),
      "window not fully reserved after the run");
  shmap_window_release(w);
  shmap_mappable_unref(m);
  CHECK(test_handle_count() == fds, "descriptor count changed");
  printf("stress_threads: %d threads, %ld map/protect/translate/unmap rounds "
         "in %.1f s, every byte checked\n",
         threads, total, seconds);
  return 0;
}
