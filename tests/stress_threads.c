/* Thread safety, two cases of a bounded time each:
 *   1. 8 threads map, protect, translate and unmap in one window, checking
 *      every byte they read;
 *   2. 3 threads translate while one maps and unmaps in the same window
 *      (translate reads the index without the lock: src/common/xlat.h),
 *      checking that every answer is one the window could have given.
 * A plain program (no test framework) so that it also runs under
 * ThreadSanitizer, whose memory layout Criterion's runner does not survive;
 * the "tsan" preset builds it.
 *
 *   stress_threads [SECONDS [THREADS]]   default 1 s a case, 8 threads;
 *                                        exit 0 when every check held */
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

/* ---- case 2: translate racing with map and unmap ----
 *
 * External mappings only: they cost no system call, so the writer changes
 * the index as fast as it can, and their host pointers are made up (never
 * dereferenced) so that every mapping has a host of its own.
 *
 * The window is cut into regions of two top-level slots of the index
 * (xlat.c: a root slot spans 512 units here), and each region has a fixed
 * list of candidate mappings, at most one of them mapped at a time besides
 * the first, which is mapped for most of the time. Between them they turn
 * slots from empty to child to translation and back, across the middle
 * of the region too. Beyond them, a zone where the writer sometimes maps a
 * unit in every slot at once: each costs the index a leaf of its own, and
 * the burst pushes it over its budget, so that the window drops it, and
 * starts it again once everything is unmapped at the end of a cycle.
 *
 * The invariant a translation of [o, o+l) must keep: NULL, or host + (o -
 * start) of a candidate [start, start+len) that holds all of [o, o+l). A
 * lookup racing with a map or unmap may give the old answer or the new
 * one, never another; and while the first candidate of each region is
 * mapped for the whole call, its answer must be exact. */

enum { REGIONS = 16, ZONE = 12, CANDS = 7 };

struct cand {
  uint64_t start, len; /* units */
};

/* Candidates of the churn regions, in units from the region's start (a
 * region is 1024 units). 0: mapped for most of the time. */
static const struct cand churn_cands[CANDS] = {
    {0, 1},     {1, 1}, /* a leaf slot */
    {2, 3},             /* a few */
    {512, 512},         /* a whole root slot: stored in the root */
    {509, 8},           /* across the middle: a leaf in both root slots */
    {519, 1},           /* alone in the second root slot */
    {6, 506}};          /* most of the first root slot */
/* Zone regions: a unit in either root slot. */
static const struct cand zone_cands[2] = {{7, 1}, {512 + 7, 1}};

struct race {
  shmap_window *w;
  uint64_t unit, region; /* bytes */
  /* Odd while every region's candidate 0 is mapped: the writer moves it
   * after mapping them and before unmapping them. */
  atomic_uint epoch;
  atomic_int stop;
  long writes, cycles, failures; /* the writer's */
};

struct reader {
  struct race *r;
  uint64_t seed;
  long lookups, hits, exact, failures;
};

static uint64_t xorshift(uint64_t *x) {
  *x ^= *x << 13;
  *x ^= *x >> 7;
  *x ^= *x << 17;
  return *x;
}

/* Candidate `i` of region `reg`: 0 when there is none. */
static int cand_of(const struct race *r, uint64_t reg, unsigned i,
                   uint64_t *start, uint64_t *len, uintptr_t *host) {
  const struct cand *c;
  if (reg < REGIONS && i < CANDS)
    c = &churn_cands[i];
  else if (reg >= REGIONS && reg < REGIONS + ZONE && i < 2)
    c = &zone_cands[i];
  else
    return 0;
  *start = reg * r->region + c->start * r->unit;
  *len = c->len * r->unit;
  /* 4 GiB apart, more than the window: host - offset differs between any
   * two candidates, so that a mix-up cannot pass for a right answer. */
  *host = ((uintptr_t)1 << 44) + ((uintptr_t)(reg * CANDS + i) << 32);
  return 1;
}

static int race_map(struct race *r, uint64_t reg, unsigned i) {
  uint64_t start, len;
  uintptr_t host;
  if (!cand_of(r, reg, i, &start, &len, &host))
    return -1;
  r->writes++;
  return shmap_window_map_external(r->w, start, len, (void *)host);
}

static int race_unmap(struct race *r, uint64_t reg, unsigned i) {
  uint64_t start, len;
  uintptr_t host;
  if (!cand_of(r, reg, i, &start, &len, &host))
    return -1;
  r->writes++;
  return shmap_window_unmap(r->w, start, len);
}

/* Whether `p` may be the translation of [o, o+l). `held`: candidate 0 of
 * every churn region was mapped for the whole lookup. */
static int race_legit(const struct race *r, uint64_t o, uint64_t l,
                      const void *p, int held, int *exact) {
  uint64_t reg = o / r->region;
  *exact = 0;
  if (p == NULL) {
    uint64_t start = reg * r->region;
    return !(held && reg < REGIONS && o + l <= start + r->unit);
  }
  for (unsigned i = 0; i < CANDS; i++) {
    uint64_t start, len;
    uintptr_t host;
    if (cand_of(r, reg, i, &start, &len, &host) && o >= start &&
        o + l <= start + len && (uintptr_t)p == host + (uintptr_t)(o - start)) {
      *exact = i == 0;
      return 1;
    }
  }
  return 0;
}

