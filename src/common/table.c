/* shmap — the ordered mapping table of a window.
 *
 * A sorted array cut into chunks of at most SHMAP__CHUNK entries (see
 * table.h). A flat sorted array made every insert and remove move the
 * whole tail, which at tens of thousands of mappings cost more than the
 * system call that unmaps the range (docs/performance.md, "Design
 * choices").
 * Here a change moves entries inside one chunk only; the chunk pointer
 * array moves only when a chunk splits or leaves, which is once in dozens
 * of changes, and it is 16 bytes a chunk.
 *
 * Lookups stay two binary searches over dense 8-byte keys (chunk firsts,
 * then the chunk's keys), which is what translate's fallback and the
 * Windows gap search run on every call.
 *
 * Fill: any two neighbouring chunks hold more than SHMAP__CHUNK / 2 entries
 * together (remove merges them otherwise), so chunks are a quarter full on
 * average at worst and the pointer array stays small. */
#include <stdlib.h>
#include <string.h>

#include "compiler.h"
#include "errors.h"
#include "table.h"

#define HALF (SHMAP__CHUNK / 2)

void *(*shmap__table_test_realloc)(void *p, size_t size) = NULL;

static void *grow(void *p, size_t size) {
  if (shmap__table_test_realloc != NULL)
    return shmap__table_test_realloc(p, size);
  return realloc(p, size);
}

void shmap__table_free(shmap__table *t) {
  for (size_t i = 0; i < t->nc; i++)
    free(t->c[i]);
  free(t->c);
  free(t->first);
  free(t->spare);
  memset(t, 0, sizeof *t);
}

int shmap__table_reserve(shmap__table *t) {
  if (t->nc == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 8;
    /* Each array keeps its old contents until both have grown, so a
     * failure leaves the table as it was (just with a larger block). */
    shmap__chunk **c = grow(t->c, cap * sizeof(shmap__chunk *));
    if (c == NULL)
      return shmap__err(SHMAP_ENOMEM,
                        "window: out of memory for %zu table chunks", cap);
    t->c = c;
    uint64_t *first = grow(t->first, cap * sizeof *first);
    if (first == NULL)
      return shmap__err(SHMAP_ENOMEM,
                        "window: out of memory for %zu table chunks", cap);
    t->first = first;
    t->cap = cap;
  }
  if (t->spare == NULL) {
    t->spare = grow(NULL, sizeof *t->spare);
    if (t->spare == NULL)
      return shmap__err(SHMAP_ENOMEM,
                        "window: out of memory for a table chunk");
  }
  return 0;
}

/* ---- positions: (chunk, index in chunk) ---- */

/* How many of the n sorted keys are <= key. */
static size_t count_le(const uint64_t *keys, size_t n, uint64_t key) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (keys[mid] <= key)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* The last entry whose offset is <= key: 1 and its position, or 0. */
static int last_le(const shmap__table *t, uint64_t key, size_t *ci,
                   size_t *ei) {
  size_t c = count_le(t->first, t->nc, key);
  if (c == 0)
    return 0;
  const shmap__chunk *ch = t->c[c - 1];
  *ci = c - 1;
  *ei = count_le(ch->keys, ch->n, key) - 1; /* >= 1 counted: first <= key */
  return 1;
}

/* The position of `e`, which must be an entry of the table (so the search
 * always finds it; the zeroes only keep the analyzer content). */
static void locate(const shmap__table *t, const shmap__entry *e, size_t *ci,
                   size_t *ei) {
  *ci = *ei = 0;
  (void)last_le(t, e->offset, ci, ei);
}

static shmap__entry *at(const shmap__table *t, size_t ci, size_t ei) {
  return &t->c[ci]->v[ei];
}

/* The entry after / before a position, or NULL. */
static shmap__entry *after(const shmap__table *t, size_t ci, size_t ei) {
  if (ei + 1 < t->c[ci]->n)
    return at(t, ci, ei + 1);
  return ci + 1 < t->nc ? at(t, ci + 1, 0) : NULL;
}

static shmap__entry *before(const shmap__table *t, size_t ci, size_t ei) {
  if (ei > 0)
    return at(t, ci, ei - 1);
  return ci > 0 ? at(t, ci - 1, t->c[ci - 1]->n - 1) : NULL;
}

/* The first entry whose offset is > key, or NULL. */
static shmap__entry *first_gt(const shmap__table *t, uint64_t key) {
  size_t ci, ei;
  if (!last_le(t, key, &ci, &ei))
    return shmap__table_first(t);
  return after(t, ci, ei);
}

/* ---- queries ---- */

shmap__entry *shmap__table_find(const shmap__table *t, uint64_t offset) {
  size_t ci, ei;
  if (!last_le(t, offset, &ci, &ei))
    return NULL;
  shmap__entry *e = at(t, ci, ei);
  return offset - e->offset < e->len ? e : NULL;
}

SHMAP__NOINLINE shmap__entry *
shmap__table_overlap(const shmap__table *t, uint64_t offset, uint64_t len) {
  shmap__entry *e = shmap__table_find(t, offset);
  if (e != NULL)
    return e;
  /* Nothing holds offset itself: only an entry starting inside can meet. */
  e = first_gt(t, offset);
  return e != NULL && e->offset - offset < len ? e : NULL;
}

shmap__entry *shmap__table_first(const shmap__table *t) {
  return t->nc > 0 ? at(t, 0, 0) : NULL;
}

shmap__entry *shmap__table_last(const shmap__table *t) {
  return t->nc > 0 ? at(t, t->nc - 1, t->c[t->nc - 1]->n - 1) : NULL;
}

