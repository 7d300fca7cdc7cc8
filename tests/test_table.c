/* The window's mapping table (src/common/table.c), compiled into this
 * program with error.c and nothing else: random inserts, removes and
 * queries checked against a model that records, unit by unit, which entry
 * covers it; the table's own structure checked along the way; reserve
 * under allocation failure; the fill patterns of the 60,000-mapping
 * benchmark. */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "table.h"

/* ---- helpers ---- */

static uint64_t rng_state;

static uint64_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

/* Uniform enough in [0, n) for a test; n > 0. */
static uint64_t below(uint64_t n) { return rnd() % n; }

/* The table stores entries whole; file_offset serves as the entry's id. */
static shmap__entry entry(uint64_t offset, uint64_t len, uint64_t id) {
  shmap__entry e = {.offset = offset,
                    .len = len,
                    .file_offset = id,
                    .kind = SHMAP_MAPPING_ANON,
                    .prot = SHMAP_PROT_RW};
  return e;
}

/* ---- the model: per unit, the entry that covers it ---- */

#define NONE UINT32_MAX

typedef struct model {
  uint64_t base, unit; /* unit u is window offset base + u * unit */
  uint32_t units;
  uint32_t *owner; /* per unit: the first unit of its entry, or NONE */
  uint32_t *len;   /* per first unit: the entry's length in units */
  uint64_t *id;    /* per first unit: its entry's file_offset, unique */
  size_t n;
  uint64_t next_id;
} model;

static void model_init(model *m, uint64_t base, uint64_t unit, uint32_t units) {
  m->base = base;
  m->unit = unit;
  m->units = units;
  m->owner = malloc(units * sizeof *m->owner);
  m->len = calloc(units, sizeof *m->len);
  m->id = calloc(units, sizeof *m->id);
  cr_assert(m->owner != NULL && m->len != NULL && m->id != NULL, "malloc");
  for (uint32_t u = 0; u < units; u++)
    m->owner[u] = NONE;
  m->n = 0;
  m->next_id = 1;
}

static void model_free(model *m) {
  free(m->owner);
  free(m->len);
  free(m->id);
}

static uint64_t off_of(const model *m, uint32_t u) {
  return m->base + u * m->unit;
}

/* The first entry in [s, s + l), or NONE. */
static uint32_t model_overlap(const model *m, uint32_t s, uint32_t l) {
  for (uint32_t u = s; u < s + l; u++)
    if (m->owner[u] != NONE)
      return m->owner[u];
  return NONE;
}

/* The last entry ending at or before unit s. */
static uint32_t model_prev(const model *m, uint32_t s) {
  uint32_t u = s;
  while (u > 0) {
    uint32_t o = m->owner[u - 1];
    if (o == NONE)
      u--;
    else if (o + m->len[o] <= s)
      return o;
    else
      u = o; /* meets the range: look before it */
  }
  return NONE;
}

/* The first entry starting at or after unit s. */
static uint32_t model_next(const model *m, uint32_t s) {
  uint32_t u = s;
  while (u < m->units) {
    uint32_t o = m->owner[u];
    if (o == NONE)
      u++;
    else if (o >= s)
      return o;
    else
      u = o + m->len[o];
  }
  return NONE;
}

static void model_add(model *m, uint32_t s, uint32_t l, uint64_t id) {
  for (uint32_t u = s; u < s + l; u++)
    m->owner[u] = s;
  m->len[s] = l;
  m->id[s] = id;
  m->n++;
}

static void model_drop(model *m, uint32_t s) {
  for (uint32_t u = s; u < s + m->len[s]; u++)
    m->owner[u] = NONE;
  m->n--;
}

/* `e` is the model's entry starting at unit s (NONE: e is NULL). */
static void same(const model *m, const shmap__entry *e, uint32_t s,
                 const char *what) {
  if (s == NONE) {
    cr_assert_null(e, "%s: got 0x%llx, want none", what,
                   e ? (unsigned long long)e->offset : 0ULL);
    return;
  }
  cr_assert_not_null(e, "%s: got none, want unit %u", what, s);
  cr_assert(e->offset == off_of(m, s) && e->len == m->len[s] * m->unit &&
                e->file_offset == m->id[s],
            "%s: got 0x%llx+0x%llx id %llu, want unit %u+%u id %llu", what,
            (unsigned long long)e->offset, (unsigned long long)e->len,
            (unsigned long long)e->file_offset, s, m->len[s],
            (unsigned long long)m->id[s]);
}

/* ---- the table's invariants, all of them ---- */

