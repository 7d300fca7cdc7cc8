/* shmap benchmarks — what translate could cost with other table layouts.
 *
 *   shmap-bench --study
 *
 * Not the library: small stand-ins for the window table, built over the same
 * layout as the translate rows (n one-granule external mappings, every other
 * granule, 48-byte entries like the library's), looked up with the same
 * random sequence of offsets. Each row gives the stand-in's time against
 * shmap_window_translate measured just before, so the ratio says how much a
 * change to src/common/table.c would buy:
 *
 *   replica        rwlock + binary search over a key array: what the library
 *                  does today (checks that the stand-ins are comparable);
 *   no lock        the same search without the read lock;
 *   eytzinger      keys in breadth-first order, branch-free descent with
 *                  prefetch, no lock;
 *   radix          a three-level page-indexed table (12 bits a level) of
 *                  entry numbers, read under a sequence counter instead of a
 *                  lock: O(1) whatever n is;
 *   radix inline   the same table holding, per page, what translate needs
 *                  (host address minus offset, end of the mapping): one
 *                  dependent miss fewer, 16 bytes a page instead of 4;
 *   last hit       a one-entry cache in front of the replica, with the
 *                  random offsets (it misses nearly always) and with the
 *                  same mapping asked again (it always hits).
 *
 * Like the translate rows, the loop asks for independent offsets, so the CPU
 * overlaps consecutive lookups: that is throughput. The "chained" rows make
 * each offset depend on the previous result, which gives the latency of one
 * lookup on its own.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

typedef struct entry {
  uint64_t offset, len, file_offset;
  void *ext;
  void *m;
  unsigned kind, prot;
} entry;

#define LEVEL_BITS 12
#define LEVEL_SIZE (1u << LEVEL_BITS)

/* Per page: host = delta + offset, valid while offset + len <= end; end 0:
 * nothing mapped. */
struct page {
  uintptr_t delta;
  uint64_t end;
};

typedef struct table {
  size_t n;
  entry *v;
  uint64_t *keys;      /* keys[i] == v[i].offset, sorted */
  uint64_t *eytz;      /* keys in breadth-first order, 1-based */
  uint32_t *eytz_rank; /* eytz[k] == keys[eytz_rank[k]] */
  uint32_t ***radix;   /* [top][mid][leaf] -> entry number + 1, 0 = none */
  struct page **inl[1u << 12]; /* [top][mid] -> leaf of struct page */
  unsigned shift;              /* log2 of the granularity */
  pthread_rwlock_t lock;
  atomic_uint seq; /* even: stable; odd: a writer is changing it */
  _Atomic(const entry *) last;
} table;

static void *xcalloc(size_t n, size_t size) {
  void *p = calloc(n, size);
  if (p == NULL) {
    fputs("shmap-bench: study: out of memory\n", stderr);
    exit(1);
  }
  return p;
}

static size_t eytz_fill(table *t, size_t i, size_t k) {
  if (k <= t->n) {
    i = eytz_fill(t, i, 2 * k);
    t->eytz[k] = t->keys[i];
    t->eytz_rank[k] = (uint32_t)i;
    i = eytz_fill(t, i + 1, 2 * k + 1);
  }
  return i;
}

static void radix_set(table *t, uint64_t page, uint32_t value) {
  size_t a = (size_t)(page >> (2 * LEVEL_BITS)),
         b = (size_t)(page >> LEVEL_BITS) & (LEVEL_SIZE - 1),
         c = (size_t)page & (LEVEL_SIZE - 1);
  if (t->radix[a] == NULL)
    t->radix[a] = xcalloc(LEVEL_SIZE, sizeof *t->radix[a]);
  if (t->radix[a][b] == NULL)
    t->radix[a][b] = xcalloc(LEVEL_SIZE, sizeof *t->radix[a][b]);
  t->radix[a][b][c] = value;
}

static void inline_set(table *t, uint64_t page, const entry *e) {
  size_t a = (size_t)(page >> (2 * LEVEL_BITS)),
         b = (size_t)(page >> LEVEL_BITS) & (LEVEL_SIZE - 1),
         c = (size_t)page & (LEVEL_SIZE - 1);
  if (t->inl[a] == NULL)
    t->inl[a] = xcalloc(LEVEL_SIZE, sizeof *t->inl[a]);
  if (t->inl[a][b] == NULL)
    t->inl[a][b] = xcalloc(LEVEL_SIZE, sizeof *t->inl[a][b]);
  t->inl[a][b][c] = (struct page){(uintptr_t)e->ext - (uintptr_t)e->offset,
                                  e->offset + e->len};
}

