/* shmap — the translation table of a window: window offset -> host address
 * in a few dependent loads, whatever the number of mappings.
 *
 * A radix tree over unit numbers (offset >> unit_shift), 9 bits a level as
 * in hardware page tables, deep enough for the window's size. A slot holds
 * either a child or the translation itself (host minus offset, and the end
 * of the range), so a lookup never follows a pointer to an entry. A range
 * that covers the whole span of a slot is stored once in that slot, as a
 * huge page is: only the unaligned ends of a range reach lower levels, and a
 * 1 GiB mapping costs a handful of slots.
 *
 * The table is an index beside the window's ordered mapping table, not a
 * replacement: it knows nothing of kinds, protections or mappables. It
 * refuses an overlapping range all the same, which costs set little and
 * keeps a caller's bug from corrupting it.
 *
 * Self-contained on purpose (standard headers only, no OS calls): a test
 * compiles xlat.c on its own.
 *
 * Costs: a lookup is one dependent load per level (1 to 4 levels for
 * windows up to 2^47 bytes of 4 KiB or 64 KiB units). A node is 8208
 * bytes, the root at most 16 KiB. Dense small mappings share leaves (one
 * unit every other unit: 32 bytes a mapping), but a lone small mapping pays
 * for a whole leaf, and one far from the others for a node a level as well.
 *
 * Concurrency: set, clear, suspend and resume write; the caller serializes
 * them against each other (the window's write lock). lookup reads under the
 * caller's read lock. lookup_unlocked reads with no lock at all, because a
 * lock taken by every lookup costs more than the walk (docs/performance.md,
 * "Design choices") and makes all readers write one
 * cache line: with vCPU threads translating at once, that line bounces.
 * A sequence counter guards the walk instead: writers make it odd before
 * they touch a slot and even, one higher, after; a reader reads it, walks
 * with atomic loads, and keeps what it found only when the counter has not
 * moved. A torn read can pair a slot's end with another state's value, so
 * a reader also checks the counter before it follows a child pointer: it
 * never dereferences anything but a node that was linked in the state it
 * started from. Such a node may be emptied and reused while the reader is
 * in it, but never freed: clear and suspend put emptied nodes on a spare
 * list that set takes from first, and only free gives them back. The table
 * therefore holds as many nodes as it ever used at once until it is freed;
 * the window bounds that by dropping the index (suspend) when it outgrows
 * its budget. The root is allocated once, by init or resume, and never
 * moves. Every access to a slot or the counter is a C11 atomic, so that
 * a racing reader is no data race (stress_threads runs under
 * ThreadSanitizer). */
#ifndef SHMAP_XLAT_H
#define SHMAP_XLAT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* What set returns besides 0; either way the table is exactly as it was.
 * EINVAL is a caller bug: a range not aligned to the unit, outside the
 * window, or overlapping one already recorded. */
#define SHMAP__XLAT_ENOMEM (-1)
#define SHMAP__XLAT_EINVAL (-2)

struct shmap__xlat_slot;
struct shmap__xlat_node;

typedef struct shmap__xlat {
  struct shmap__xlat_slot *root; /* root_slots slots; never moves */
  size_t root_slots;
  uint64_t units;   /* unit numbers are < units; 0: init refused the unit */
  unsigned shift;   /* log2 of the unit (the mapping granularity) */
  unsigned top;     /* unit number >> top is the root slot: 9 * (levels - 1) */
  size_t root_used; /* root slots holding a translation or a child */
  size_t nodes;     /* nodes below the root in use; 0 when nothing is set */
  /* Empty nodes (all zero) kept for later sets, never freed before free:
   * see Concurrency. A window whose mappings come and go in one place (a
   * back end's regions) also allocates nothing on the way. */
  struct shmap__xlat_node *spare;
  size_t spares;
  /* Even: readers may walk the table; odd: a writer is changing it, or it
   * is suspended (then it stays odd until resume). */
  atomic_size_t seq;
  int off; /* suspended; read by writers only */
} shmap__xlat;