static void check(const shmap__table *t, const model *m) {
  cr_assert(t->nc <= t->cap, "nc %zu > cap %zu", t->nc, t->cap);
  size_t total = 0;
  const shmap__entry *last = NULL, *walk = shmap__table_first(t);
  for (size_t i = 0; i < t->nc; i++) {
    const shmap__chunk *ch = t->c[i];
    cr_assert(ch->n >= 1 && ch->n <= SHMAP__CHUNK, "chunk %zu holds %zu", i,
              ch->n);
    cr_assert(ch != t->spare, "chunk %zu is the spare", i);
    cr_assert_eq(t->first[i], ch->keys[0], "first[%zu] stale", i);
    if (i > 0)
      cr_assert(t->c[i - 1]->n + ch->n > SHMAP__CHUNK / 2,
                "chunks %zu and %zu hold %zu + %zu", i - 1, i, t->c[i - 1]->n,
                ch->n);
    for (size_t j = 0; j < ch->n; j++) {
      const shmap__entry *e = &ch->v[j];
      cr_assert_eq(ch->keys[j], e->offset, "chunk %zu key %zu stale", i, j);
      /* In order, not overlapping (subtractions: ends may be 2^64). */
      if (last != NULL)
        cr_assert(
            e->offset > last->offset && e->offset - last->offset >= last->len,
            "0x%llx after 0x%llx+0x%llx", (unsigned long long)e->offset,
            (unsigned long long)last->offset, (unsigned long long)last->len);
      uint64_t u = (e->offset - m->base) / m->unit;
      cr_assert(u < m->units && m->owner[u] == u, "stray entry at 0x%llx",
                (unsigned long long)e->offset);
      same(m, e, (uint32_t)u, "walk");
      /* The iterators give the very same entries. */
      cr_assert_eq(walk, e, "next disagrees at 0x%llx",
                   (unsigned long long)e->offset);
      cr_assert_eq(shmap__table_prev(t, e), last, "prev disagrees");
      walk = shmap__table_next(t, e);
      last = e;
      total++;
    }
  }
  cr_assert_null(walk, "next past the last entry");
  cr_assert_eq(shmap__table_last(t), last, "last");
  cr_assert_eq(total, t->n, "n %zu, chunks hold %zu", t->n, total);
  cr_assert_eq(total, m->n, "table %zu entries, model %zu", total, m->n);
}

/* ---- random operations ---- */

/* Queries around unit s, length l (in the window), against the model. */
static void query(const shmap__table *t, const model *m, uint32_t s,
                  uint32_t l) {
  uint64_t byte = below(m->unit);
  uint32_t o = m->owner[s];
  same(m, shmap__table_find(t, off_of(m, s) + byte), o, "find");
  same(m, shmap__table_overlap(t, off_of(m, s), l * m->unit),
       model_overlap(m, s, l), "overlap");
  shmap__entry *prev, *next;
  shmap__table_neighbors(t, off_of(m, s), l * m->unit, &prev, &next);
  same(m, prev, model_prev(m, s), "neighbors prev");
  same(m, next, model_next(m, s + l), "neighbors next");
  if (o != NONE) {
    const shmap__entry *e = shmap__table_find(t, off_of(m, o));
    same(m, shmap__table_prev(t, e), model_prev(m, o), "prev");
    same(m, shmap__table_next(t, e), model_next(m, o + m->len[o]), "next");
  }
}

static uint32_t random_len(const model *m) {
  uint64_t l = below(8) == 0 ? 1 + below(64) : 1 + below(3);
  return (uint32_t)(l < m->units ? l : m->units);
}

/* One random insert: refused exactly when the model says it overlaps. */
static void step_insert(shmap__table *t, model *m) {
  uint32_t l = random_len(m);
  uint32_t s = (uint32_t)below(m->units - l + 1);
  query(t, m, s, l);
  if (model_overlap(m, s, l) != NONE)
    return;
  cr_assert_eq(shmap__table_reserve(t), 0, "reserve");
  shmap__entry e = entry(off_of(m, s), l * m->unit, m->next_id);
  const shmap__entry *got = shmap__table_insert(t, &e);
  model_add(m, s, l, m->next_id++);
  same(m, got, s, "insert's result");
}

/* One random remove: the first entry at or after a random unit. */
static void step_remove(shmap__table *t, model *m) {
  uint32_t s = model_next(m, (uint32_t)below(m->units));
  if (s == NONE)
    s = model_next(m, 0);
  if (s == NONE)
    return;
  shmap__entry *e = shmap__table_find(t, off_of(m, s) + below(m->unit));
  same(m, e, s, "find before remove");
  shmap__table_remove(t, e);
  model_drop(m, s);
  same(m, shmap__table_find(t, off_of(m, s)), NONE, "find after remove");
}

