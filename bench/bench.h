/* shmap benchmarks — shared pieces. Every figure is the median of several
 * rounds, and every row compares with a baseline measured in the same run. */
#ifndef SHMAP_BENCH_H
#define SHMAP_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "shmap.h"

typedef struct bench_row {
  char name[64];
  double ours_ns;
  char baseline[64];
  double baseline_ns;
} bench_row;

/* The most rounds bench_median(s) take. */
#define BENCH_MAX_ROUNDS 64

/* Nanoseconds on a monotonic clock. */
double bench_now_ns(void);
/* Median of fn(arg) over `rounds` rounds; fn returns ns per operation. */
double bench_median(double (*fn)(void *), void *arg, int rounds);
/* The same for k (<= 8) functions compared with each other: their rounds
 * are interleaved, each taking the first place in turn, so that load from
 * elsewhere falls on all of them alike. out[i] is fn[i]'s median. */
void bench_medians(double (*const fn[])(void *), int k, void *arg, int rounds,
                   double *out);
void bench_add(const char *name, double ours, const char *baseline,
               double base_ns);
_Noreturn void bench_fail(const char *what);

/* The bare-system-call baselines, one file per platform. */
double bench_bare_map_unmap(uint64_t len, int iters);
double bench_bare_fd_round_trip(int iters);
double bench_bare_bytes_round_trip(int iters);
double bench_bare_create_map_unmap(uint64_t len, int iters);
/* The fd round trip doing the back end's whole job with bare calls: the
 * region is placed at its guest address inside a reservation (mmap
 * MAP_FIXED; on Windows the calls of the library's window path) and the
 * removal puts the reservation back (PROT_NONE remap), as a window does,
 * instead of mmap(NULL)/munmap anywhere. */
double bench_bare_fd_round_trip_placed(int iters);

#ifdef _WIN32
/* map+unmap of a range with one granule of the reservation on either side
 * (on POSIX that is no different from the whole reservation). */
double bench_bare_map_unmap_inside(uint64_t len, int iters);
#endif

/* What each baseline is called in the rows: the calls differ per platform
 * and, on Windows, per window path. */
enum bench_bare {
  BENCH_BARE_MAP,
  BENCH_BARE_CREATE,
  BENCH_BARE_FD,
  BENCH_BARE_FD_PLACED,
  BENCH_BARE_BYTES
};
const char *bench_bare_name(enum bench_bare kind);

/* Threads for the contended rows: the tests' (tests/thread.h). */
#include "thread.h"
/* Processors online (at least 1). */
int bench_cpus(void);
/* Bytes the C heap holds in use now (malloc's own count), or -1 where the
 * platform cannot say: the 60000-mapping row reports the library's
 * memory per mapping from two of these. */
double bench_heap_bytes(void);

/* --study: stand-in table layouts for translate (study_translate.c); adds
 * rows comparing each with shmap_window_translate at n mappings. */
void bench_study_translate(uint64_t n, double shmap_ns);

/* Real vhost-user back ends (bench_vhost.c, POSIX): take --vhost-NAME SOCK
 * (1 when `opt` was one), and add the rows; `asked` (--only vhost) runs
 * shmap's own back end even when no real one was given. */
int bench_vhost_option(const char *opt, const char *value);
void bench_vhost(int asked);

extern int bench_quick;

#endif
