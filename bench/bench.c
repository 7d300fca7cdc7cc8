/* shmap benchmarks: the library against the bare system calls it wraps.
 *
 *   shmap-bench [--json] [--quick] [--study]
 *
 * Rows: map+unmap and create+map+unmap of 4 KiB / 2 MiB / 1 GiB, the
 * ADD_MEM_REG(+REM) and EXTERNAL_MAP(+SHMEM_UNMAP) round trips, translate
 * at 10 to 100,000 mappings (at 1,000 and 100,000 also from 1, 2 and, with
 * more processors, one thread a processor at once), and 60,000 live
 * mappings. Where the build found them, peer libraries do the same jobs in
 * the same run: GLib/GIO passes the descriptor of the ADD_MEM_REG exchange,
 * Boost.Interprocess creates and maps shared memory (peers.h). --study adds
 * stand-in table layouts for translate (study_translate.c). Benchmarks are
 * not tests: the suite runs them with --quick only to prove they work. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "peers.h"

int bench_quick;
static bench_row rows[128];
static int nrows;

_Noreturn void bench_fail(const char *what) {
  fprintf(stderr, "shmap-bench: %s failed: %s\n", what, shmap_last_message());
  exit(1);
}

void bench_add(const char *name, double ours, const char *baseline,
               double base_ns) {
  if (nrows == (int)(sizeof rows / sizeof rows[0])) {
    fputs("shmap-bench: too many rows\n", stderr);
    exit(1);
  }
  bench_row *r = &rows[nrows++];
  snprintf(r->name, sizeof r->name, "%s", name);
  snprintf(r->baseline, sizeof r->baseline, "%s", baseline);
  r->ours_ns = ours;
  r->baseline_ns = base_ns;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

double bench_median(double (*fn)(void *), void *arg, int rounds) {
  double v[BENCH_MAX_ROUNDS];
  if (rounds > BENCH_MAX_ROUNDS)
    rounds = BENCH_MAX_ROUNDS;
  for (int i = 0; i < rounds; i++)
    v[i] = fn(arg);
  qsort(v, (size_t)rounds, sizeof v[0], cmp);
  return v[rounds / 2];
}

void bench_medians(double (*const fn[])(void *), int k, void *arg, int rounds,
                   double *out) {
  double v[8][BENCH_MAX_ROUNDS];
  if (rounds > BENCH_MAX_ROUNDS)
    rounds = BENCH_MAX_ROUNDS;
  if (k > 8)
    k = 8;
  for (int r = 0; r < rounds; r++)
    for (int j = 0; j < k; j++) {
      int f = (r + j) % k; /* each function goes first in turn */
      v[f][r] = fn[f](arg);
    }
  for (int f = 0; f < k; f++) {
    qsort(v[f], (size_t)rounds, sizeof v[f][0], cmp);
    out[f] = v[f][rounds / 2];
  }
}

static int rounds(void) { return bench_quick ? 3 : 9; }
/* The round trips: many short rounds rather than a few long ones. A round
 * of a few milliseconds leaves little time for the machine to change under
 * one contender and not the others, and the median of 33 shrugs off the
 * rounds that a burst of outside load does hit. */
static int short_rounds(void) { return bench_quick ? 3 : 33; }

#if defined(SHMAP_BENCH_GLIB) || defined(SHMAP_BENCH_BOOST)
/* A peer's figure, or the end of the run if the peer failed (it said why). */
static double peer_checked(double ns, const char *peer) {
  if (ns < 0) {
    fprintf(stderr, "shmap-bench: the %s peer failed\n", peer);
    exit(1);
  }
  return ns;
}
#endif

/* ---- map + unmap ---- */

/* Every round of the library's side reserves its window and releases it
 * at the end, as every round of the bare side does with its range: both
 * then land in the same free address space. Where a range sits changes
 * what mapping it costs (page tables kept or freed; under Wine a 1 GiB
 * cycle differs by a third), and a window kept for the whole row would
 * push the bare range elsewhere. */
static shmap_window *round_window(uint64_t size) {
  shmap_window *w;
  if (shmap_window_reserve(size, 0, &w) != 0)
    bench_fail("window reserve");
  return w;
}

struct map_arg {
  uint64_t len;
  int iters;
  uint64_t off; /* where the range goes in a window of len + 2 * off */
  shmap_mappable *m;
};

