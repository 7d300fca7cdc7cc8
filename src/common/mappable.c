/* shmap — the portable half of mappables: reference counting and checks.
 * The OS object itself is created and inspected by the platform backend. */
#include <inttypes.h>
#include <stdlib.h>

#include "internal.h"

/* A size seen by adopt's query this recent stands in for the first map's
 * backing check: it is as fresh as any check can be (the object could
 * change between a check and the mmap anyway), and it saves the receiver
 * of a region a second fstat. */
#define QUERY_FRESH_NS 1000000u

static int wrap(shmap_native_t native, uint64_t size, unsigned access,
                int size_fixed, int committed, shmap_mappable **out) {
  shmap_mappable *m = malloc(sizeof *m);
  if (m == NULL)
    return shmap__err(SHMAP_ENOMEM, "mappable: out of memory");
  atomic_init(&m->refs, 1);
  atomic_init(&m->access, access);
  m->native = native;
  m->size = size;
  m->size_fixed = size_fixed;
  m->committed = committed;
  atomic_init(&m->fresh, 1);
  m->queried_ns = shmap_time_ns();
  *out = m;
  return 0;
}

SHMAP__FLATTEN int shmap_mappable_create(uint64_t size, unsigned flags,
                                         shmap_mappable **out) {
  if (out == NULL)
    return shmap__err(SHMAP_EINVAL, "mappable create: NULL out");
  if (size == 0)
    return shmap__err(SHMAP_EEMPTY, "mappable create: zero length");
  if (flags & ~(unsigned)SHMAP_CREATE_SEAL_SEAL)
    return shmap__err(SHMAP_EINVAL, "mappable create: unknown flags 0x%x",
                      flags);
  uint64_t gran = shmap__os_granularity();
  if (size > UINT64_MAX - (gran - 1))
    return shmap__err(SHMAP_EOVERFLOW,
                      "mappable create: size 0x%" PRIx64
                      " overflows when rounded to 0x%" PRIx64,
                      size, gran);
  size = (size + gran - 1) & ~(gran - 1);
  shmap_native_t native;
  int fixed = 0;
  int rc = shmap__os_mappable_create(size, flags, &native, &fixed);
  if (rc != 0)
    return rc;
  rc = wrap(native, size, SHMAP_PROT_RW, fixed, 1, out);
  if (rc != 0)
    shmap_native_close(native);
  return rc;
}

SHMAP__FLATTEN int shmap_mappable_adopt(shmap_native_t native,
                                        shmap_mappable **out) {
  if (out == NULL)
    return shmap__err(SHMAP_EINVAL, "mappable adopt: NULL out");
  uint64_t size;
  int committed;
  int rc = shmap__os_mappable_query(native, &size, NULL, &committed);
  if (rc != 0)
    return rc;
  return wrap(native, size, 0, shmap__os_sizes_fixed(), committed, out);
}

SHMAP__FLATTEN int shmap__mappable_adopt_peer(shmap_native_t native,
                                              int allow_unsealed,
                                              shmap_mappable **out) {
  /* Adopt first: it says what is wrong with a pipe or a directory. */
  int rc = shmap_mappable_adopt(native, out);
  if (rc != 0)
    return rc;
  int sealed = 0;
  rc = shmap__os_check_sealed(native, allow_unsealed, &sealed);
  if (rc != 0) {
    free(*out); /* the only reference; `native` goes back to the caller */
    *out = NULL;
    return rc;
  }
  /* It can never shrink below the size adopt saw: no map need ask again. */
  if (sealed)
    (*out)->size_fixed = 1;
  return 0;
}

int shmap_mappable_dup(shmap_native_t native, shmap_mappable **out) {
  if (out == NULL)
    return shmap__err(SHMAP_EINVAL, "mappable dup: NULL out");
  uint64_t size;
  int committed;
  int rc = shmap__os_mappable_query(native, &size, NULL, &committed);
  if (rc != 0)
    return rc;
  shmap_native_t copy;
  rc = shmap__os_native_dup(native, &copy);
  if (rc != 0)
    return rc;
  rc = wrap(copy, size, 0, shmap__os_sizes_fixed(), committed, out);
  if (rc != 0)
    shmap_native_close(copy);
  return rc;
}

