/* shmap — the translation table of a window (see xlat.h).
 *
 * Levels are numbered from the leaves: a slot of a level-l node spans
 * 2^(9l) units, so a leaf slot is one unit and the root is level
 * top / 9. Only the root has a size of its own (up to 1024 slots, enough
 * that a 1 TiB window of 4 KiB units needs three levels, not four); every
 * other node has 512 slots.
 *
 * A slot is one of
 *   empty        end == 0, child == NULL;
 *   a child      end == 0, child != NULL (never in a leaf);
 *   translation  end != 0: the whole span of the slot lies in a range that
 *                ends at window offset `end`, and host = delta + offset.
 * A translation needs no start: the slot's own span starts inside the
 * range, so offset + len <= end is all a lookup must check. end is never 0
 * for a range, since a range is at least one unit long. */
#include <stdlib.h>
#include <string.h>

#include "xlat.h"

#define BITS 9u
#define FANOUT (1u << BITS)
#define ROOT_BITS_MAX (BITS + 1u)
/* A set creates at most two nodes a level below the root (the paths to its
 * two ends), and there are at most 7 levels (64-bit unit numbers). */
#define POOL_MAX 16u

typedef struct shmap__xlat_node node;

typedef struct shmap__xlat_slot {
  uint64_t end;
  union {
    uintptr_t delta; /* translation: host - offset, modulo 2^N */
    node *child;
  } u;
} slot;

struct shmap__xlat_node {
  slot s[FANOUT]; /* first, so that every slot is 16-byte aligned and never
                     straddles a cache line */
  size_t used;    /* slots holding a translation or a child: 0 frees it */
};

/* Nodes that set allocated before writing anything. */
typedef struct pool {
  node *v[POOL_MAX];
  unsigned n;
  unsigned taken;
} pool;

void *(*shmap__xlat_test_calloc)(size_t count, size_t size) = NULL;
void (*shmap__xlat_test_free)(void *p) = NULL;

/* calloc's zeroes make every slot empty: a NULL pointer is all zero bits
 * on every platform shmap builds for. */
static void *zalloc(size_t count, size_t size) {
  if (shmap__xlat_test_calloc != NULL)
    return shmap__xlat_test_calloc(count, size);
  return calloc(count, size);
}

static void release(void *p) {
  if (shmap__xlat_test_free != NULL)
    shmap__xlat_test_free(p);
  else
    free(p);
}

static int is_empty(const slot *sl) {
  return sl->end == 0 && sl->u.child == NULL;
}

static node *child_of(const slot *sl) {
  return sl->end == 0 ? sl->u.child : NULL;
}

/* The slots [*first, *last] of a node of `n` slots at `level`, starting at
 * unit `base`, that units [s, t] overlap (they overlap the node). */
static void overlap(unsigned level, uint64_t base, size_t n, uint64_t s,
                    uint64_t t, size_t *first, size_t *last) {
  unsigned sh = BITS * level;
  uint64_t f = s > base ? (s - base) >> sh : 0;
  uint64_t l = (t - base) >> sh;
  *first = (size_t)f;
  *last = l < n ? (size_t)l : n - 1;
}

/* Whether units [s, t] cover the whole span of the slot starting at unit
 * `start` at `level`. Written without start + span, which may be 2^64. */
static int covers(unsigned level, uint64_t start, uint64_t s, uint64_t t) {
  uint64_t span_1 = ((uint64_t)1 << (BITS * level)) - 1;
  return s <= start && t - start >= span_1;
}

/* Walk what set of [s, t] would do without writing: count the nodes it
 * must create in *need, and refuse a range that meets a recorded one (a
 * covered slot in use, or a partly covered one holding a translation).
 * slots NULL stands for a node that does not exist yet. */
