/* Windows: reservation, mapping, unmapping without losing the reservation,
 * translation, protection, iteration and argument checks. */
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#  include <errno.h>
#  include <sys/mman.h>
#  include <unistd.h>
#endif

#include "support.h"

#define G shmap_map_granularity()

SHMAP_TEST(window, reserve_one_tib_is_cheap) {
  shmap_window *w;
  uint64_t tib = 1ull << 40;
  ASSERT_OK(shmap_window_reserve(tib, 1ull << 30, &w));
  cr_assert_eq(shmap_window_size(w), tib);
  cr_assert_eq((uintptr_t)shmap_window_base(w) & ((1u << 30) - 1), 0);
  cr_assert(test_range_reserved(shmap_window_base(w), (size_t)G));
  cr_assert(test_range_reserved((uint8_t *)shmap_window_base(w) + tib - G,
                                (size_t)G));
  cr_assert_eq(shmap_window_count(w), 0);
  shmap_window_release(w);
}

#ifndef _WIN32
/* 1 when no mapping of this process covers the page at `p`. */
static int page_unmapped(const uint8_t *p) {
  long page = sysconf(_SC_PAGESIZE);
  uintptr_t a = (uintptr_t)p & ~(uintptr_t)(page - 1);
  return msync((void *)a, (size_t)page, MS_ASYNC) != 0 && errno == ENOMEM;
}

SHMAP_TEST(window, posix_windows_keep_a_hole_on_either_side) {
  /* Two windows reserved one after the other are not merged into one
   * kernel area: each has unmapped address space just below and above,
   * also after a mapping at its very first offset comes and goes. */
  shmap_mappable *m;
  ASSERT_OK(shmap_mappable_create(G, 0, &m));
  shmap_window *w[2];
  ASSERT_OK(shmap_window_reserve(16 * G, 0, &w[0]));
  ASSERT_OK(shmap_window_reserve(16 * G, 0, &w[1]));
  for (int i = 0; i < 2; i++) {
    uint8_t *base = shmap_window_base(w[i]);
    ASSERT_OK(shmap_window_map(w[i], 0, m, 0, G, SHMAP_PROT_RW));
    base[0] = 1;
    ASSERT_OK(shmap_window_unmap(w[i], 0, G));
    cr_assert(test_range_reserved(base, (size_t)(16 * G)));
    cr_assert(page_unmapped(base - 1), "window %d: no hole below", i);
    cr_assert(page_unmapped(base + 16 * G), "window %d: no hole above", i);
  }
  shmap_window_release(w[0]);
  shmap_window_release(w[1]);
  shmap_mappable_unref(m);
}
#endif

SHMAP_TEST(window, two_mappings_share_data) {
  shmap_mappable *m;
  ASSERT_OK(shmap_mappable_create(4 * G, 0, &m));
  shmap_window *w;
  ASSERT_OK(shmap_window_reserve(64 * G, 0, &w));
  ASSERT_OK(shmap_window_map(w, 8 * G, m, G, 2 * G, SHMAP_PROT_RW));
  ASSERT_OK(shmap_window_map(w, 32 * G, m, 0, 4 * G, SHMAP_PROT_READ));
  uint8_t *a = shmap_window_translate(w, 8 * G, 2 * G);
  uint8_t *b = shmap_window_translate(w, 32 * G, 4 * G);
  cr_assert_eq(a, (uint8_t *)shmap_window_base(w) + 8 * G);
  cr_assert_eq(b, (uint8_t *)shmap_window_base(w) + 32 * G);
  test_fill(a, (size_t)(2 * G), 42);
  cr_assert_eq(test_check(b + G, (size_t)(2 * G), 42), (size_t)-1);
  cr_assert_eq(b[0], 0);
  cr_assert_eq(shmap_window_count(w), 2);
  shmap_window_release(w);
  shmap_mappable_unref(m);
}

SHMAP_TEST(window, unmap_keeps_reservation) {
  shmap_mappable *m;
  ASSERT_OK(shmap_mappable_create(4 * G, 0, &m));
  shmap_window *w;
  ASSERT_OK(shmap_window_reserve(16 * G, 0, &w));
  uint8_t *base = shmap_window_base(w);
  ASSERT_OK(shmap_window_map(w, 4 * G, m, 0, 4 * G, SHMAP_PROT_RW));
  cr_assert(!test_range_reserved(base + 4 * G, (size_t)(4 * G)));
  memset(base + 4 * G, 1, (size_t)(4 * G));
  ASSERT_OK(shmap_window_unmap(w, 4 * G, 4 * G));
  cr_assert(test_range_reserved(base, (size_t)(16 * G)),
            "the whole window is reserved again");
  cr_assert_null(shmap_window_translate(w, 4 * G, 1));
  /* The same place can be mapped again, and the data is the mappable's. */
  ASSERT_OK(shmap_window_map(w, 4 * G, m, 0, 4 * G, SHMAP_PROT_READ));
  cr_assert_eq(base[4 * G + 5], 1);
  shmap_window_release(w);
  shmap_mappable_unref(m);
}