shmap_mappable *shmap_mappable_ref(shmap_mappable *m) {
  if (m != NULL)
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
  return m;
}

SHMAP__FLATTEN void shmap_mappable_unref(shmap_mappable *m) {
  if (m == NULL)
    return;
  /* acq_rel: the thread that frees must see every other owner's writes. */
  if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1)
    return;
  shmap_native_close(m->native);
  free(m);
}

uint64_t shmap_mappable_size(const shmap_mappable *m) {
  return m != NULL ? m->size : 0;
}

unsigned shmap_mappable_access(const shmap_mappable *m) {
  if (m == NULL)
    return SHMAP_PROT_NONE;
  unsigned access = atomic_load_explicit(&m->access, memory_order_relaxed);
  if (access != 0)
    return access;
  /* Racing callers ask the OS the same question and store the same answer;
   * the cast drops a const that only this cache ignores. */
  uint64_t size;
  int committed;
  if (shmap__os_mappable_query(m->native, &size, &access, &committed) != 0)
    return SHMAP_PROT_NONE;
  atomic_store_explicit(&((shmap_mappable *)m)->access, access,
                        memory_order_relaxed);
  return access;
}

unsigned shmap__mappable_known_access(const shmap_mappable *m) {
  return atomic_load_explicit(&m->access, memory_order_relaxed);
}

shmap_native_t shmap_mappable_native(const shmap_mappable *m) {
  return m != NULL ? m->native : SHMAP_NATIVE_INVALID;
}

int shmap_mappable_share_readonly(const shmap_mappable *m,
                                  shmap_native_t *out) {
  if (m == NULL || out == NULL)
    return shmap__err(SHMAP_EINVAL, "mappable share_readonly: NULL argument");
  return shmap__os_share_readonly(m->native, out);
}

int shmap_mappable_seal_writes(shmap_mappable *m) {
  if (m == NULL)
    return shmap__err(SHMAP_EINVAL, "mappable seal_writes: NULL mappable");
  int rc = shmap__os_seal_writes(m->native);
  /* From now on a read-write map of it is refused up front (SHMAP_EACCES)
   * rather than by the OS. */
  if (rc == 0)
    atomic_store_explicit(&m->access, SHMAP_PROT_READ, memory_order_relaxed);
  return rc;
}

static int check_range(const char *what, const shmap_mappable *m,
                       uint64_t offset, uint64_t len, int fresh) {
  if (m == NULL)
    return shmap__err(SHMAP_EINVAL, "%s: NULL mappable", what);
  if (len == 0)
    return shmap__err(SHMAP_EEMPTY, "%s: zero length at file offset 0x%" PRIx64,
                      what, offset);
  if (offset > UINT64_MAX - len)
    return shmap__err(SHMAP_EOVERFLOW,
                      "%s: file offset 0x%" PRIx64 " + length 0x%" PRIx64
                      " overflows",
                      what, offset, len);
  uint64_t size = m->size;
  int committed = m->committed;
  if (!m->size_fixed && !fresh) {
    int rc = shmap__os_mappable_query(m->native, &size, NULL, &committed);
    if (rc != 0)
      return rc;
  }
  if (!committed)
    return shmap__err(SHMAP_EBACKING,
                      "%s: the mappable is not committed memory (pages "
                      "reserved, not committed)",
                      what);
  if (offset + len > size)
    return shmap__err(SHMAP_EBACKING,
                      "%s: file offset 0x%" PRIx64 " + length 0x%" PRIx64
                      " exceeds the mappable's size 0x%" PRIx64,
                      what, offset, len, size);
  return 0;
}

int shmap_mappable_check_range(const shmap_mappable *m, uint64_t offset,
                               uint64_t len) {
  return check_range("mappable check range", m, offset, len, 0);
}

int shmap__mappable_check_map(const char *what, shmap_mappable *m,
                              uint64_t offset, uint64_t len) {
  int fresh = m != NULL && !m->size_fixed &&
              atomic_exchange_explicit(&m->fresh, 0, memory_order_relaxed) &&
              shmap_time_ns() - m->queried_ns <= QUERY_FRESH_NS;
  return check_range(what, m, offset, len, fresh);
}
