/* shmap — the ordered mapping table of a window.
 *
 * A sorted array: lookups are a binary search over contiguous memory (the
 * hot path, translate, touches a few cache lines), inserts and removals move
 * the tail. Mappings are created far less often than they are looked up. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define NOT_FOUND ((size_t)-1)

void shmap__table_free(shmap__table *t) {
  free(t->v);
  free(t->keys);
  t->v = NULL;
  t->keys = NULL;
  t->n = t->cap = 0;
}

int shmap__table_reserve(shmap__table *t) {
  if (t->n < t->cap)
    return 0;
  size_t cap = t->cap ? t->cap * 2 : 16;
  shmap__entry *v = realloc(t->v, cap * sizeof *v);
  if (v == NULL)
    return shmap__err(SHMAP_ENOMEM, "window: out of memory for %zu mappings",
                      cap);
  t->v = v;
  uint64_t *k = realloc(t->keys, cap * sizeof *k);
  if (k == NULL)
    return shmap__err(SHMAP_ENOMEM, "window: out of memory for %zu mappings",
                      cap);
  t->keys = k;
  t->cap = cap;
  return 0;
}

/* Number of entries whose offset is <= `offset`. */
static size_t upper_bound(const shmap__table *t, uint64_t offset) {
  size_t lo = 0, hi = t->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (t->keys[mid] <= offset)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

size_t shmap__table_find(const shmap__table *t, uint64_t offset) {
  size_t i = upper_bound(t, offset);
  if (i == 0)
    return NOT_FOUND;
  const shmap__entry *e = &t->v[i - 1];
  return offset - e->offset < e->len ? i - 1 : NOT_FOUND;
}

size_t shmap__table_slot(const shmap__table *t, uint64_t offset, uint64_t len) {
  size_t i = upper_bound(t, offset);
  if (i > 0) {
    const shmap__entry *prev = &t->v[i - 1];
    if (offset - prev->offset < prev->len)
      return NOT_FOUND;
  }
  if (i < t->n && t->keys[i] - offset < len)
    return NOT_FOUND;
  return i;
}

void shmap__table_insert(shmap__table *t, size_t pos, const shmap__entry *e) {
  memmove(&t->v[pos + 1], &t->v[pos], (t->n - pos) * sizeof *e);
  memmove(&t->keys[pos + 1], &t->keys[pos], (t->n - pos) * sizeof *t->keys);
  t->v[pos] = *e;
  t->keys[pos] = e->offset;
  t->n++;
}

void shmap__table_remove(shmap__table *t, size_t pos) {
  t->n--;
  memmove(&t->v[pos], &t->v[pos + 1], (t->n - pos) * sizeof *t->v);
  memmove(&t->keys[pos], &t->keys[pos + 1], (t->n - pos) * sizeof *t->keys);
}