SHMAP_TEST(window, anon_and_external) {
  shmap_window *w;
  ASSERT_OK(shmap_window_reserve(16 * G, 0, &w));
  uint8_t *base = shmap_window_base(w);
  ASSERT_OK(shmap_window_map_anon(w, 0, 2 * G, SHMAP_PROT_RW));
  cr_assert_eq(base[G], 0);
  base[G] = 9;
  ASSERT_OK(shmap_window_unmap(w, 0, 2 * G));
  ASSERT_OK(shmap_window_map_anon(w, 0, 2 * G, SHMAP_PROT_RW));
  cr_assert_eq(base[G], 0, "fresh anonymous memory after a remap");

  uint64_t len = 3 * G;
  uint8_t *producer = malloc((size_t)len);
  cr_assert_not_null(producer);
  memset(producer, 0x33, (size_t)len);
  ASSERT_OK(shmap_window_map_external(w, 4 * G, len, producer));
  cr_assert_eq(shmap_window_translate(w, 4 * G + 10, 5), producer + 10);
  cr_assert_null(shmap_window_translate(w, 4 * G + len - 1, 2));
  cr_assert(test_range_reserved(base + 4 * G, (size_t)G),
            "an external record maps nothing into the window");
  ASSERT_ERR(shmap_window_protect(w, 4 * G, len, SHMAP_PROT_READ),
             SHMAP_ENOTSUP);
  ASSERT_ERR(shmap_window_map_external(w, 4 * G, len, producer),
             SHMAP_EOVERLAP);
  ASSERT_ERR(shmap_window_map_external(w, 8 * G, G, NULL), SHMAP_EINVAL);
  ASSERT_ERR(
      shmap_window_map_external(w, 8 * G, 2 * G, (void *)(UINTPTR_MAX - G)),
      SHMAP_EOVERFLOW);
  ASSERT_OK(shmap_window_unmap(w, 4 * G, len));
  cr_assert_eq(shmap_window_count(w), 1);
  shmap_window_release(w);
  free(producer);
}

SHMAP_TEST(window, overlaps_are_rejected) {
  shmap_window *w;
  ASSERT_OK(shmap_window_reserve(32 * G, 0, &w));
  ASSERT_OK(shmap_window_map_anon(w, 8 * G, 4 * G, SHMAP_PROT_RW));
  static const uint64_t starts[][2] = {{8, 4},  {7, 2}, {11, 1}, {9, 1},
                                       {4, 20}, {0, 9}, {11, 8}};
  for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++)
    ASSERT_ERR(shmap_window_map_anon(w, starts[i][0] * G, starts[i][1] * G,
                                     SHMAP_PROT_RW),
               SHMAP_EOVERLAP);
  /* Touching neighbours are fine. */
  ASSERT_OK(shmap_window_map_anon(w, 7 * G, G, SHMAP_PROT_RW));
  ASSERT_OK(shmap_window_map_anon(w, 12 * G, G, SHMAP_PROT_RW));
  cr_assert_eq(shmap_window_count(w), 3);
  shmap_window_release(w);
}