static void lib_cycle(shmap_window *w, const struct map_arg *a, int i) {
  if (shmap_window_map(w, a->off, a->m, 0, a->len, SHMAP_PROT_RW) != 0)
    bench_fail("window map");
  ((uint8_t *)shmap_window_base(w))[a->off] = (uint8_t)i;
  if (shmap_window_unmap(w, a->off, a->len) != 0)
    bench_fail("window unmap");
}

static double lib_map_unmap(void *p) {
  struct map_arg *a = p;
  shmap_window *w = round_window(a->len + 2 * a->off);
  lib_cycle(w, a, 0); /* one cycle off the clock, as the bare side does */
  double t0 = bench_now_ns();
  for (int i = 0; i < a->iters; i++)
    lib_cycle(w, a, i);
  double ns = (bench_now_ns() - t0) / a->iters;
  shmap_window_release(w);
  return ns;
}

static double bare_map_unmap(void *p) {
  struct map_arg *a = p;
#ifdef _WIN32
  if (a->off != 0)
    return bench_bare_map_unmap_inside(a->len, a->iters);
#endif
  return bench_bare_map_unmap(a->len, a->iters);
}

/* `off` != 0 (Windows only): the range with `off` bytes of the window on
 * either side, so that the placeholder path splits and coalesces on every
 * cycle. */
static void bench_map(uint64_t len, uint64_t off, const char *name) {
  struct map_arg a = {len, bench_quick ? 20 : 500, off, NULL};
  if (shmap_mappable_create(len, 0, &a.m) != 0)
    bench_fail("setup");
  double (*const fn[])(void *) = {bare_map_unmap, lib_map_unmap};
  double t[2];
  bench_medians(fn, 2, &a, rounds(), t);
  bench_add(name, t[1], bench_bare_name(BENCH_BARE_MAP), t[0]);
  shmap_mappable_unref(a.m);
}

/* ---- create + map + unmap: a fresh mappable each time ---- */

static double lib_create_map_unmap(void *p) {
  struct map_arg *a = p;
  shmap_window *w = round_window(a->len); /* per round: see round_window */
  double t0 = bench_now_ns();
  for (int i = 0; i < a->iters; i++) {
    shmap_mappable *m;
    if (shmap_mappable_create(a->len, 0, &m) != 0)
      bench_fail("mappable create");
    if (shmap_window_map(w, 0, m, 0, a->len, SHMAP_PROT_RW) != 0)
      bench_fail("window map");
    ((uint8_t *)shmap_window_base(w))[0] = (uint8_t)i;
    if (shmap_window_unmap(w, 0, a->len) != 0)
      bench_fail("window unmap");
    shmap_mappable_unref(m);
  }
  double ns = (bench_now_ns() - t0) / a->iters;
  shmap_window_release(w);
  return ns;
}

static double bare_create_map_unmap(void *p) {
  struct map_arg *a = p;
  return bench_bare_create_map_unmap(a->len, a->iters);
}

#ifdef SHMAP_BENCH_BOOST
static double boost_create_map_unmap(void *p) {
  struct map_arg *a = p;
  return peer_checked(bench_peer_boost_create_map_unmap(a->len, a->iters),
                      "boost.interprocess");
}
#endif

static void bench_create(uint64_t len, const char *name) {
  struct map_arg a = {len, bench_quick ? 20 : 500, 0, NULL};
  double (*const fn[])(void *) = {
      bare_create_map_unmap,
      lib_create_map_unmap,
#ifdef SHMAP_BENCH_BOOST
      boost_create_map_unmap,
#endif
  };
  double t[3];
  bench_medians(fn, (int)(sizeof fn / sizeof fn[0]), &a, rounds(), t);
  bench_add(name, t[1], bench_bare_name(BENCH_BARE_CREATE), t[0]);
#ifdef SHMAP_BENCH_BOOST
  bench_add(name, t[1], "boost.interprocess", t[2]);
#endif
}

/* ---- round trips over a channel pair, both ends in this thread ---- */

struct rt_arg {
  int iters;
  shmap_channel *front, *back;
  /* The back-end request socket: SHMEM_MAP & co. travel on it. */
  shmap_channel *req_front, *req_back;
  shmap_backend *be;
  shmap_frontend *fe;
  shmap_mappable *m;
  void *ext;
};

static void expect_reply(shmap_channel *ch, uint32_t request) {
  if (shmap_channel_recv_reply(ch, request, NULL) != 0)
    bench_fail("reply");
}