static void race_writer(void *arg) {
  struct race *r = arg;
  int state[REGIONS]; /* the candidate mapped besides 0, or -1 */
  uint64_t x = 0x2545F4914F6CDD1Dull;
  while (!atomic_load(&go))
    ;
  double end = now() + seconds;
  while (now() < end) {
    for (uint64_t reg = 0; reg < REGIONS; reg++) {
      state[reg] = -1;
      if (race_map(r, reg, 0) != 0)
        r->failures++;
    }
    atomic_fetch_add(&r->epoch, 1);
    /* Late and short: with the index dropped, translate takes the read
     * lock, which readers that never let go of it keep from the writer. */
    int burst = r->cycles % 4 == 0;
    for (int k = 0; k < 400; k++) {
      if (burst && (k == 360 || k == 380))
        for (uint64_t reg = REGIONS; reg < REGIONS + ZONE; reg++)
          for (unsigned i = 0; i < 2; i++)
            if ((k == 360 ? race_map(r, reg, i) : race_unmap(r, reg, i)) != 0)
              r->failures++;
      uint64_t reg = xorshift(&x) % REGIONS;
      if (state[reg] < 0) {
        state[reg] = 1 + (int)(xorshift(&x) % (CANDS - 1));
        if (race_map(r, reg, (unsigned)state[reg]) != 0)
          r->failures++;
      } else {
        if (race_unmap(r, reg, (unsigned)state[reg]) != 0)
          r->failures++;
        state[reg] = -1;
      }
    }
    atomic_fetch_add(&r->epoch, 1);
    /* Everything, so that the window is empty and starts a new index. */
    for (uint64_t reg = 0; reg < REGIONS; reg++) {
      if (race_unmap(r, reg, 0) != 0 ||
          (state[reg] >= 0 && race_unmap(r, reg, (unsigned)state[reg]) != 0))
        r->failures++;
    }
    if (shmap_window_count(r->w) != 0)
      r->failures++;
    r->cycles++;
  }
  atomic_store(&r->stop, 1);
}

/* Units worth asking about, from a region's start: around every
 * candidate's ends, and anywhere. */
static uint64_t race_unit(uint64_t *x) {
  uint64_t k = xorshift(x) % 4;
  if (k == 0)
    return xorshift(x) % 10;
  if (k == 1)
    return 504 + xorshift(x) % 20;
  return xorshift(x) % 1024;
}

static void race_reader(void *arg) {
  struct reader *d = arg;
  struct race *r = d->r;
  uint64_t x = d->seed;
  while (!atomic_load(&go))
    ;
  while (!atomic_load(&r->stop)) {
    uint64_t reg = xorshift(&x) % (REGIONS + ZONE + 1);
    uint64_t o =
        reg * r->region + race_unit(&x) * r->unit + xorshift(&x) % r->unit;
    uint64_t l = 1 + xorshift(&x) % (2 * r->unit);
    unsigned e1 = atomic_load(&r->epoch);
    void *p = shmap_window_translate(r->w, o, l);
    unsigned e2 = atomic_load(&r->epoch);
    int exact;
    if (!race_legit(r, o, l, p, e1 == e2 && (e1 & 1), &exact)) {
      if (d->failures++ < 5)
        fprintf(stderr,
                "stress_threads: translate 0x%llx+0x%llx gave %p, which no "
                "mapping there could give (epoch %u..%u)\n",
                (unsigned long long)o, (unsigned long long)l, p, e1, e2);
    }
    d->lookups++;
    d->hits += p != NULL;
    d->exact += exact;
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
  printf("stress_threads: %d threads, %ld map/protect/translate/unmap rounds "
         "in %.1f s, every byte checked\n",
         threads, total, seconds);

  /* Case 2. The regions are two root slots of the index each: 1024 units
   * (4 MiB of 4 KiB units, 64 MiB of 64 KiB ones). */
  static struct race r;
  r.unit = G;
  r.region = 1024 * G;
  CHECK(shmap_window_reserve((REGIONS + ZONE) * r.region, 0, &r.w) == 0,
        "reserve");
  atomic_store(&go, 0);
  /* A writer among more spinning readers than there are processors barely
   * runs: three readers are enough to race with it. */
  int readers = threads > 4 ? 3 : threads > 1 ? threads - 1 : 1;
  struct reader d[THREADS];
  t[0] = test_thread_start(race_writer, &r);
  CHECK(t[0] != NULL, "starting the writer");
  for (int i = 0; i < readers; i++) {
    d[i] = (struct reader){
        &r, 0x9E3779B97F4A7C15ull * ((uint64_t)i + 1), 0, 0, 0, 0};
    t[i + 1] = test_thread_start(race_reader, &d[i]);
    CHECK(t[i + 1] != NULL, "starting reader %d", i);
  }
  atomic_store(&go, 1);
  long lookups = 0, hits = 0, exact = 0;
  failures = 0;
  for (int i = 0; i <= readers; i++)
    test_thread_join(t[i]);
  for (int i = 0; i < readers; i++) {
    lookups += d[i].lookups;
    hits += d[i].hits;
    exact += d[i].exact;
    failures += d[i].failures;
  }
  CHECK(r.failures == 0, "the writer saw %ld failures", r.failures);
  CHECK(failures == 0, "%ld wrong translations", failures);
  CHECK(r.cycles > 0 && lookups > 0, "nothing ran");
  shmap_window_release(r.w);
  CHECK(test_handle_count() == fds, "descriptor count changed");
  printf("stress_threads: %d readers, %ld translations (%ld found, %ld of "
         "the held mappings) against %ld maps and unmaps in %ld cycles in "
         "%.1f s, every answer checked\n",
         readers, lookups, hits, exact, r.writes, r.cycles, seconds);
  return 0;
}