SHMAP_TEST(window, bad_arguments) {
  shmap_window *w;
  ASSERT_ERR(shmap_window_reserve(G, 0, NULL), SHMAP_EINVAL);
  ASSERT_ERR(shmap_window_reserve(0, 0, &w), SHMAP_EEMPTY);
  ASSERT_ERR(shmap_window_reserve(G + 1, 0, &w), SHMAP_EALIGN);
  ASSERT_ERR(shmap_window_reserve(G, 3 * G, &w), SHMAP_EALIGN);
  ASSERT_ERR(shmap_window_reserve(G, G / 2, &w), SHMAP_EALIGN);
  ASSERT_ERR(shmap_window_reserve(UINT64_MAX - G + 1, 0, &w), SHMAP_EOVERFLOW);

  shmap_mappable *m, *ro;
  ASSERT_OK(shmap_mappable_create(4 * G, 0, &m));
  shmap_native_t h;
  ASSERT_OK(shmap_mappable_share_readonly(m, &h));
  ASSERT_OK(shmap_mappable_adopt(h, &ro));
  ASSERT_OK(shmap_window_reserve(16 * G, 0, &w));
  ASSERT_OK(shmap_window_map(w, 4 * G, m, 0, G, SHMAP_PROT_RW));

  ASSERT_ERR(shmap_window_map(NULL, 0, m, 0, G, SHMAP_PROT_RW), SHMAP_EINVAL);
  ASSERT_ERR(shmap_window_map(w, 0, NULL, 0, G, SHMAP_PROT_RW), SHMAP_EINVAL);
  ASSERT_ERR(shmap_window_map(w, 0, m, 0, G, 0), SHMAP_EINVAL);
  ASSERT_ERR(shmap_window_map(w, 0, m, 0, G, 7), SHMAP_EINVAL);
  ASSERT_ERR(shmap_window_map(w, 0, m, 0, 0, SHMAP_PROT_RW), SHMAP_EEMPTY);
  ASSERT_ERR(shmap_window_map(w, 1, m, 0, G, SHMAP_PROT_RW), SHMAP_EALIGN);
  ASSERT_ERR(shmap_window_map(w, 0, m, 1, G, SHMAP_PROT_RW), SHMAP_EALIGN);
  ASSERT_ERR(shmap_window_map(w, 0, m, 0, G + 1, SHMAP_PROT_RW), SHMAP_EALIGN);
  ASSERT_ERR(shmap_window_map(w, UINT64_MAX - G + 1, m, 0, G, SHMAP_PROT_RW),
             SHMAP_EOVERFLOW);
  ASSERT_ERR(shmap_window_map(w, 16 * G, m, 0, G, SHMAP_PROT_RW), SHMAP_ERANGE);
  ASSERT_ERR(shmap_window_map(w, 15 * G, m, 0, 2 * G, SHMAP_PROT_RW),
             SHMAP_ERANGE);
  ASSERT_ERR(shmap_window_map(w, 0, m, 2 * G, 4 * G, SHMAP_PROT_RW),
             SHMAP_EBACKING);
  ASSERT_ERR(shmap_window_map(w, 0, m, UINT64_MAX - G + 1, G, SHMAP_PROT_RW),
             SHMAP_EOVERFLOW);
  ASSERT_ERR(shmap_window_map(w, 4 * G, m, 0, G, SHMAP_PROT_RW),
             SHMAP_EOVERLAP);
  ASSERT_ERR(shmap_window_map(w, 0, ro, 0, G, SHMAP_PROT_RW), SHMAP_EACCES);
  ASSERT_ERR(shmap_window_map_anon(NULL, 0, G, SHMAP_PROT_RW), SHMAP_EINVAL);
  ASSERT_ERR(shmap_window_map_anon(w, 0, G, SHMAP_PROT_NONE), SHMAP_EINVAL);

  ASSERT_ERR(shmap_window_unmap(NULL, 0, G), SHMAP_EINVAL);
  ASSERT_ERR(shmap_window_unmap(w, 0, 0), SHMAP_EEMPTY);
  ASSERT_ERR(shmap_window_unmap(w, 0, G), SHMAP_ENOENT);
  ASSERT_ERR(shmap_window_unmap(w, 16 * G, G), SHMAP_ERANGE);
  ASSERT_ERR(shmap_window_unmap(w, UINT64_MAX, 2), SHMAP_EOVERFLOW);
  ASSERT_ERR(shmap_window_protect(w, 0, G, SHMAP_PROT_READ), SHMAP_ENOENT);
  ASSERT_ERR(shmap_window_protect(w, 4 * G, G, 9), SHMAP_EINVAL);
  ASSERT_ERR(shmap_window_protect(NULL, 4 * G, G, SHMAP_PROT_READ),
             SHMAP_EINVAL);

  shmap_mapping_info info;
  ASSERT_ERR(shmap_window_lookup(w, 0, &info), SHMAP_ENOENT);
  ASSERT_ERR(shmap_window_lookup(w, 0, NULL), SHMAP_EINVAL);
  ASSERT_ERR(shmap_window_foreach(w, NULL, NULL), SHMAP_EINVAL);
  cr_assert_null(shmap_window_translate(NULL, 0, 1));
  cr_assert_null(shmap_window_translate(w, 4 * G, 0));
  cr_assert_null(shmap_window_translate(w, UINT64_MAX, 2));

  /* Nothing above changed the window. */
  cr_assert_eq(shmap_window_count(w), 1);
  cr_assert_not_null(shmap_window_translate(w, 4 * G, G));
  cr_assert(test_range_reserved(shmap_window_base(w), (size_t)(4 * G)));
  cr_assert(test_range_reserved((uint8_t *)shmap_window_base(w) + 5 * G,
                                (size_t)(11 * G)));
  shmap_window_release(w);
  shmap_mappable_unref(m);
  shmap_mappable_unref(ro);
}