/* Phases of mostly inserting and mostly removing, so that chunks split,
 * merge and empty again and again; a full check every `every` steps. */
static void run_random(model *m, unsigned steps, unsigned every) {
  shmap__table t = {0};
  unsigned insert_pct = 70;
  for (unsigned i = 0; i < steps; i++) {
    if (i % 2000 == 0)
      insert_pct = insert_pct == 70 ? 30 : 70;
    if (below(100) < insert_pct)
      step_insert(&t, m);
    else
      step_remove(&t, m);
    if (i % every == 0)
      check(&t, m);
  }
  check(&t, m);
  while (m->n > 0)
    step_remove(&t, m);
  check(&t, m);
  shmap__table_free(&t);
}

Test(table, random_small) {
  for (uint64_t seed = 1; seed <= 4; seed++) {
    rng_state = 0x9e3779b97f4a7c15ULL * seed;
    model m;
    model_init(&m, 0, 4096, 1500);
    run_random(&m, 20000, 1);
    model_free(&m);
  }
}

/* The last unit ends at 2^64 exactly: nothing may compute an end. */
Test(table, random_at_the_top_of_the_offsets) {
  rng_state = 77;
  model m;
  uint32_t units = 1000;
  uint64_t unit = 1 << 16;
  model_init(&m, 0 - units * unit, unit, units);
  run_random(&m, 20000, 1);
  model_free(&m);
}

/* Past 60,000 entries, filled in random order, churned, drained. */
Test(table, random_60000) {
  rng_state = 12345;
  model m;
  model_init(&m, 1 << 20, 4096, 1 << 18);
  shmap__table t = {0};
  unsigned steps = 0;
  while (m.n < 62000) {
    step_insert(&t, &m);
    if (++steps % 4096 == 0)
      check(&t, &m);
  }
  check(&t, &m);
  for (unsigned i = 0; i < 40000; i++) {
    if (below(2))
      step_insert(&t, &m);
    else
      step_remove(&t, &m);
    if (i % 4096 == 0)
      check(&t, &m);
  }
  check(&t, &m);
  for (steps = 0; m.n > 0; steps++) {
    step_remove(&t, &m);
    if (steps % 1024 == 0) {
      query(&t, &m, (uint32_t)below(m.units - 8), 1 + (uint32_t)below(8));
      if (steps % 4096 == 0)
        check(&t, &m);
    }
  }
  check(&t, &m);
  shmap__table_free(&t);
  model_free(&m);
}

/* ---- fill patterns ---- */

static void add_at(shmap__table *t, model *m, uint32_t s) {
  cr_assert_eq(shmap__table_reserve(t), 0, "reserve");
  shmap__entry e = entry(off_of(m, s), m->unit, m->next_id);
  (void)shmap__table_insert(t, &e);
  model_add(m, s, 1, m->next_id++);
}

/* The benchmark's pattern: map in ascending order, unmap from the front.
 * Ascending inserts must leave the chunks full. */
Test(table, ascending_fill_front_removal) {
  model m;
  uint32_t n = 70000;
  model_init(&m, 0, 4096, n);
  shmap__table t = {0};
  for (uint32_t s = 0; s < n; s++)
    add_at(&t, &m, s);
  check(&t, &m);
  cr_assert_eq(t.nc, (n + SHMAP__CHUNK - 1) / SHMAP__CHUNK,
               "%zu chunks for %u ascending entries", t.nc, n);
  for (uint32_t s = 0; s < n; s++) {
    shmap__entry *e = shmap__table_find(&t, off_of(&m, s));
    same(&m, e, s, "find");
    same(&m, shmap__table_first(&t), s, "first");
    shmap__table_remove(&t, e);
    model_drop(&m, s);
    if (s % 1000 == 0)
      check(&t, &m);
  }
  check(&t, &m);
  cr_assert_eq(t.nc, 0, "chunks left over");
  shmap__table_free(&t);
  model_free(&m);
}

/* Descending inserts, then removal from the back (window release). */
Test(table, descending_fill_back_removal) {
  model m;
  uint32_t n = 5000;
  model_init(&m, 0, 4096, n);
  shmap__table t = {0};
  for (uint32_t s = n; s-- > 0;)
    add_at(&t, &m, s);
  check(&t, &m);
  for (uint32_t s = n; s-- > 0;) {
    shmap__entry *e = shmap__table_last(&t);
    same(&m, e, s, "last");
    shmap__table_remove(&t, e);
    model_drop(&m, s);
    if (s % 100 == 0)
      check(&t, &m);
  }
  shmap__table_free(&t);
  model_free(&m);
}