/* Prepare `x` for a window of `window_size` bytes whose offsets and lengths
 * are multiples of 1 << unit_shift (unit_shift <= 63). Allocates the root
 * (at most 1024 slots of 16 bytes). Returns 0, or SHMAP__XLAT_ENOMEM with
 * `x` suspended (resume tries the root again), or SHMAP__XLAT_EINVAL for a
 * unit_shift above 63 (suspended for good). Either way `x` is ready for
 * lookup_unlocked and free. */
int shmap__xlat_init(shmap__xlat *x, uint64_t window_size, unsigned unit_shift);
/* Free every node, the spares and the root. No reader may be in `x`. `x`
 * may be used again only after init. */
void shmap__xlat_free(shmap__xlat *x);

/* Forget every range and send readers to the caller's lock: from now on
 * lookup_unlocked returns 0 and lookup NULL, set refuses and clear does
 * nothing, until resume. For a caller that stops keeping the table up to
 * date. The nodes become spares (a reader may still be in them). Never
 * fails and never allocates. */
void shmap__xlat_suspend(shmap__xlat *x);
/* Use a suspended (hence empty) table again, allocating its root if init
 * could not. Returns 0 (also for a table that is not suspended),
 * SHMAP__XLAT_ENOMEM (still suspended), or SHMAP__XLAT_EINVAL when init
 * refused the unit. */
int shmap__xlat_resume(shmap__xlat *x);

/* Record that window range [offset, offset+len) translates to `host`, the
 * host address of `offset` (offset + k maps to host + k). The range must be
 * free (set refuses it otherwise). All or nothing: every node it needs is
 * allocated before any slot is written, so on failure the table is exactly as
 * before. Returns 0, SHMAP__XLAT_ENOMEM or SHMAP__XLAT_EINVAL (also when
 * suspended). len 0 records nothing. */
int shmap__xlat_set(shmap__xlat *x, uint64_t offset, uint64_t len,
                    uintptr_t host);
/* Forget a range recorded by set with exactly this offset and len (any
 * other offset and len change nothing). Never fails and never allocates;
 * the nodes that become empty become spares. */
void shmap__xlat_clear(shmap__xlat *x, uint64_t offset, uint64_t len);

/* The host address of `offset` when all of [offset, offset+len) lies inside
 * one recorded range, else NULL (always NULL when suspended). len >= 1 and
 * offset + len must not wrap (the caller checks both). For a reader that
 * holds the lock that keeps writers out; any number may run at once. */
void *shmap__xlat_lookup(const shmap__xlat *x, uint64_t offset, uint64_t len);
/* The same answer with no lock held, while writers may be at work: 1 with
 * the answer in *host (NULL included), as lookup would have given it at
 * some moment during the call; or 0 with *host untouched when it could not
 * read a stable table (a writer at work, changes under a few walks in a
 * row, or suspended): the caller then takes its lock and calls lookup. */
int shmap__xlat_lookup_unlocked(const shmap__xlat *x, uint64_t offset,
                                uint64_t len, void **host);

/* Bytes the table holds (root, nodes in use and spares, without malloc's
 * own overhead), and of those the root and the nodes in use. */
size_t shmap__xlat_bytes(const shmap__xlat *x);
size_t shmap__xlat_bytes_used(const shmap__xlat *x);

/* Test-only: when not NULL, the table allocates through the first and
 * frees through the second instead of calloc and free, so that a test can
 * make any allocation fail and count what is still allocated. Hooks that
 * wrap calloc and free may come and go at any time. Nothing but tests sets
 * them. */
extern void *(*shmap__xlat_test_calloc)(size_t count, size_t size);
extern void (*shmap__xlat_test_free)(void *p);

#ifdef SHMAP__XLAT_TEST_STEP
/* Test-only, and only in a build of xlat.c with SHMAP__XLAT_TEST_STEP
 * defined (test_xlat's; the library has no such hook): when not NULL, a
 * lock-free walk calls it before every load of a slot, so that a test can
 * play a writer at that moment and check what the reader makes of it. */
extern void (*shmap__xlat_test_step)(void);
/* Test-only, same build: a set's plan counts this many nodes fewer than it
 * needs, to provoke the broken-invariant path (xlat.c, broken()). */
extern unsigned shmap__xlat_test_plan_short;
#endif

#endif /* SHMAP_XLAT_H */