SHMAP_TEST(window, unmap_must_be_whole) {
  shmap_window *w;
  ASSERT_OK(shmap_window_reserve(16 * G, 0, &w));
  ASSERT_OK(shmap_window_map_anon(w, 4 * G, 4 * G, SHMAP_PROT_RW));
  ASSERT_ERR(shmap_window_unmap(w, 4 * G, G), SHMAP_EPARTIAL);
  ASSERT_ERR(shmap_window_unmap(w, 5 * G, 3 * G), SHMAP_EPARTIAL);
  ASSERT_ERR(shmap_window_unmap(w, 4 * G, 5 * G), SHMAP_EPARTIAL);
  ASSERT_ERR(shmap_window_protect(w, 4 * G, G, SHMAP_PROT_READ),
             SHMAP_EPARTIAL);
  cr_assert_not_null(shmap_window_translate(w, 4 * G, 4 * G));
  ASSERT_OK(shmap_window_unmap(w, 4 * G, 4 * G));
  shmap_window_release(w);
}

static int collect(const shmap_mapping_info *info, void *arg) {
  shmap_mapping_info *out = arg;
  size_t i = 0;
  while (out[i].len != 0)
    i++;
  out[i] = *info;
  return info->offset == 100 * G ? 77 : 0;
}

SHMAP_TEST(window, foreach_lookup_protect) {
  shmap_mappable *m;
  ASSERT_OK(shmap_mappable_create(2 * G, 0, &m));
  shmap_window *w;
  ASSERT_OK(shmap_window_reserve(128 * G, 0, &w));
  ASSERT_OK(shmap_window_map(w, 10 * G, m, G, G, SHMAP_PROT_RW));
  ASSERT_OK(shmap_window_map_anon(w, 2 * G, G, SHMAP_PROT_READ));
  ASSERT_OK(shmap_window_map_anon(w, 100 * G, G, SHMAP_PROT_RW));
  ASSERT_OK(shmap_window_map_anon(w, 120 * G, G, SHMAP_PROT_RW));
  shmap_mapping_info seen[8];
  memset(seen, 0, sizeof seen);
  cr_assert_eq(shmap_window_foreach(w, collect, seen), 77, "stopped early");
  cr_assert_eq(seen[0].offset, 2 * G);
  cr_assert_eq(seen[0].kind, SHMAP_MAPPING_ANON);
  cr_assert_eq(seen[0].prot, SHMAP_PROT_READ);
  cr_assert_eq(seen[1].offset, 10 * G);
  cr_assert_eq(seen[1].mappable, m);
  cr_assert_eq(seen[1].file_offset, G);
  cr_assert_eq(seen[1].host, (uint8_t *)shmap_window_base(w) + 10 * G);
  cr_assert_eq(seen[2].offset, 100 * G);
  cr_assert_eq(seen[3].len, 0);

  shmap_mapping_info info;
  ASSERT_OK(shmap_window_lookup(w, 10 * G + 17, &info));
  cr_assert_eq(info.offset, 10 * G);
  cr_assert_eq(info.kind, SHMAP_MAPPING_MAPPABLE);

  ASSERT_OK(shmap_window_protect(w, 10 * G, G, SHMAP_PROT_READ));
  ASSERT_OK(shmap_window_lookup(w, 10 * G, &info));
  cr_assert_eq(info.prot, SHMAP_PROT_READ);
  ASSERT_OK(shmap_window_protect(w, 10 * G, G, SHMAP_PROT_NONE));
  ASSERT_OK(shmap_window_protect(w, 10 * G, G, SHMAP_PROT_RW));
  ((uint8_t *)shmap_window_base(w))[10 * G] = 1;
  shmap_window_release(w);
  shmap_mappable_unref(m);
}