static void build(table *t, uint64_t n, uint64_t g, void *target) {
  memset(t, 0, sizeof *t);
  t->n = (size_t)n;
  t->v = xcalloc(t->n, sizeof *t->v);
  t->keys = xcalloc(t->n, sizeof *t->keys);
  t->eytz = xcalloc(t->n + 1, sizeof *t->eytz);
  t->eytz_rank = xcalloc(t->n + 1, sizeof *t->eytz_rank);
  t->radix = xcalloc(LEVEL_SIZE, sizeof *t->radix);
  while ((1ull << t->shift) < g)
    t->shift++;
  for (size_t i = 0; i < t->n; i++) {
    t->v[i] = (entry){2 * i * g, g, 0, target, NULL, 3, 3};
    t->keys[i] = t->v[i].offset;
    /* One page a mapping here; a real table would put a mapping that covers
     * a whole lower level into the level above, as page tables do. */
    for (uint64_t p = 0; p < g >> t->shift; p++) {
      radix_set(t, (t->v[i].offset >> t->shift) + p, (uint32_t)i + 1);
      inline_set(t, (t->v[i].offset >> t->shift) + p, &t->v[i]);
    }
  }
  eytz_fill(t, 0, 1);
  pthread_rwlock_init(&t->lock, NULL);
  atomic_init(&t->seq, 0);
  atomic_init(&t->last, NULL);
}

static void destroy(table *t) {
  for (size_t a = 0; a < LEVEL_SIZE; a++)
    if (t->radix[a]) {
      for (size_t b = 0; b < LEVEL_SIZE; b++)
        free(t->radix[a][b]);
      free(t->radix[a]);
    }
  free(t->radix);
  for (size_t a = 0; a < LEVEL_SIZE; a++)
    if (t->inl[a]) {
      for (size_t b = 0; b < LEVEL_SIZE; b++)
        free(t->inl[a][b]);
      free(t->inl[a]);
    }
  free(t->eytz_rank);
  free(t->eytz);
  free(t->keys);
  free(t->v);
  pthread_rwlock_destroy(&t->lock);
}

static void *host(const entry *e, uint64_t offset, uint64_t len) {
  if (offset - e->offset >= e->len || offset + len - e->offset > e->len)
    return NULL;
  return (uint8_t *)e->ext + (offset - e->offset);
}

static const entry *by_binary_search(const table *t, uint64_t offset) {
  size_t lo = 0, hi = t->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (t->keys[mid] <= offset)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo ? &t->v[lo - 1] : NULL;
}

static const entry *by_eytzinger(const table *t, uint64_t offset) {
  size_t k = 1;
  while (k <= t->n) {
    __builtin_prefetch(t->eytz + 16 * k);
    k = 2 * k + (t->eytz[k] <= offset);
  }
  k >>= __builtin_ffsll(~(long long)k); /* first key > offset, 0: none */
  size_t above = k ? t->eytz_rank[k] : t->n;
  return above ? &t->v[above - 1] : NULL;
}

static const entry *by_radix(const table *t, uint64_t offset) {
  uint64_t page = offset >> t->shift;
  if (page >> (3 * LEVEL_BITS))
    return NULL;
  uint32_t **mid = t->radix[page >> (2 * LEVEL_BITS)];
  if (mid == NULL)
    return NULL;
  uint32_t *leaf = mid[(page >> LEVEL_BITS) & (LEVEL_SIZE - 1)];
  if (leaf == NULL)
    return NULL;
  uint32_t i = leaf[page & (LEVEL_SIZE - 1)];
  return i ? &t->v[i - 1] : NULL;
}

static void *tr_replica(table *t, uint64_t offset, uint64_t len) {
  pthread_rwlock_rdlock(&t->lock);
  const entry *e = by_binary_search(t, offset);
  void *p = e ? host(e, offset, len) : NULL;
  pthread_rwlock_unlock(&t->lock);
  return p;
}

static void *tr_nolock(table *t, uint64_t offset, uint64_t len) {
  const entry *e = by_binary_search(t, offset);
  return e ? host(e, offset, len) : NULL;
}

static void *tr_eytzinger(table *t, uint64_t offset, uint64_t len) {
  const entry *e = by_eytzinger(t, offset);
  return e ? host(e, offset, len) : NULL;
}