shmap__entry *shmap__table_next(const shmap__table *t, const shmap__entry *e) {
  size_t ci, ei;
  locate(t, e, &ci, &ei);
  return after(t, ci, ei);
}

shmap__entry *shmap__table_prev(const shmap__table *t, const shmap__entry *e) {
  size_t ci, ei;
  locate(t, e, &ci, &ei);
  return before(t, ci, ei);
}

void shmap__table_neighbors(const shmap__table *t, uint64_t offset,
                            uint64_t len, shmap__entry **prev,
                            shmap__entry **next) {
  /* prev: the last entry starting before offset, unless it reaches past
   * offset; then the one before it (entries do not overlap, so that one
   * ends before the other starts). */
  size_t ci, ei;
  *prev = NULL;
  if (offset > 0 && last_le(t, offset - 1, &ci, &ei)) {
    shmap__entry *e = at(t, ci, ei);
    *prev = e->len <= offset - e->offset ? e : before(t, ci, ei);
  }
  /* next: the first entry starting after offset + len - 1. */
  *next =
      len - 1 <= UINT64_MAX - offset ? first_gt(t, offset + (len - 1)) : NULL;
}

/* ---- changes ---- */

/* Open a hole in chunk slot `ci` for a new chunk (capacity reserved). */
static void chunks_open(shmap__table *t, size_t ci, shmap__chunk *ch) {
  memmove(&t->c[ci + 1], &t->c[ci], (t->nc - ci) * sizeof(shmap__chunk *));
  memmove(&t->first[ci + 1], &t->first[ci], (t->nc - ci) * sizeof *t->first);
  t->c[ci] = ch;
  t->first[ci] = ch->keys[0];
  t->nc++;
}

/* Take chunk `ci` out of the table; it becomes the spare if there is none
 * (a window whose mappings come and go would otherwise malloc and free a
 * chunk on every split and merge). */
static void chunks_close(shmap__table *t, size_t ci) {
  shmap__chunk *ch = t->c[ci];
  t->nc--;
  memmove(&t->c[ci], &t->c[ci + 1], (t->nc - ci) * sizeof(shmap__chunk *));
  memmove(&t->first[ci], &t->first[ci + 1], (t->nc - ci) * sizeof *t->first);
  if (t->spare == NULL)
    t->spare = ch;
  else
    free(ch);
}

/* Move entries [from, ch->n) of `ch` to the end of `to`. */
static void entries_move(shmap__chunk *ch, size_t from, shmap__chunk *to) {
  size_t k = ch->n - from;
  memcpy(&to->v[to->n], &ch->v[from], k * sizeof *ch->v);
  memcpy(&to->keys[to->n], &ch->keys[from], k * sizeof *ch->keys);
  to->n += k;
  ch->n = from;
}

SHMAP__NOINLINE shmap__entry *shmap__table_insert(shmap__table *t,
                                                  const shmap__entry *e) {
  size_t ci = 0, ei = 0;
  if (t->nc == 0) {
    t->spare->n = 0;
    t->spare->keys[0] = e->offset;
    chunks_open(t, 0, t->spare);
    t->spare = NULL;
  } else if (last_le(t, e->offset, &ci, &ei)) {
    ei++; /* after the last entry before it */
  }
  shmap__chunk *ch = t->c[ci];
  if (ch->n == SHMAP__CHUNK) {
    /* Split into the spare. Entries arriving in ascending order (the usual
     * way a window fills) append past the last entry of all: start the new
     * chunk with the new entry alone, so that chunks stay full. Anywhere
     * else a lone entry would break the fill invariant: split in halves. */
    size_t cut = ei == SHMAP__CHUNK && ci + 1 == t->nc ? SHMAP__CHUNK : HALF;
    shmap__chunk *right = t->spare;
    t->spare = NULL;
    right->n = 0;
    entries_move(ch, cut, right);
    if (ei >= cut) {
      ch = right;
      ei -= cut;
    }
    if (right->n == 0)
      right->keys[0] = e->offset; /* chunks_open reads the first key */
    chunks_open(t, ci + 1, right);
    if (ch == right)
      ci++;
  }
  memmove(&ch->v[ei + 1], &ch->v[ei], (ch->n - ei) * sizeof *ch->v);
  memmove(&ch->keys[ei + 1], &ch->keys[ei], (ch->n - ei) * sizeof *ch->keys);
  ch->v[ei] = *e;
  ch->keys[ei] = e->offset;
  ch->n++;
  t->first[ci] = ch->keys[0];
  t->n++;
  return &ch->v[ei];
}

SHMAP__NOINLINE void shmap__table_remove(shmap__table *t,
                                         const shmap__entry *e) {
  size_t ci, ei;
  locate(t, e, &ci, &ei);
  shmap__chunk *ch = t->c[ci];
  ch->n--;
  memmove(&ch->v[ei], &ch->v[ei + 1], (ch->n - ei) * sizeof *ch->v);
  memmove(&ch->keys[ei], &ch->keys[ei + 1], (ch->n - ei) * sizeof *ch->keys);
  t->n--;
  if (ch->n == 0) {
    chunks_close(t, ci);
    return;
  }
  t->first[ci] = ch->keys[0];
  /* Keep the fill invariant (top of file): merge with a neighbour when the
   * two fit in half a chunk. Only this chunk shrank, so only its two pairs
   * can have fallen to HALF, and one merge restores both. */
  if (ci > 0 && t->c[ci - 1]->n + ch->n <= HALF) {
    entries_move(ch, 0, t->c[ci - 1]);
    chunks_close(t, ci);
  } else if (ci + 1 < t->nc && ch->n + t->c[ci + 1]->n <= HALF) {
    entries_move(t->c[ci + 1], 0, ch);
    chunks_close(t, ci + 1);
  }
}
