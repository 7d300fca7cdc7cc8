/* shmap — a window's mapping table (common/table.c): the ordered set of
 * non-overlapping mappings, by window offset. Pure data structure: no OS
 * calls, no locks. */
#ifndef SHMAP_TABLE_H
#define SHMAP_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "shmap/window.h" /* shmap_mappable, SHMAP_MAPPING_* kinds */

typedef struct shmap__entry {
  uint64_t offset;
  uint64_t len;
  uint64_t file_offset;
  void *ext;         /* EXTERNAL: the producer's pointer */
  shmap_mappable *m; /* MAPPABLE: one reference held by the window */
  unsigned kind;
  unsigned prot;
} shmap__entry;

/* The table is a sorted array cut into chunks: each chunk holds up to
 * SHMAP__CHUNK consecutive entries, and a dense array of the chunks' first
 * offsets finds the chunk. Insert and remove search in O(log n) and move
 * the entries of one chunk (3.5 KiB at most); only a split or an emptied
 * chunk also moves the pointer array, 16 bytes a chunk. A lookup is two
 * binary searches over dense keys. */
#define SHMAP__CHUNK 64

typedef struct shmap__chunk {
  uint64_t keys[SHMAP__CHUNK]; /* keys[i] == v[i].offset: the search walks
                                  this dense array (8 bytes a step, not 48) */
  shmap__entry v[SHMAP__CHUNK];
  size_t n; /* 1 to SHMAP__CHUNK: an emptied chunk leaves the table */
} shmap__chunk;

typedef struct shmap__table {
  shmap__chunk **c;    /* in offset order; entries never overlap */
  uint64_t *first;     /* first[i] == c[i]->keys[0] */
  size_t nc;           /* chunks in use */
  size_t cap;          /* room in c and first */
  shmap__chunk *spare; /* an unused chunk: reserve keeps one for a split */
  size_t n;            /* entries */
} shmap__table;

/* Entry pointers from the table stay valid only until the next insert or
 * remove (entries move within and between chunks); copy what must outlive
 * one. Nothing here locks: the window's rwlock does. */

void shmap__table_free(shmap__table *t);
/* Make room for one more entry, chunk split included, so that the next
 * insert cannot fail. Returns 0 or SHMAP_ENOMEM (recorded, table
 * unchanged). */
int shmap__table_reserve(shmap__table *t);
/* The entry containing `offset`, or NULL. */
shmap__entry *shmap__table_find(const shmap__table *t, uint64_t offset);
/* The first entry that meets [offset, offset+len), or NULL if the range is
 * free. len >= 1 and offset + len <= 2^64. */
shmap__entry *shmap__table_overlap(const shmap__table *t, uint64_t offset,
                                   uint64_t len);
/* Insert a copy of `e`, whose range must be free, after table_reserve.
 * Cannot fail. Returns the stored entry. */
shmap__entry *shmap__table_insert(shmap__table *t, const shmap__entry *e);
/* Remove `e`, an entry of the table. Never fails, never allocates. */
void shmap__table_remove(shmap__table *t, const shmap__entry *e);
/* In offset order; NULL past either end. next and prev take an entry of
 * the table. */
shmap__entry *shmap__table_first(const shmap__table *t);
shmap__entry *shmap__table_last(const shmap__table *t);
shmap__entry *shmap__table_next(const shmap__table *t, const shmap__entry *e);
shmap__entry *shmap__table_prev(const shmap__table *t, const shmap__entry *e);
/* The entries around [offset, offset+len), len >= 1: *prev the last one
 * ending at or before offset, *next the first one starting at or after
 * offset + len (NULL when there is none). Entries that meet the range are
 * neither. */
void shmap__table_neighbors(const shmap__table *t, uint64_t offset,
                            uint64_t len, shmap__entry **prev,
                            shmap__entry **next);
/* Test-only: when not NULL, the table allocates through this instead of
 * realloc, so that a test can make an allocation fail. */
extern void *(*shmap__table_test_realloc)(void *p, size_t size);

#endif /* SHMAP_TABLE_H */