static double lib_add_rem(void *p) {
  struct rt_arg *a = p;
  shmap_wire_msg add, rem;
  memset(&add, 0, sizeof add);
  add.hdr.request = SHMAP_REQ_ADD_MEM_REG;
  add.hdr.flags = SHMAP_WIRE_VERSION | SHMAP_WIRE_NEED_REPLY;
  add.u.region = (shmap_wire_region){0, 1 << 16, 0, 0};
  rem = add;
  rem.hdr.request = SHMAP_REQ_REM_MEM_REG;
  shmap_native_t fd = shmap_mappable_native(a->m);
  shmap_event ev;
  double t0 = bench_now_ns();
  for (int i = 0; i < a->iters; i++) {
    if (shmap_channel_send(a->front, &add, &fd, 1) != 0 ||
        shmap_backend_serve_one(a->be, a->back, &ev) != 0 || ev.result != 0)
      bench_fail("ADD_MEM_REG");
    expect_reply(a->front, SHMAP_REQ_ADD_MEM_REG);
    if (shmap_channel_send(a->front, &rem, NULL, 0) != 0 ||
        shmap_backend_serve_one(a->be, a->back, &ev) != 0 || ev.result != 0)
      bench_fail("REM_MEM_REG");
    expect_reply(a->front, SHMAP_REQ_REM_MEM_REG);
  }
  return (bench_now_ns() - t0) / a->iters;
}

static double bare_fd_rt(void *p) {
  return bench_bare_fd_round_trip(((struct rt_arg *)p)->iters);
}

#ifdef SHMAP_BENCH_GLIB
static double glib_fd_rt(void *p) {
  return peer_checked(
      bench_peer_glib_fd_round_trip(((struct rt_arg *)p)->iters), "glib");
}
#endif

static double lib_external(void *p) {
  struct rt_arg *a = p;
  shmap_wire_msg map, unmap;
  memset(&map, 0, sizeof map);
  map.hdr.request = SHMAP_REQ_EXTERNAL_MAP;
  map.hdr.flags = SHMAP_WIRE_VERSION | SHMAP_WIRE_NEED_REPLY;
  map.u.external =
      (shmap_wire_external){0, 0, 1 << 16, (uint64_t)(uintptr_t)a->ext};
  memset(&unmap, 0, sizeof unmap);
  unmap.hdr.request = SHMAP_REQ_SHMEM_UNMAP;
  unmap.hdr.flags = SHMAP_WIRE_VERSION | SHMAP_WIRE_NEED_REPLY;
  unmap.u.mmap = (shmap_wire_mmap){0, 0, 0, 1 << 16, 0};
  shmap_event ev;
  double t0 = bench_now_ns();
  for (int i = 0; i < a->iters; i++) {
    const shmap_wire_msg *m = i % 2 ? &unmap : &map;
    if (shmap_channel_send(a->req_back, m, NULL, 0) != 0 ||
        shmap_frontend_serve_one(a->fe, a->req_front, &ev) != 0 ||
        ev.result != 0)
      bench_fail("EXTERNAL_MAP/SHMEM_UNMAP");
    expect_reply(a->req_back, m->hdr.request);
  }
  return (bench_now_ns() - t0) / a->iters;
}

static double bare_placed_rt(void *p) {
  return bench_bare_fd_round_trip_placed(((struct rt_arg *)p)->iters);
}

static double bare_bytes_rt(void *p) {
  return bench_bare_bytes_round_trip(((struct rt_arg *)p)->iters);
}