/* ---- allocation failure ---- */

static long fail_at = -1; /* the call to fail, counting from 0; -1: none */
static long calls;

static void *failing_realloc(void *p, size_t size) {
  if (calls++ == fail_at)
    return NULL;
  return realloc(p, size);
}

/* Every allocation reserve makes can fail; each failure is ENOMEM with a
 * message and leaves the table as it was, and insert and remove never
 * allocate. */
Test(table, reserve_out_of_memory) {
  shmap__table_test_realloc = failing_realloc;
  model m;
  uint32_t n = 3000;
  model_init(&m, 0, 4096, 2 * n);
  shmap__table t = {0};
  long failures = 0;
  for (uint32_t i = 0; i < n; i++) {
    /* Every other unit, in an order that splits chunks in the middle. */
    uint32_t s = 2 * (uint32_t)((i * 7919ULL) % n);
    for (fail_at = 0;; fail_at++) {
      calls = 0;
      int rc = shmap__table_reserve(&t);
      if (rc == 0)
        break;
      failures++;
      cr_assert_eq(rc, SHMAP_ENOMEM, "reserve: %d", rc);
      cr_assert(strstr(shmap_last_message(), "out of memory") != NULL,
                "message: %s", shmap_last_message());
      check(&t, &m);
    }
    fail_at = -1;
    calls = 0;
    shmap__entry e = entry(off_of(&m, s), m.unit, m.next_id);
    (void)shmap__table_insert(&t, &e);
    model_add(&m, s, 1, m.next_id++);
    if (i % 3 == 0) {
      uint32_t r = model_next(&m, (uint32_t)below(m.units));
      if (r != NONE && r != s) {
        shmap__table_remove(&t, shmap__table_find(&t, off_of(&m, r)));
        model_drop(&m, r);
      }
    }
    cr_assert_eq(calls, 0, "insert or remove allocated");
    if (i % 256 == 0)
      check(&t, &m);
  }
  check(&t, &m);
  /* The pointer arrays grew a few times (two allocations to fail each)
   * and most splits took the spare: each allocation failed once. */
  cr_assert(failures > 40, "only %ld failures", failures);
  shmap__table_test_realloc = NULL;
  shmap__table_free(&t);
  model_free(&m);
}

/* ---- edges ---- */

Test(table, empty_table) {
  shmap__table t = {0};
  shmap__entry *prev = &(shmap__entry){0}, *next = prev;
  cr_assert_null(shmap__table_find(&t, 0));
  cr_assert_null(shmap__table_overlap(&t, 0, UINT64_MAX));
  cr_assert_null(shmap__table_first(&t));
  cr_assert_null(shmap__table_last(&t));
  shmap__table_neighbors(&t, 0, UINT64_MAX, &prev, &next);
  cr_assert(prev == NULL && next == NULL, "neighbors in an empty table");
  shmap__table_free(&t); /* nothing allocated: still fine */
  cr_assert_eq(shmap__table_reserve(&t), 0, "reserve");
  shmap__table_free(&t);
}

Test(table, entries_at_both_ends_of_the_offsets) {
  shmap__table t = {0};
  shmap__entry lo = entry(0, 4096, 1), hi = entry(0 - (uint64_t)4096, 4096, 2);
  cr_assert_eq(shmap__table_reserve(&t), 0);
  (void)shmap__table_insert(&t, &hi);
  cr_assert_eq(shmap__table_reserve(&t), 0);
  (void)shmap__table_insert(&t, &lo);
  cr_assert_eq(shmap__table_find(&t, UINT64_MAX)->file_offset, 2);
  cr_assert_eq(shmap__table_find(&t, 0)->file_offset, 1);
  cr_assert_null(shmap__table_find(&t, 4096));
  cr_assert_eq(shmap__table_overlap(&t, 4096, 0 - (uint64_t)4096)->file_offset,
               2);
  cr_assert_null(shmap__table_overlap(&t, 4096, 0 - (uint64_t)8192));
  shmap__entry *prev, *next;
  /* The range of each entry: the other is its only neighbour. */
  shmap__table_neighbors(&t, 0 - (uint64_t)4096, 4096, &prev, &next);
  cr_assert(prev != NULL && prev->file_offset == 1 && next == NULL);
  shmap__table_neighbors(&t, 0, 4096, &prev, &next);
  cr_assert(prev == NULL && next != NULL && next->file_offset == 2);
  /* A range covering both: neither is a neighbour. */
  shmap__table_neighbors(&t, 0, UINT64_MAX, &prev, &next);
  cr_assert(prev == NULL && next == NULL);
  shmap__table_free(&t);
}
