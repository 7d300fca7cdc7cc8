/* shmap — the translation table of a window (see xlat.h).
 *
 * Levels are numbered from the leaves: a slot of a level-l node spans
 * 2^(9l) units, so a leaf slot is one unit and the root is level
 * top / 9. Only the root has a size of its own (up to 1024 slots, enough
 * that a 1 TiB window of 4 KiB units needs three levels, not four); every
 * other node has 512 slots.
 *
 * A slot is one of
 *   empty        end == 0, val == 0;
 *   a child      end == 0, val is the node (never in a leaf);
 *   translation  end != 0: the whole span of the slot lies in a range that
 *                ends at window offset `end`, and host = val + offset.
 * A translation needs no start: the slot's own span starts inside the
 * range, so offset + len <= end is all a lookup must check. end is never 0
 * for a range, since a range is at least one unit long.
 *
 * Memory order (xlat.h, Concurrency): writers store slots with release and
 * readers load them with acquire, so that a reader that sees anything a
 * writer stored after making the counter odd also sees the odd counter
 * when it reads the counter next. Both are plain moves on x86, and this
 * way ThreadSanitizer, which does not model fences, checks the real
 * ordering. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "xlat.h"

#define BITS 9u
#define FANOUT (1u << BITS)
#define ROOT_BITS_MAX (BITS + 1u)
/* A set creates at most two nodes a level below the root (the paths to its
 * two ends), and there are at most 7 levels (64-bit unit numbers). */
#define POOL_MAX 16u
/* Walks a lock-free lookup tries before it sends its caller to the lock:
 * one that has seen the table change under it this often is competing
 * with a stream of writers, and the lock makes it wait its turn. */
#define TRIES 4

typedef struct shmap__xlat_node node;

/* set and clear stay functions even in callers that inline everything
 * they call (SHMAP__FLATTEN in compiler.h): they make no system call, and
 * their recursion would be copied into every such caller. */
#if defined(__GNUC__)
#  define NOINLINE __attribute__((noinline))
#else
#  define NOINLINE
#endif

/* A broken invariant of this file. Debug builds stop there, loudly;
 * release builds (NDEBUG) and test_xlat's copy, which provokes one, take
 * the caller's defined path instead: the call fails with SHMAP__XLAT_EINVAL
 * and the window drops its index (translate then searches the table), so
 * a bug here costs speed, never a wrong translation. */
#if !defined(NDEBUG) && !defined(SHMAP__XLAT_TEST_STEP)
#  include <stdio.h>
static int broken(int cond, const char *what) {
  if (cond) {
    fprintf(stderr, "shmap: translate index invariant broken: %s\n", what);
    abort();
  }
  return 0;
}
#else
static int broken(int cond, const char *what) {
  (void)what;
  return cond;
}
#endif

#ifdef SHMAP__XLAT_TEST_STEP
unsigned shmap__xlat_test_plan_short = 0;
void (*shmap__xlat_test_step)(void) = NULL;
#  define TEST_STEP()                                                          \
    do {                                                                       \
      if (shmap__xlat_test_step != NULL)                                       \
        shmap__xlat_test_step();                                               \
    } while (0)
#else
#  define TEST_STEP() ((void)0)
#endif

typedef struct shmap__xlat_slot {
  _Atomic uint64_t end;
  _Atomic uintptr_t val; /* translation: host - offset, modulo 2^N; child:
                            the node */
} slot;

struct shmap__xlat_node {
  slot s[FANOUT]; /* first, so that every slot is 16-byte aligned and never
                     straddles a cache line */
  size_t used;    /* slots holding a translation or a child: 0 empties it */
  node *next;     /* on the spare list */
};