SHMAP_TEST(window, ten_thousand_mappings) {
  enum { N = 10000 };
  shmap_mappable *m;
  ASSERT_OK(shmap_mappable_create(N * G, 0, &m));
  shmap_window *w;
  /* A gap after every mapping so the kernel cannot merge neighbours. */
  ASSERT_OK(shmap_window_reserve(2 * N * G, 0, &w));
  /* Map in a scrambled order so the table's inserts land everywhere. */
  for (uint64_t k = 0; k < N; k++) {
    uint64_t i = (k * 7919) % N;
    ASSERT_OK(shmap_window_map(w, 2 * i * G, m, i * G, G, SHMAP_PROT_RW));
  }
  cr_assert_eq(shmap_window_count(w), N);
  for (uint64_t i = 0; i < N; i++) {
    uint64_t *p = shmap_window_translate(w, 2 * i * G + 8, 8);
    cr_assert_not_null(p);
    *p = i;
    cr_assert_null(shmap_window_translate(w, (2 * i + 1) * G, 1));
  }
  /* Read every value back through the mappable at its file offset. */
  shmap_window *check;
  ASSERT_OK(shmap_window_reserve(N * G, 0, &check));
  ASSERT_OK(shmap_window_map(check, 0, m, 0, N * G, SHMAP_PROT_READ));
  const uint8_t *flat = shmap_window_base(check);
  for (uint64_t i = 0; i < N; i++)
    cr_assert_eq(*(const uint64_t *)(flat + i * G + 8), i);
  for (uint64_t k = 0; k < N; k++) {
    uint64_t i = (k * 104729) % N;
    ASSERT_OK(shmap_window_unmap(w, 2 * i * G, G));
  }
  cr_assert_eq(shmap_window_count(w), 0);
  cr_assert(test_range_reserved(shmap_window_base(w), (size_t)(2 * N * G)));
  shmap_window_release(check);
  shmap_window_release(w);
  shmap_mappable_unref(m);
}

/* translate answers the same whether its index holds every mapping (dense
 * or large ones) or was given up for the table's search (small mappings
 * far apart, each of which would need an index leaf of its own): check
 * every mapping, the gaps and the edges across that switch and back. */
SHMAP_TEST(window, translate_dense_sparse_and_external) {
  const uint64_t spacing = 512 * G, n = 64;
  shmap_window *w;
  ASSERT_OK(shmap_window_reserve(n * spacing, 0, &w));
  static uint8_t ext[8192];
  uint8_t *base = shmap_window_base(w);
  for (int round = 0; round < 2; round++) {
    for (uint64_t i = 0; i < n; i++)
      ASSERT_OK(shmap_window_map_anon(w, i * spacing, G, SHMAP_PROT_RW));
    ASSERT_OK(shmap_window_map_external(w, spacing - G, G, ext));
    for (uint64_t i = 0; i < n; i++) {
      cr_assert_eq(shmap_window_translate(w, i * spacing, G),
                   base + i * spacing);
      cr_assert_eq(shmap_window_translate(w, i * spacing + G - 8, 8),
                   base + i * spacing + G - 8);
      cr_assert_null(shmap_window_translate(w, i * spacing + G - 8, 16));
      cr_assert_null(shmap_window_translate(w, i * spacing + G, 1));
    }
    cr_assert_eq(shmap_window_translate(w, spacing - G + 100, 8), ext + 100);
    cr_assert_null(shmap_window_translate(w, n * spacing, 1));
    /* Every other mapping goes; the survivors still translate. */
    for (uint64_t i = 0; i < n; i += 2)
      ASSERT_OK(shmap_window_unmap(w, i * spacing, G));
    for (uint64_t i = 0; i < n; i++)
      cr_assert_eq(shmap_window_translate(w, i * spacing, 1),
                   i % 2 ? base + i * spacing : NULL);
    for (uint64_t i = 1; i < n; i += 2)
      ASSERT_OK(shmap_window_unmap(w, i * spacing, G));
    ASSERT_OK(shmap_window_unmap(w, spacing - G, G));
    cr_assert_eq(shmap_window_count(w), 0);
    /* Empty again: the second round starts with a fresh index. Dense
     * mappings keep it. */
    for (uint64_t i = 0; i < n; i++)
      ASSERT_OK(shmap_window_map_anon(w, i * G, G, SHMAP_PROT_RW));
    for (uint64_t i = 0; i < n; i++)
      cr_assert_eq(shmap_window_translate(w, i * G + 1, 1), base + i * G + 1);
    cr_assert_eq(shmap_window_translate(w, 0, n * G), NULL,
                 "a span across two mappings has no single host range");
    for (uint64_t i = 0; i < n; i++)
      ASSERT_OK(shmap_window_unmap(w, i * G, G));
  }
  shmap_window_release(w);
}
