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
 * windows up to 2^47 bytes of 4 KiB or 64 KiB units). A node is 8200
 * bytes, the root at most 16 KiB. Dense small mappings share leaves (one
 * unit every other unit: 32 bytes a mapping), but a lone small mapping pays
 * for a whole leaf, and one far from the others for a node a level as well.
 *
 * Concurrency: set and clear write, lookup only reads. The caller
 * serializes writers against each other and against readers (the window's
 * rwlock); any number of lookups may run at once. clear frees nodes at
 * once, so a reader that does not hold the lock out (a sequence counter)
 * would need those frees deferred. */
#ifndef SHMAP_XLAT_H
#define SHMAP_XLAT_H

#include <stddef.h>
#include <stdint.h>

/* What set returns besides 0; either way the table is exactly as it was.
 * EINVAL is a caller bug: a range not aligned to the unit, outside the
 * window, or overlapping one already recorded. */
#define SHMAP__XLAT_ENOMEM (-1)
#define SHMAP__XLAT_EINVAL (-2)

struct shmap__xlat_slot;
struct shmap__xlat_node;

/* Empty nodes kept for the next set: a window whose mappings come and go in
 * one place (a back end's regions) would otherwise allocate and zero a
 * whole node on every map and free it on every unmap. */
#define SHMAP__XLAT_SPARES 4

typedef struct shmap__xlat {
  struct shmap__xlat_slot *root; /* root_slots slots, allocated by init */
  size_t root_slots;
  uint64_t units;   /* unit numbers are < units */
  unsigned shift;   /* log2 of the unit (the mapping granularity) */
  unsigned top;     /* unit number >> top is the root slot: 9 * (levels - 1) */
  size_t root_used; /* root slots holding a translation or a child */
  size_t nodes;     /* nodes below the root; 0 when nothing is recorded */
  struct shmap__xlat_node *spare[SHMAP__XLAT_SPARES]; /* empty, all zero */
  unsigned spares;
} shmap__xlat;

/* Prepare `x` for a window of `window_size` bytes whose offsets and lengths
 * are multiples of 1 << unit_shift (unit_shift <= 63). Allocates the root
 * (at most 1024 slots of 16 bytes). Returns 0 or SHMAP__XLAT_ENOMEM
 * (SHMAP__XLAT_EINVAL for a unit_shift above 63). */
int shmap__xlat_init(shmap__xlat *x, uint64_t window_size, unsigned unit_shift);
/* Free every node and the root. `x` may be used again only after init. */
void shmap__xlat_free(shmap__xlat *x);

/* Record that window range [offset, offset+len) translates to `host`, the
 * host address of `offset` (offset + k maps to host + k). The range must be
 * free (set refuses it otherwise). All or nothing: every node it needs is
 * allocated before any slot is written, so on failure the table is exactly as
 * before. Returns 0, SHMAP__XLAT_ENOMEM or SHMAP__XLAT_EINVAL. len 0 records
 * nothing. */
int shmap__xlat_set(shmap__xlat *x, uint64_t offset, uint64_t len,
                    uintptr_t host);
/* Forget a range recorded by set with exactly this offset and len (any
 * other offset and len change nothing). Never fails and never allocates;
 * frees the nodes that become empty. */
void shmap__xlat_clear(shmap__xlat *x, uint64_t offset, uint64_t len);

/* The host address of `offset` when all of [offset, offset+len) lies inside
 * one recorded range, else NULL. len >= 1 and offset + len must not wrap
 * (the caller checks both). Writes nothing: safe for concurrent readers. */
void *shmap__xlat_lookup(const shmap__xlat *x, uint64_t offset, uint64_t len);

/* Bytes the table holds (root and nodes, without malloc's own overhead). */
size_t shmap__xlat_bytes(const shmap__xlat *x);

/* Test-only: when not NULL, the table allocates through the first and
 * frees through the second instead of calloc and free, so that a test can
 * make any allocation fail and count what is still allocated. Hooks that
 * wrap calloc and free may come and go at any time. Nothing but tests sets
 * them. */
extern void *(*shmap__xlat_test_calloc)(size_t count, size_t size);
extern void (*shmap__xlat_test_free)(void *p);

#endif /* SHMAP_XLAT_H */