/* Nodes that set allocated before writing anything. */
typedef struct pool {
  node *v[POOL_MAX];
  unsigned n;
  unsigned taken;
  int short_of_nodes; /* fill needed a node the plan did not count */
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

static uint64_t end_of(const slot *sl) {
  return atomic_load_explicit(&sl->end, memory_order_acquire);
}

static uintptr_t val_of(const slot *sl) {
  return atomic_load_explicit(&sl->val, memory_order_acquire);
}

static void put(slot *sl, uint64_t end, uintptr_t val) {
  atomic_store_explicit(&sl->end, end, memory_order_release);
  atomic_store_explicit(&sl->val, val, memory_order_release);
}

static int is_empty(const slot *sl) {
  return end_of(sl) == 0 && val_of(sl) == 0;
}

/* For writers and locked readers, who see no torn slot. */
static node *child_of(const slot *sl) {
  return end_of(sl) == 0 ? (node *)val_of(sl) : NULL;
}

/* Writers run between begin and end. The counter is odd in between, and
 * stays odd after end while the table is suspended. */
static void write_begin(shmap__xlat *x) {
  size_t s = atomic_load_explicit(&x->seq, memory_order_relaxed);
  atomic_store_explicit(&x->seq, s | 1, memory_order_relaxed);
}

static void write_end(shmap__xlat *x) {
  if (x->off)
    return;
  size_t s = atomic_load_explicit(&x->seq, memory_order_relaxed);
  atomic_store_explicit(&x->seq, s + 1, memory_order_release);
}

/* An emptied node: kept, not freed (xlat.h, Concurrency). */
static void keep_spare(shmap__xlat *x, node *c) {
  c->next = x->spare;
  x->spare = c;
  x->spares++;
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

/* The slots [first, last] overlap [s, t]; those it covers wholly are one
 * run [*a, *b), and only `first` and `last` can be partly covered (a leaf
 * slot, one unit, never is). A large range is mostly run: set, clear and
 * plan treat the run in a plain loop, since a 1 GiB mapping in a 1 GiB
 * window is 512 root slots and a 2 MiB one in a 2 MiB window 512 leaves. */
static void covered_run(unsigned level, uint64_t base, size_t first,
                        size_t last, uint64_t s, uint64_t t, size_t *a,
                        size_t *b) {
  unsigned sh = BITS * level;
  *a = first + !covers(level, base + ((uint64_t)first << sh), s, t);
  *b = last + 1;
  if (last >= *a && !covers(level, base + ((uint64_t)last << sh), s, t))
    *b = last;
}

static int plan(const slot *slots, size_t n, size_t used, unsigned level,
                uint64_t base, uint64_t s, uint64_t t, unsigned *need);

/* plan for a partly covered slot: it must not hold a translation, and the
 * node below it (perhaps still to be made) must take the rest. */
static int plan_part(const slot *sl, unsigned level, uint64_t start, uint64_t s,
                     uint64_t t, unsigned *need) {
  if (sl != NULL && end_of(sl) != 0)
    return SHMAP__XLAT_EINVAL;
  const node *c = sl != NULL ? child_of(sl) : NULL;
  if (c == NULL)
    ++*need;
  return c != NULL ? plan(c->s, FANOUT, c->used, level - 1, start, s, t, need)
                   : plan(NULL, FANOUT, 0, level - 1, start, s, t, need);
}

/* Walk what set of [s, t] would do without writing: count the nodes it
 * must create in *need, and refuse a range that meets a recorded one (a
 * covered slot in use, or a partly covered one holding a translation).
 * slots NULL stands for a node that does not exist yet; `used` is how many
 * of the node's slots are in use, and a node with none needs no look at
 * its run (the common case of a large range in an empty part). */
static int plan(const slot *slots, size_t n, size_t used, unsigned level,
                uint64_t base, uint64_t s, uint64_t t, unsigned *need) {
  size_t first, last, a, b;
  overlap(level, base, n, s, t, &first, &last);
  covered_run(level, base, first, last, s, t, &a, &b);
  if (slots != NULL && used > 0)
    for (size_t i = a; i < b; i++)
      if (!is_empty(&slots[i]))
        return SHMAP__XLAT_EINVAL;
  unsigned sh = BITS * level;
  int rc = 0;
  if (first < a)
    rc = plan_part(slots != NULL ? &slots[first] : NULL, level,
                   base + ((uint64_t)first << sh), s, t, need);
  if (rc == 0 && last >= b)
    rc = plan_part(slots != NULL ? &slots[last] : NULL, level,
                   base + ((uint64_t)last << sh), s, t, need);
  return rc;
}

static void fill(shmap__xlat *x, slot *slots, size_t n, size_t *used,
                 unsigned level, uint64_t base, uint64_t s, uint64_t t,
                 uint64_t end, uintptr_t val, pool *p);

/* fill for a partly covered slot: into its node, or a new one from the
 * pool, filled before it is linked. */
static void fill_part(shmap__xlat *x, slot *sl, size_t *used, unsigned level,
                      uint64_t start, uint64_t s, uint64_t t, uint64_t end,
                      uintptr_t val, pool *p) {
  node *c = child_of(sl);
  if (c != NULL) {
    fill(x, c->s, FANOUT, &c->used, level - 1, start, s, t, end, val, p);
    return;
  }
  if (broken(p->taken == p->n, "set's plan missed a node")) {
    p->short_of_nodes = 1; /* this part stays unwritten; set fails */
    return;
  }
  c = p->v[p->taken++];
  fill(x, c->s, FANOUT, &c->used, level - 1, start, s, t, end, val, p);
  put(sl, 0, (uintptr_t)c);
  ++*used;
  x->nodes++;
}

/* Write the translation (end, val) into every slot [s, t] covers wholly,
 * creating the missing nodes from `p` (plan counted them). A new node is
 * filled before it is linked, so the tree never holds a node that is still
 * being built (a lock-free reader still in a reused spare sees the counter
 * move). */
static void fill(shmap__xlat *x, slot *slots, size_t n, size_t *used,
                 unsigned level, uint64_t base, uint64_t s, uint64_t t,
                 uint64_t end, uintptr_t val, pool *p) {
  size_t first, last, a, b;
  overlap(level, base, n, s, t, &first, &last);
  covered_run(level, base, first, last, s, t, &a, &b);
  for (size_t i = a; i < b; i++)
    put(&slots[i], end, val);
  *used += b - a;
  unsigned sh = BITS * level;
  if (first < a)
    fill_part(x, &slots[first], used, level, base + ((uint64_t)first << sh), s,
              t, end, val, p);
  if (last >= b)
    fill_part(x, &slots[last], used, level, base + ((uint64_t)last << sh), s, t,
              end, val, p);
}

static void drop(shmap__xlat *x, slot *slots, size_t n, size_t *used,
                 unsigned level, uint64_t base, uint64_t s, uint64_t t);

/* drop for a partly covered slot: into its node, which becomes a spare
 * when nothing is left in it. */
static void drop_part(shmap__xlat *x, slot *sl, size_t *used, unsigned level,
                      uint64_t start, uint64_t s, uint64_t t) {
  node *c = child_of(sl);
  if (c == NULL)
    return;
  drop(x, c->s, FANOUT, &c->used, level - 1, start, s, t);
  if (c->used == 0) {
    /* Every slot of an unused node is empty again: as good as new. */
    put(sl, 0, 0);
    keep_spare(x, c);
    --*used;
    x->nodes--;
  }
}

/* Undo fill for [s, t]; the nodes it leaves empty become spares. */
static void drop(shmap__xlat *x, slot *slots, size_t n, size_t *used,
                 unsigned level, uint64_t base, uint64_t s, uint64_t t) {
  size_t first, last, a, b;
  overlap(level, base, n, s, t, &first, &last);
  covered_run(level, base, first, last, s, t, &a, &b);
  /* clear checked that [s, t] is one recorded range: every slot it covers
   * wholly holds its translation. */
  for (size_t i = a; i < b; i++)
    put(&slots[i], 0, 0);
  *used -= b - a;
  unsigned sh = BITS * level;
  if (first < a)
    drop_part(x, &slots[first], used, level, base + ((uint64_t)first << sh), s,
              t);
  if (last >= b)
    drop_part(x, &slots[last], used, level, base + ((uint64_t)last << sh), s,
              t);
}

/* Empty every slot below and including `slots`, keeping the nodes as
 * spares (suspend). */
static void empty_below(shmap__xlat *x, slot *slots, size_t n, unsigned level) {
  for (size_t i = 0; i < n; i++) {
    node *c = level > 0 ? child_of(&slots[i]) : NULL;
    if (c != NULL) {
      empty_below(x, c->s, FANOUT, level - 1);
      c->used = 0;
      keep_spare(x, c);
    }
    if (!is_empty(&slots[i]))
      put(&slots[i], 0, 0);
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
  /* Suspended until the root exists: readers go to the lock. */
  atomic_init(&x->seq, 1);
  x->off = 1;
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
  x->root_slots = (size_t)1 << (bits > top ? bits - top : 0);
  x->units = last + 1;
  x->shift = unit_shift;
  x->top = top;
  return shmap__xlat_resume(x);
}

void shmap__xlat_free(shmap__xlat *x) {
  while (x->spare != NULL) {
    node *c = x->spare;
    x->spare = c->next;
    release(c);
  }
  if (x->root != NULL) {
    free_below(x->root, x->root_slots, x->top / BITS);
    release(x->root);
  }
  memset(x, 0, sizeof *x);
}

void shmap__xlat_suspend(shmap__xlat *x) {
  if (x->off)
    return;
  write_begin(x);
  x->off = 1; /* write_end now leaves the counter odd */
  empty_below(x, x->root, x->root_slots, x->top / BITS);
  x->root_used = 0;
  x->nodes = 0;
}

int shmap__xlat_resume(shmap__xlat *x) {
  if (!x->off)
    return 0;
  if (x->units == 0)
    return SHMAP__XLAT_EINVAL;
  if (x->root == NULL) {
    /* Allocated once: a reader may be in the root at any time after. */
    x->root = zalloc(x->root_slots, sizeof(slot));
    if (x->root == NULL)
      return SHMAP__XLAT_ENOMEM;
  }
  x->off = 0;
  /* Even again, one higher: suspend left the table empty, and the release
   * publishes the root to readers who see the new value. */
  size_t s = atomic_load_explicit(&x->seq, memory_order_relaxed);
  atomic_store_explicit(&x->seq, s + 1, memory_order_release);
  return 0;
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

/* The way from the root to the leaf that holds units [s, t], when they all
 * lie under one leaf: sl[k] is the slot at depth k (sl[0] in the root) and
 * in[k] the node it leads to, for the first `have` of the `depth` nodes
 * down to the leaf (`leaf` when it exists, have == depth); sl[have] is the
 * empty slot where the way stops when it does not. Most maps and unmaps
 * are such ranges (up to a leaf's span, 2 MiB of 4 KiB units, not crossing
 * a leaf's edge), and they need neither plan's look ahead nor fill's and
 * drop's recursion: only the leaf's slots change, plus the nodes on the
 * way that appear or become empty. */
#define DEPTH_MAX 7u
typedef struct leaf_path {
  slot *sl[DEPTH_MAX];
  node *in[DEPTH_MAX];
  node *leaf;
  unsigned have, depth;
} leaf_path;

/* 1 with the way filled in, or 0 when the range needs the general walk: it
 * spans more than one leaf or a whole one, the root is the leaf, or a slot
 * on the way holds a translation (which plan refuses and record_of
 * interprets). */
static int leaf_path_of(const shmap__xlat *x, uint64_t s, uint64_t t,
                        leaf_path *lp) {
  lp->leaf = NULL;
  lp->have = 0;
  lp->depth = x->top / BITS;
  if (x->top == 0 || (s >> BITS) != (t >> BITS) || t - s == FANOUT - 1)
    return 0; /* a whole leaf's span is one slot a level up */
  unsigned sh = x->top, k = 0;
  slot *sl = &x->root[s >> sh];
  for (;;) {
    lp->sl[k] = sl;
    if (end_of(sl) != 0)
      return 0;
    node *c = (node *)val_of(sl);
    if (c == NULL)
      break;
    lp->in[k++] = c;
    sh -= BITS;
    if (sh == 0) {
      lp->leaf = c;
      break;
    }
    sl = &c->s[(s >> sh) & (FANOUT - 1)];
  }
  lp->have = k;
  return 1;
}

/* Take `need` nodes for `p`, spares first, all or none. */
static int take_nodes(shmap__xlat *x, pool *p, unsigned need) {
  unsigned reused = 0; /* the first `reused` nodes of the pool were spares */
  for (; p->n < need; p->n++) {
    if (x->spare != NULL) {
      p->v[p->n] = x->spare;
      x->spare = x->spare->next;
      x->spares--;
      reused++;
      continue;
    }
    p->v[p->n] = zalloc(1, sizeof(node));
    if (p->v[p->n] == NULL) {
      /* Back exactly as it was: new nodes freed (no reader has seen
       * them), spares returned. */
      while (p->n > reused)
        release(p->v[--p->n]);
      while (p->n > 0)
        keep_spare(x, p->v[--p->n]);
      return SHMAP__XLAT_ENOMEM;
    }
  }
  return 0;
}

/* set for a range under one leaf (leaf_path_of). */
static int set_leaf(shmap__xlat *x, const leaf_path *lp, uint64_t s, uint64_t t,
                    uint64_t end, uintptr_t val) {
  size_t n = (size_t)(t - s) + 1, first = (size_t)(s & (FANOUT - 1));
  if (lp->leaf != NULL) {
    for (size_t i = 0; i < n; i++)
      if (!is_empty(&lp->leaf->s[first + i]))
        return SHMAP__XLAT_EINVAL;
  }
  /* Without a leaf, the nodes from depth `have` down: p.v[i] is the one at
   * depth have + i, the last the leaf. They are linked bottom up once the
   * leaf is filled, so the tree never holds a node still being built. */
  unsigned need = lp->leaf != NULL ? 0 : lp->depth - lp->have;
  if (broken(lp->leaf == NULL && need == 0, "no leaf and none to make"))
    return SHMAP__XLAT_EINVAL;
  pool p = {{NULL}, 0, 0, 0};
  int rc = take_nodes(x, &p, need);
  if (rc != 0)
    return rc;
  node *leaf = need > 0 ? p.v[need - 1] : lp->leaf;
  write_begin(x);
  for (size_t i = 0; i < n; i++)
    put(&leaf->s[first + i], end, val);
  leaf->used += n;
  for (unsigned i = need; i-- > 1;) {
    unsigned sh = BITS * (lp->depth - lp->have - i);
    put(&p.v[i - 1]->s[(s >> sh) & (FANOUT - 1)], 0, (uintptr_t)p.v[i]);
    p.v[i - 1]->used = 1;
  }
  if (need > 0) {
    put(lp->sl[lp->have], 0, (uintptr_t)p.v[0]);
    if (lp->have > 0)
      lp->in[lp->have - 1]->used++;
    else
      x->root_used++;
    x->nodes += need;
  }
  write_end(x);
  return 0;
}

NOINLINE int shmap__xlat_set(shmap__xlat *x, uint64_t offset, uint64_t len,
                             uintptr_t host) {
  if (len == 0)
    return 0;
  if (x->off)
    return SHMAP__XLAT_EINVAL;
  uint64_t s, t;
  int rc = units_of(x, offset, len, &s, &t);
  if (rc != 0)
    return rc;
  leaf_path lp;
  if (leaf_path_of(x, s, t, &lp))
    return set_leaf(x, &lp, s, t, offset + len, host - (uintptr_t)offset);
  unsigned level = x->top / BITS, need = 0;
  rc = plan(x->root, x->root_slots, x->root_used, level, 0, s, t, &need);
  if (rc != 0)
    return rc;
#ifdef SHMAP__XLAT_TEST_STEP
  need -=
      need < shmap__xlat_test_plan_short ? need : shmap__xlat_test_plan_short;
#endif
  if (broken(need > POOL_MAX, "a set needing more nodes than POOL_MAX"))
    return SHMAP__XLAT_EINVAL;
  /* Every node before the first write, so that readers never wait on an
   * allocation and a failure leaves nothing to undo. */
  pool p = {{NULL}, 0, 0, 0};
  rc = take_nodes(x, &p, need);
  if (rc != 0)
    return rc;
  write_begin(x);
  fill(x, x->root, x->root_slots, &x->root_used, level, 0, s, t, offset + len,
       host - (uintptr_t)offset, &p);
  write_end(x);
  /* Part of the range has no translation: lookups there say "not here",
   * which is never wrong, and the caller drops the index on this error. */
  return p.short_of_nodes ? SHMAP__XLAT_EINVAL : 0;
}

/* The slot holding the translation of `unit`, or NULL, for writers and
 * locked readers: a dependent load a level. */
static inline const slot *record_of(const shmap__xlat *x, uint64_t unit) {
  if (unit >= x->units)
    return NULL;
  unsigned sh = x->top;
  const slot *sl = &x->root[unit >> sh];
  while (end_of(sl) == 0) {
    const node *c = (const node *)val_of(sl);
    if (c == NULL)
      return NULL;
    sh -= BITS;
    sl = &c->s[(unit >> sh) & (FANOUT - 1)];
  }
  return sl;
}

/* drop for a range under an existing leaf: its n slots from v on, then
 * the nodes on the way that this leaves empty, from the leaf up. */
static void clear_leaf(shmap__xlat *x, const leaf_path *lp, slot *v, size_t n) {
  write_begin(x);
  for (size_t i = 0; i < n; i++)
    put(&v[i], 0, 0);
  lp->leaf->used -= n;
  /* in[have - 1] is the leaf */
  for (unsigned k = lp->have; k > 0 && lp->in[k - 1]->used == 0; k--) {
    put(lp->sl[k - 1], 0, 0);
    keep_spare(x, lp->in[k - 1]);
    x->nodes--;
    if (k > 1)
      lp->in[k - 2]->used--;
    else
      x->root_used--;
  }
  write_end(x);
}

NOINLINE void shmap__xlat_clear(shmap__xlat *x, uint64_t offset, uint64_t len) {
  uint64_t s, t;
  if (len == 0 || x->off || units_of(x, offset, len, &s, &t) != 0)
    return;
  /* Disjoint ranges never share an end, so `end` names a range: clear only
   * when the range at `offset` ends at offset + len and does not go on
   * below `offset`. Anything else was not set like this and must not cost
   * another range its slots. */
  leaf_path lp;
  int in_leaf = leaf_path_of(x, s, t, &lp);
  if (in_leaf && lp.leaf == NULL)
    return; /* no leaf: nothing is recorded there */
  slot *r = in_leaf ? &lp.leaf->s[s & (FANOUT - 1)] : (slot *)record_of(x, s);
  if (r == NULL || end_of(r) != offset + len)
    return;
  const slot *below = NULL;
  if (in_leaf && (s & (FANOUT - 1)) != 0)
    below = r - 1; /* the same leaf */
  else if (s > 0)
    below = record_of(x, s - 1);
  if (below != NULL && end_of(below) == offset + len)
    return;
  if (in_leaf) {
    clear_leaf(x, &lp, r, (size_t)(t - s) + 1);
    return;
  }
  write_begin(x);
  drop(x, x->root, x->root_slots, &x->root_used, x->top / BITS, 0, s, t);
  write_end(x);
}

void *shmap__xlat_lookup(const shmap__xlat *x, uint64_t offset, uint64_t len) {
  if (x->off)
    return NULL;
  const slot *sl = record_of(x, offset >> x->shift);
  if (sl == NULL || offset + len > end_of(sl))
    return NULL;
  return (void *)(val_of(sl) + (uintptr_t)offset);
}

/* One lock-free walk in the state the counter had when it read `seq`: 1
 * with *host when the counter is still `seq` at the end (nothing the walk
 * read changed), 0 when it moved. The hot path: one slot read a level, and
 * the counter (a line no one writes but writers) read again before each
 * step down, because a torn slot may hold anything in `val`. */
static int walk(const shmap__xlat *x, size_t seq, uint64_t offset, uint64_t len,
                void **host) {
  uint64_t unit = offset >> x->shift;
  void *found = NULL;
  if (unit < x->units) {
    unsigned sh = x->top;
    const slot *sl = &x->root[unit >> sh];
    for (;;) {
      TEST_STEP();
      uint64_t end = end_of(sl);
      TEST_STEP();
      uintptr_t val = val_of(sl);
      if (end != 0) {
        if (offset + len <= end)
          found = (void *)(val + (uintptr_t)offset);
        break;
      }
      /* A leaf holds no child: a torn read, which the last check sees. */
      if (val == 0 || sh == 0)
        break;
      if (atomic_load_explicit(&x->seq, memory_order_relaxed) != seq)
        return 0;
      sh -= BITS;
      sl = &((const node *)val)->s[(unit >> sh) & (FANOUT - 1)];
    }
  }
  if (atomic_load_explicit(&x->seq, memory_order_relaxed) != seq)
    return 0;
  *host = found;
  return 1;
}

int shmap__xlat_lookup_unlocked(const shmap__xlat *x, uint64_t offset,
                                uint64_t len, void **host) {
  for (int i = 0; i < TRIES; i++) {
    size_t seq = atomic_load_explicit(&x->seq, memory_order_acquire);
    /* Odd: a writer holds the caller's lock (waiting for it is what the
     * caller should do) or the table is suspended. */
    if (seq & 1)
      return 0;
    if (walk(x, seq, offset, len, host))
      return 1;
  }
  return 0;
}

size_t shmap__xlat_bytes(const shmap__xlat *x) {
  return shmap__xlat_bytes_used(x) + x->spares * sizeof(node);
}

size_t shmap__xlat_bytes_used(const shmap__xlat *x) {
  return (x->root != NULL ? x->root_slots * sizeof(slot) : 0) +
         x->nodes * sizeof(node);
}
