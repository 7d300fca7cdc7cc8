/* Mappables: creation, adoption, reference counting, read-only sharing and
 * the range check, with real OS objects. */
#include <string.h>

#include "support.h"

SHMAP_TEST(mappable, create_rounds_and_zero_fills) {
  uint64_t g = shmap_map_granularity();
  shmap_mappable *m;
  ASSERT_OK(shmap_mappable_create(1, 0, &m));
  cr_assert_eq(shmap_mappable_size(m), g);
  cr_assert_eq(shmap_mappable_access(m), SHMAP_PROT_RW);
  cr_assert(test_native_is_open(shmap_mappable_native(m)));
  shmap_window *w;
  ASSERT_OK(shmap_window_reserve(g, 0, &w));
  ASSERT_OK(shmap_window_map(w, 0, m, 0, g, SHMAP_PROT_READ));
  const uint8_t *p = shmap_window_base(w);
  for (uint64_t i = 0; i < g; i++)
    cr_assert_eq(p[i], 0);
  shmap_window_release(w);
  shmap_mappable_unref(m);
}

SHMAP_TEST(mappable, create_bad_arguments) {
  shmap_mappable *m = NULL;
  ASSERT_ERR(shmap_mappable_create(0, 0, &m), SHMAP_EEMPTY);
  ASSERT_ERR(shmap_mappable_create(4096, 0, NULL), SHMAP_EINVAL);
  ASSERT_ERR(shmap_mappable_create(4096, 0x80, &m), SHMAP_EINVAL);
  ASSERT_ERR(shmap_mappable_create(UINT64_MAX, 0, &m), SHMAP_EOVERFLOW);
  ASSERT_ERR(shmap_mappable_create(UINT64_MAX - 100000, 0, &m),
             SHMAP_EOVERFLOW);
  cr_assert_null(m);
}

SHMAP_TEST(mappable, last_unref_closes_the_object) {
  shmap_mappable *m;
  ASSERT_OK(shmap_mappable_create(4096, 0, &m));
  shmap_native_t h = shmap_mappable_native(m);
  cr_assert_eq(shmap_mappable_ref(m), m);
  shmap_window *w;
  uint64_t g = shmap_map_granularity();
  ASSERT_OK(shmap_window_reserve(4 * g, 0, &w));
  ASSERT_OK(shmap_window_map(w, 0, m, 0, g, SHMAP_PROT_RW)); /* window ref */
  shmap_mappable_unref(m);
  cr_assert(test_native_is_open(h));
  shmap_mappable_unref(m);
  cr_assert(test_native_is_open(h), "window still holds a reference");
  /* The mapping keeps working on its own reference. */
  memset(shmap_window_base(w), 0x5a, (size_t)g);
  ASSERT_OK(shmap_window_unmap(w, 0, g));
  cr_assert(!test_native_is_open(h), "closed when the window let go");
  shmap_window_release(w);
  shmap_mappable_unref(NULL);
}

SHMAP_TEST(mappable, release_drops_references) {
  shmap_mappable *m;
  ASSERT_OK(shmap_mappable_create(4096, 0, &m));
  shmap_native_t h = shmap_mappable_native(m);
  shmap_window *w;
  uint64_t g = shmap_map_granularity();
  ASSERT_OK(shmap_window_reserve(8 * g, 0, &w));
  for (uint64_t i = 0; i < 8; i++)
    ASSERT_OK(shmap_window_map(w, i * g, m, 0, g, SHMAP_PROT_RW));
  shmap_mappable_unref(m);
  cr_assert(test_native_is_open(h));
  shmap_window_release(w);
  cr_assert(!test_native_is_open(h));
}