static void *tr_radix(table *t, uint64_t offset, uint64_t len) {
  void *p;
  unsigned s;
  do {
    s = atomic_load_explicit(&t->seq, memory_order_acquire);
    const entry *e = by_radix(t, offset);
    p = e ? host(e, offset, len) : NULL;
    atomic_thread_fence(memory_order_acquire);
  } while ((s & 1) || atomic_load_explicit(&t->seq, memory_order_relaxed) != s);
  return p;
}

static void *tr_radix_inline(table *t, uint64_t offset, uint64_t len) {
  uint64_t page = offset >> t->shift;
  void *p;
  unsigned s;
  do {
    s = atomic_load_explicit(&t->seq, memory_order_acquire);
    p = NULL;
    if (!(page >> (3 * LEVEL_BITS))) {
      struct page **mid = t->inl[page >> (2 * LEVEL_BITS)];
      struct page *leaf =
          mid ? mid[(page >> LEVEL_BITS) & (LEVEL_SIZE - 1)] : NULL;
      if (leaf) {
        struct page pg = leaf[page & (LEVEL_SIZE - 1)];
        if (offset + len <= pg.end)
          p = (void *)(pg.delta + (uintptr_t)offset);
      }
    }
    atomic_thread_fence(memory_order_acquire);
  } while ((s & 1) || atomic_load_explicit(&t->seq, memory_order_relaxed) != s);
  return p;
}

static void *tr_last_hit(table *t, uint64_t offset, uint64_t len) {
  const entry *e = atomic_load_explicit(&t->last, memory_order_acquire);
  if (e && offset - e->offset < e->len) /* a real one checks a generation */
    return host(e, offset, len);
  pthread_rwlock_rdlock(&t->lock);
  e = by_binary_search(t, offset);
  void *p = e ? host(e, offset, len) : NULL;
  if (p)
    atomic_store_explicit(&t->last, e, memory_order_release);
  pthread_rwlock_unlock(&t->lock);
  return p;
}

struct study_arg {
  table *t;
  void *(*fn)(table *, uint64_t, uint64_t);
  uint64_t n, g;
  int iters;
  int same;  /* ask for one mapping every time */
  int chain; /* each offset depends on the previous lookup's result */
};

static double run(void *p) {
  struct study_arg *a = p;
  uint64_t x = 88172645463325252ull;
  uintptr_t sink = 0;
  double t0 = bench_now_ns();
  for (int i = 0; i < a->iters; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* as the translate rows */
    uint64_t k = a->same ? a->n / 2 : x % a->n;
    uintptr_t host_p = (uintptr_t)a->fn(a->t, k * 2 * a->g + 8, 8);
    sink += host_p;
    if (a->chain) /* user pointers are below 2^63: this adds 0, but late */
      x += (uint64_t)host_p >> 63;
  }
  double ns = (bench_now_ns() - t0) / a->iters;
  if (sink == 0)
    bench_fail("study: every lookup missed");
  return ns;
}

void bench_study_translate(uint64_t n, double shmap_ns) {
  static uint8_t target[1 << 16];
  uint64_t g = shmap_map_granularity();
  table t;
  build(&t, n, g, target);
  static const struct {
    const char *name;
    void *(*fn)(table *, uint64_t, uint64_t);
    int same, chain;
  } variants[] = {
      {"replica", tr_replica, 0, 0},
      {"no lock", tr_nolock, 0, 0},
      {"eytzinger", tr_eytzinger, 0, 0},
      {"radix", tr_radix, 0, 0},
      {"last hit, random", tr_last_hit, 0, 0},
      {"last hit, same", tr_last_hit, 1, 0},
      {"replica, chained", tr_replica, 0, 1},
      {"radix, chained", tr_radix, 0, 1},
      {"radix inline", tr_radix_inline, 0, 0},
      {"radix inline, chained", tr_radix_inline, 0, 1},
  };
  for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
    struct study_arg a = {&t,
                          variants[v].fn,
                          n,
                          g,
                          bench_quick ? 10000 : 2000000,
                          variants[v].same,
                          variants[v].chain};
    char name[64];
    snprintf(name, sizeof name, "study %s, %llu mappings", variants[v].name,
             (unsigned long long)n);
    bench_add(name, bench_median(run, &a, bench_quick ? 3 : 9),
              "shmap_window_translate", shmap_ns);
  }
  destroy(&t);
}