static void bench_round_trips(void) {
  struct rt_arg a = {
      bench_quick ? 20 : 250, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
  shmap_window *guest, *bar;
  if (shmap_channel_pair(SHMAP_CHANNEL_INPROCESS, &a.front, &a.back) != 0 ||
      shmap_channel_pair(SHMAP_CHANNEL_INPROCESS | SHMAP_CHANNEL_BACKEND_REQ,
                         &a.req_front, &a.req_back) != 0 ||
      shmap_window_reserve(1 << 24, 0, &guest) != 0 ||
      shmap_window_reserve(1 << 24, 0, &bar) != 0 ||
      shmap_backend_create(guest, NULL, &a.be) != 0 ||
      shmap_frontend_create(NULL, &a.fe) != 0 ||
      shmap_frontend_add_window(a.fe, 0, bar) != 0 ||
      shmap_mappable_create(1 << 16, 0, &a.m) != 0)
    bench_fail("setup");
  a.ext = calloc(1, 1 << 16);
  double (*const fd_fn[])(void *) = {
      bare_fd_rt,
      lib_add_rem,
#ifdef SHMAP_BENCH_GLIB
      glib_fd_rt,
#endif
      bare_placed_rt,
  };
  enum { N_FD = sizeof fd_fn / sizeof fd_fn[0] };
  double t[4];
  bench_medians(fd_fn, N_FD, &a, short_rounds(), t);
  bench_add("ADD_MEM_REG+REM_MEM_REG round trip", t[1],
            bench_bare_name(BENCH_BARE_FD), t[0]);
  /* The same job as the back end: placed at the guest address. */
  bench_add("ADD_MEM_REG+REM_MEM_REG round trip", t[1],
            bench_bare_name(BENCH_BARE_FD_PLACED), t[N_FD - 1]);
#ifdef SHMAP_BENCH_GLIB
  bench_add("ADD_MEM_REG+REM_MEM_REG round trip", t[1], "glib", t[2]);
#endif
  double (*const bytes_fn[])(void *) = {bare_bytes_rt, lib_external};
  bench_medians(bytes_fn, 2, &a, short_rounds(), t);
  bench_add("EXTERNAL_MAP or SHMEM_UNMAP round trip", t[1],
            bench_bare_name(BENCH_BARE_BYTES), t[0]);
  shmap_backend_destroy(a.be);
  shmap_frontend_destroy(a.fe);
  shmap_window_release(guest);
  shmap_window_release(bar);
  shmap_mappable_unref(a.m);
  shmap_channel_close(a.front);
  shmap_channel_close(a.back);
  shmap_channel_close(a.req_front);
  shmap_channel_close(a.req_back);
  free(a.ext);
}

/* ---- translate ---- */

struct tr_arg {
  shmap_window *w;
  uint64_t n;
  int iters;
};

/* A VMM translates from every vCPU thread at once: the rows with threads
 * run each loop on that many threads together, seeded apart so that they
 * ask for different mappings. */
#define TR_SEED 88172645463325252ull

static double translate_loop(const struct tr_arg *a, uint64_t x) {
  uint64_t g = shmap_map_granularity();
  uintptr_t sink = 0;
  double t0 = bench_now_ns();
  for (int i = 0; i < a->iters; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* random mapping each time */
    sink += (uintptr_t)shmap_window_translate(a->w, (x % a->n) * 2 * g + 8, 8);
  }
  double ns = (bench_now_ns() - t0) / a->iters;
  if (sink == 1)
    puts("");
  return ns;
}

static double bare_loop(const struct tr_arg *a, uint64_t x) {
  /* The floor: the same random-number loop with no lookup in it. */
  uint64_t sink = 0;
  double t0 = bench_now_ns();
  for (int i = 0; i < a->iters; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    sink += x % a->n;
  }
  double ns = (bench_now_ns() - t0) / a->iters;
  if (sink == 1)
    puts("");
  return ns;
}

static double lib_translate(void *p) { return translate_loop(p, TR_SEED); }

static double bare_lookup(void *p) { return bare_loop(p, TR_SEED); }

enum { TR_THREADS_MAX = 64 };

struct tr_par;

struct tr_worker {
  struct tr_par *par;
  uint64_t seed;
  double ns; /* per lookup, this thread's own clock */
};

struct tr_par {
  const struct tr_arg *a;
  int threads;
  int lookup; /* 0: the baseline loop */
  atomic_int go;
  struct tr_worker k[TR_THREADS_MAX];
};

static void tr_worker_main(void *p) {
  struct tr_worker *k = p;
  /* Every thread exists before any starts its clock, so that the loops
   * overlap instead of running one after the other. */
  while (!atomic_load_explicit(&k->par->go, memory_order_acquire))
    ;
  k->ns = k->par->lookup ? translate_loop(k->par->a, k->seed)
                         : bare_loop(k->par->a, k->seed);
}

/* The mean over the threads of each one's ns per lookup. */
static double run_threads(struct tr_par *par) {
  test_thread *t[TR_THREADS_MAX];
  atomic_store(&par->go, 0);
  for (int i = 0; i < par->threads; i++) {
    par->k[i].par = par;
    par->k[i].seed = TR_SEED ^ ((uint64_t)i + 1) * 0x9E3779B97F4A7C15ull;
    par->k[i].ns = 0;
    t[i] = test_thread_start(tr_worker_main, &par->k[i]);
    if (t[i] == NULL)
      bench_fail("thread start");
  }
  atomic_store_explicit(&par->go, 1, memory_order_release);
  double sum = 0;
  for (int i = 0; i < par->threads; i++) {
    test_thread_join(t[i]);
    sum += par->k[i].ns;
  }
  return sum / par->threads;
}

static double lib_translate_par(void *p) {
  struct tr_par *par = p;
  par->lookup = 1;
  return run_threads(par);
}

static double bare_lookup_par(void *p) {
  struct tr_par *par = p;
  par->lookup = 0;
  return run_threads(par);
}

static void bench_translate_threads(const struct tr_arg *a, int threads) {
  static struct tr_par par; /* too big for some threads' stacks */
  par.a = a;
  par.threads = threads;
  char name[64];
  snprintf(name, sizeof name, "translate, %llu mappings, %d thread%s at once",
           (unsigned long long)a->n, threads, threads > 1 ? "s" : "");
  double (*const fn[])(void *) = {bare_lookup_par, lib_translate_par};
  double t[2];
  bench_medians(fn, 2, &par, rounds(), t);
  bench_add(name, t[1], "loop without the lookup, as many threads", t[0]);
}

static int study;

static void bench_translate(uint64_t n) {
  /* External records: bookkeeping only, so 100,000 fit where the OS would
   * refuse that many real mappings (vm.max_map_count). */
  uint64_t g = shmap_map_granularity();
  struct tr_arg a = {NULL, n, bench_quick ? 10000 : 2000000};
  static uint8_t target[1 << 16];
  if (shmap_window_reserve(2 * n * g, 0, &a.w) != 0)
    bench_fail("reserve");
  for (uint64_t i = 0; i < n; i++)
    if (shmap_window_map_external(a.w, 2 * i * g, g, target) != 0)
      bench_fail("map_external");
  char name[64];
  snprintf(name, sizeof name, "translate, %llu mappings",
           (unsigned long long)n);
  double (*const fn[])(void *) = {bare_lookup, lib_translate};
  double t[2];
  bench_medians(fn, 2, &a, rounds(), t);
  double ours = t[1];
  bench_add(name, ours, "loop without the lookup", t[0]);
  if (n == 1000 || n == 100000) {
    int cpus = bench_cpus();
    if (cpus > TR_THREADS_MAX)
      cpus = TR_THREADS_MAX;
    bench_translate_threads(&a, 1);
    bench_translate_threads(&a, 2);
    if (cpus > 2)
      bench_translate_threads(&a, cpus);
  }
  shmap_window_release(a.w);
#ifdef SHMAP_BENCH_STUDY
  if (study)
    bench_study_translate(n, ours);
#endif
}

/* ---- 60,000 live mappings ---- */

static void bench_scale(void) {
  uint64_t g = shmap_map_granularity(), n = bench_quick ? 2000 : 60000;
  shmap_mappable *m;
  shmap_window *w;
  /* Back to back, with file offsets running backwards so the kernel cannot
   * merge neighbours: n real mappings, close to vm.max_map_count. */
  if (shmap_mappable_create(n * g, 0, &m) != 0)
    bench_fail("setup");
  /* The window's own memory: its table and translation index. */
  double heap0 = bench_heap_bytes();
  if (shmap_window_reserve(n * g, 0, &w) != 0)
    bench_fail("setup");
  double t0 = bench_now_ns();
  for (uint64_t i = 0; i < n; i++)
    if (shmap_window_map(w, i * g, m, (n - 1 - i) * g, g, SHMAP_PROT_RW) != 0)
      bench_fail("scale map");
  double t_map = bench_now_ns() - t0;
  double heap1 = bench_heap_bytes();
  t0 = bench_now_ns();
  for (uint64_t i = 0; i < n; i++) {
    uint64_t *p = shmap_window_translate(w, i * g, 8);
    *p = i;
    if (*p != i)
      bench_fail("scale verify");
  }
  double t_verify = bench_now_ns() - t0;
  t0 = bench_now_ns();
  for (uint64_t i = 0; i < n; i++)
    if (shmap_window_unmap(w, i * g, g) != 0)
      bench_fail("scale unmap");
  double t_unmap = bench_now_ns() - t0;
  char name[64];
  snprintf(name, sizeof name, "%llu mappings: map each", (unsigned long long)n);
  bench_add(name, t_map / (double)n, "-", 0);
  snprintf(name, sizeof name, "%llu mappings: verify each",
           (unsigned long long)n);
  bench_add(name, t_verify / (double)n, "-", 0);
  snprintf(name, sizeof name, "%llu mappings: unmap each",
           (unsigned long long)n);
  bench_add(name, t_unmap / (double)n, "-", 0);
  if (heap0 >= 0 && heap1 >= 0) {
    /* Not a time: the row's number is bytes (docs/performance.md). */
    snprintf(name, sizeof name, "%llu mappings: heap bytes per mapping",
             (unsigned long long)n);
    bench_add(name, (heap1 - heap0) / (double)n, "-", 0);
  }
  shmap_window_release(w);
  shmap_mappable_unref(m);
}

/* --only GROUP: one group of rows (map, create, rt, translate, scale), for
 * looking at one thing on a noisy machine without the whole run. */
static const char *only;

static int is_group(const char *name) {
  static const char *const groups[] = {"map",       "create", "rt",
                                       "translate", "scale",  "vhost"};
  for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++)
    if (strcmp(name, groups[i]) == 0)
      return 1;
  return 0;
}