static int plan(const slot *slots, size_t n, unsigned level, uint64_t base,
                uint64_t s, uint64_t t, unsigned *need) {
  size_t first, last;
  overlap(level, base, n, s, t, &first, &last);
  for (size_t i = first; i <= last; i++) {
    uint64_t start = base + ((uint64_t)i << (BITS * level));
    if (!covers(level, start, s, t)) {
      /* Only the first and last slots can be partly covered, and a leaf
       * slot (one unit) never is. */
      if (slots != NULL && slots[i].end != 0)
        return SHMAP__XLAT_EINVAL;
      const node *c = slots != NULL ? slots[i].u.child : NULL;
      if (c == NULL)
        ++*need;
      int rc =
          plan(c != NULL ? c->s : NULL, FANOUT, level - 1, start, s, t, need);
      if (rc != 0)
        return rc;
    } else if (slots != NULL && !is_empty(&slots[i])) {
      return SHMAP__XLAT_EINVAL;
    }
    /* A node not yet created is empty between the two ends. */
    if (slots == NULL && i + 1 < last)
      i = last - 1;
  }
  return 0;
}

/* Write `rec` into every slot [s, t] covers wholly, creating the missing
 * nodes from `p` (plan counted them). A new node is filled before it is
 * linked, so the tree never holds a node that is still being built. */
static void fill(shmap__xlat *x, slot *slots, size_t n, size_t *used,
                 unsigned level, uint64_t base, uint64_t s, uint64_t t,
                 const slot *rec, pool *p) {
  size_t first, last;
  overlap(level, base, n, s, t, &first, &last);
  for (size_t i = first; i <= last; i++) {
    uint64_t start = base + ((uint64_t)i << (BITS * level));
    if (covers(level, start, s, t)) {
      slots[i] = *rec;
      ++*used;
      continue;
    }
    node *c = slots[i].u.child;
    if (c != NULL) {
      fill(x, c->s, FANOUT, &c->used, level - 1, start, s, t, rec, p);
      continue;
    }
    if (p->taken == p->n) /* plan counted every node: cannot happen */
      continue;
    c = p->v[p->taken++];
    fill(x, c->s, FANOUT, &c->used, level - 1, start, s, t, rec, p);
    slots[i].u.child = c;
    ++*used;
    x->nodes++;
  }
}

/* Undo fill for [s, t], freeing the nodes it leaves empty. */
static void drop(shmap__xlat *x, slot *slots, size_t n, size_t *used,
                 unsigned level, uint64_t base, uint64_t s, uint64_t t) {
  static const slot empty;
  size_t first, last;
  overlap(level, base, n, s, t, &first, &last);
  for (size_t i = first; i <= last; i++) {
    uint64_t start = base + ((uint64_t)i << (BITS * level));
    if (covers(level, start, s, t)) {
      if (slots[i].end != 0) {
        slots[i] = empty;
        --*used;
      }
      continue;
    }
    node *c = child_of(&slots[i]);
    if (c == NULL)
      continue;
    drop(x, c->s, FANOUT, &c->used, level - 1, start, s, t);
    if (c->used == 0) {
      slots[i] = empty;
      /* Every slot of an unused node is empty again: as good as new. */
      if (x->spares < SHMAP__XLAT_SPARES)
        x->spare[x->spares++] = c;
      else
        release(c);
      --*used;
      x->nodes--;
    }
  }
}

static void free_below(slot *slots, size_t n, unsigned level) {
  if (level == 0)
    return;
  for (size_t i = 0; i < n; i++) {
    node *c = child_of(&slots[i]);
    if (c != NULL) {
      free_below(c->s, FANOUT, level - 1);
      release(c);
    }
  }
}

int shmap__xlat_init(shmap__xlat *x, uint64_t window_size,
                     unsigned unit_shift) {
  memset(x, 0, sizeof *x);
  if (unit_shift > 63)
    return SHMAP__XLAT_EINVAL;
  /* A window shorter than a unit still has one unit. */
  uint64_t last = window_size > 0 ? (window_size - 1) >> unit_shift : 0;
  unsigned bits = 0; /* of the highest unit number */
  while (bits < 64 && (last >> bits) != 0)
    bits++;
  unsigned levels = 1;
  while (bits > ROOT_BITS_MAX + BITS * (levels - 1))
    levels++;
  unsigned top = BITS * (levels - 1);
  size_t root_slots = (size_t)1 << (bits > top ? bits - top : 0);
  slot *root = zalloc(root_slots, sizeof *root);
  if (root == NULL)
    return SHMAP__XLAT_ENOMEM;
  x->root = root;
  x->root_slots = root_slots;
  x->units = last + 1;
  x->shift = unit_shift;
  x->top = top;
  return 0;
}