SHMAP_TEST(mappable, dup_and_adopt) {
  shmap_mappable *a, *b, *c;
  ASSERT_OK(shmap_mappable_create(3 * 4096, 0, &a));
  ASSERT_OK(shmap_mappable_dup(shmap_mappable_native(a), &b));
  cr_assert_neq(shmap_mappable_native(a), shmap_mappable_native(b));
  cr_assert_eq(shmap_mappable_size(a), shmap_mappable_size(b));
  shmap_native_t ro;
  ASSERT_OK(shmap_mappable_share_readonly(a, &ro));
  ASSERT_OK(shmap_mappable_adopt(ro, &c));
  cr_assert_eq(shmap_mappable_native(c), ro);
  cr_assert_eq(shmap_mappable_access(c), SHMAP_PROT_READ);
  cr_assert_eq(shmap_mappable_size(c), shmap_mappable_size(a));
  /* All three name the same memory. */
  uint64_t g = shmap_map_granularity();
  shmap_window *w;
  ASSERT_OK(shmap_window_reserve(4 * g, 0, &w));
  ASSERT_OK(shmap_window_map(w, 0, a, 0, g, SHMAP_PROT_RW));
  ASSERT_OK(shmap_window_map(w, g, b, 0, g, SHMAP_PROT_READ));
  ASSERT_OK(shmap_window_map(w, 2 * g, c, 0, g, SHMAP_PROT_READ));
  ASSERT_ERR(shmap_window_map(w, 3 * g, c, 0, g, SHMAP_PROT_RW), SHMAP_EACCES);
  uint8_t *base = shmap_window_base(w);
  test_fill(base, (size_t)g, 7);
  cr_assert_eq(test_check(base + g, (size_t)g, 7), (size_t)-1);
  cr_assert_eq(test_check(base + 2 * g, (size_t)g, 7), (size_t)-1);
  shmap_window_release(w);
  shmap_mappable_unref(a);
  shmap_mappable_unref(b);
  shmap_mappable_unref(c);
}

SHMAP_TEST(mappable, adopt_bad_native) {
  shmap_mappable *m = NULL;
  ASSERT_ERR(shmap_mappable_adopt(SHMAP_NATIVE_INVALID, &m), SHMAP_EBADF);
  ASSERT_ERR(shmap_mappable_dup(SHMAP_NATIVE_INVALID, &m), SHMAP_EBADF);
  ASSERT_ERR(shmap_mappable_adopt(SHMAP_NATIVE_INVALID, NULL), SHMAP_EINVAL);
  cr_assert_null(m);
}

SHMAP_TEST(mappable, check_range) {
  shmap_mappable *m;
  uint64_t g = shmap_map_granularity();
  ASSERT_OK(shmap_mappable_create(2 * g, 0, &m));
  ASSERT_OK(shmap_mappable_check_range(m, 0, 2 * g));
  ASSERT_OK(shmap_mappable_check_range(m, g, g));
  ASSERT_OK(shmap_mappable_check_range(m, 1, 2 * g - 1));
  ASSERT_ERR(shmap_mappable_check_range(m, g, 2 * g), SHMAP_EBACKING);
  ASSERT_ERR(shmap_mappable_check_range(m, 2 * g, 1), SHMAP_EBACKING);
  ASSERT_ERR(shmap_mappable_check_range(m, 0, 0), SHMAP_EEMPTY);
  ASSERT_ERR(shmap_mappable_check_range(m, UINT64_MAX, 1), SHMAP_EOVERFLOW);
  ASSERT_ERR(shmap_mappable_check_range(NULL, 0, 1), SHMAP_EINVAL);
  shmap_mappable_unref(m);
}

SHMAP_TEST(mappable, share_readonly_bad_arguments) {
  shmap_native_t h;
  ASSERT_ERR(shmap_mappable_share_readonly(NULL, &h), SHMAP_EINVAL);
  shmap_mappable *m;
  ASSERT_OK(shmap_mappable_create(4096, 0, &m));
  ASSERT_ERR(shmap_mappable_share_readonly(m, NULL), SHMAP_EINVAL);
  shmap_mappable_unref(m);
}