static int want(const char *group) {
  return only == NULL || strcmp(only, group) == 0;
}

int main(int argc, char **argv) {
  int json = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--json") == 0)
      json = 1;
    else if (strcmp(argv[i], "--quick") == 0)
      bench_quick = 1;
    else if (strcmp(argv[i], "--study") == 0)
      study = 1;
    else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc &&
             is_group(argv[i + 1]))
      only = argv[++i];
#ifdef SHMAP_BENCH_VHOST
    else if (i + 1 < argc && bench_vhost_option(argv[i], argv[i + 1]))
      i++;
#endif
    else {
      fputs("usage: shmap-bench [--json] [--quick] [--study] "
            "[--only map|create|rt|translate|scale|vhost]\n"
            "       [--vhost-qsd SOCK] [--vhost-virtiofsd SOCK] "
            "[--vhost-dpdk SOCK]\n",
            stderr);
      return 2;
    }
  }
  if (want("map")) {
#ifdef _WIN32
    /* Windows maps in 64 KiB granules: the smallest size is one granule. */
    bench_map(64u << 10, 0, "map+unmap 64 KiB");
    bench_map(64u << 10, 64u << 10, "map+unmap 64 KiB mid-window");
#else
    bench_map(4096, 0, "map+unmap 4 KiB");
#endif
    bench_map(2u << 20, 0, "map+unmap 2 MiB");
    bench_map(1u << 30, 0, "map+unmap 1 GiB");
  }
  if (want("create")) {
#ifdef _WIN32
    bench_create(64u << 10, "create+map+unmap 64 KiB");
#else
    bench_create(4096, "create+map+unmap 4 KiB");
#endif
    bench_create(2u << 20, "create+map+unmap 2 MiB");
    bench_create(1u << 30, "create+map+unmap 1 GiB");
  }
  if (want("rt"))
    bench_round_trips();
  if (want("translate"))
    for (uint64_t n = 10; n <= 100000; n *= 10)
      bench_translate(n);
  if (want("scale"))
    bench_scale();
#ifdef SHMAP_BENCH_VHOST
  if (want("vhost")) /* in a full run only with real back ends given */
    bench_vhost(only != NULL);
#endif
  if (json) {
    printf("[");
    for (int i = 0; i < nrows; i++)
      printf("%s\n{\"name\":\"%s\",\"ours_ns\":%.1f,\"baseline\":\"%s\","
             "\"baseline_ns\":%.1f,\"ratio\":%.3f}",
             i ? "," : "", rows[i].name, rows[i].ours_ns, rows[i].baseline,
             rows[i].baseline_ns,
             rows[i].baseline_ns > 0 ? rows[i].ours_ns / rows[i].baseline_ns
                                     : 0);
    printf("\n]\n");
  } else {
    printf("%-46s %12s  %-52s %12s %7s\n", "benchmark", "ours ns", "baseline",
           "base ns", "ratio");
    for (int i = 0; i < nrows; i++)
      printf("%-46s %12.1f  %-52s %12.1f %7.3f\n", rows[i].name,
             rows[i].ours_ns, rows[i].baseline, rows[i].baseline_ns,
             rows[i].baseline_ns > 0 ? rows[i].ours_ns / rows[i].baseline_ns
                                     : 0.0);
  }
  return 0;
}