void shmap__xlat_free(shmap__xlat *x) {
  while (x->spares > 0)
    release(x->spare[--x->spares]);
  if (x->root != NULL) {
    free_below(x->root, x->root_slots, x->top / BITS);
    release(x->root);
  }
  memset(x, 0, sizeof *x);
}

/* Units [*s, *t] of a range set may record, or EINVAL. */
static int units_of(const shmap__xlat *x, uint64_t offset, uint64_t len,
                    uint64_t *s, uint64_t *t) {
  uint64_t mask = ((uint64_t)1 << x->shift) - 1;
  if (((offset | len) & mask) != 0 || offset > UINT64_MAX - len)
    return SHMAP__XLAT_EINVAL;
  *s = offset >> x->shift;
  *t = (offset + len - 1) >> x->shift;
  return *t < x->units ? 0 : SHMAP__XLAT_EINVAL;
}

int shmap__xlat_set(shmap__xlat *x, uint64_t offset, uint64_t len,
                    uintptr_t host) {
  if (len == 0)
    return 0;
  uint64_t s, t;
  int rc = units_of(x, offset, len, &s, &t);
  if (rc != 0)
    return rc;
  unsigned level = x->top / BITS, need = 0;
  rc = plan(x->root, x->root_slots, level, 0, s, t, &need);
  if (rc != 0)
    return rc;
  if (need > POOL_MAX) /* cannot happen: see POOL_MAX */
    return SHMAP__XLAT_EINVAL;
  pool p = {{NULL}, 0, 0};
  unsigned reused = 0; /* the first `reused` nodes of the pool were spares */
  for (; p.n < need; p.n++) {
    if (x->spares > 0) {
      p.v[p.n] = x->spare[--x->spares];
      reused++;
      continue;
    }
    p.v[p.n] = zalloc(1, sizeof(node));
    if (p.v[p.n] == NULL) {
      /* Back exactly as it was: new nodes freed, spares returned. */
      while (p.n > reused)
        release(p.v[--p.n]);
      while (p.n > 0)
        x->spare[x->spares++] = p.v[--p.n];
      return SHMAP__XLAT_ENOMEM;
    }
  }
  slot rec;
  rec.end = offset + len;
  rec.u.delta = host - (uintptr_t)offset;
  fill(x, x->root, x->root_slots, &x->root_used, level, 0, s, t, &rec, &p);
  return 0;
}

/* The slot holding the translation of `unit`, or NULL: the lookup itself,
 * a dependent load a level. */
static inline const slot *record_of(const shmap__xlat *x, uint64_t unit) {
  if (unit >= x->units)
    return NULL;
  unsigned sh = x->top;
  const slot *sl = &x->root[unit >> sh];
  while (sl->end == 0) {
    const node *c = sl->u.child;
    if (c == NULL)
      return NULL;
    sh -= BITS;
    sl = &c->s[(unit >> sh) & (FANOUT - 1)];
  }
  return sl;
}

void shmap__xlat_clear(shmap__xlat *x, uint64_t offset, uint64_t len) {
  uint64_t s, t;
  if (len == 0 || units_of(x, offset, len, &s, &t) != 0)
    return;
  /* Disjoint ranges never share an end, so `end` names a range: clear only
   * when the range at `offset` ends at offset + len and does not go on
   * below `offset`. Anything else was not set like this and must not cost
   * another range its slots. */
  const slot *r = record_of(x, s);
  if (r == NULL || r->end != offset + len)
    return;
  const slot *below = s > 0 ? record_of(x, s - 1) : NULL;
  if (below != NULL && below->end == r->end)
    return;
  drop(x, x->root, x->root_slots, &x->root_used, x->top / BITS, 0, s, t);
}

/* The hot path: one slot read a level, nothing else touched. */
void *shmap__xlat_lookup(const shmap__xlat *x, uint64_t offset, uint64_t len) {
  const slot *sl = record_of(x, offset >> x->shift);
  if (sl == NULL || offset + len > sl->end)
    return NULL;
  return (void *)(sl->u.delta + (uintptr_t)offset);
}

size_t shmap__xlat_bytes(const shmap__xlat *x) {
  return x->root_slots * sizeof(slot) + (x->nodes + x->spares) * sizeof(node);
}
