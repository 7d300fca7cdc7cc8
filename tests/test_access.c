/* Fault-safe access: read, write and compare-exchange through a window. */
#include <stdlib.h>
#include <string.h>

#include "support.h"

#define G shmap_map_granularity()

SHMAP_TEST(access, read_write_cmpxchg) {
  shmap_mappable *m;
  ASSERT_OK(shmap_mappable_create(2 * G, 0, &m));
  shmap_window *w;
  ASSERT_OK(shmap_window_reserve(8 * G, 0, &w));
  ASSERT_OK(shmap_window_map(w, 2 * G, m, 0, 2 * G, SHMAP_PROT_RW));
  uint8_t in[300], out[300];
  test_fill(in, sizeof in, 5);
  ASSERT_OK(shmap_window_write(w, 2 * G + 100, in, sizeof in, NULL));
  /* Reading needs only a const window (a reader handed one can read). */
  const shmap_window *reader = w;
  ASSERT_OK(shmap_window_read(reader, 2 * G + 100, out, sizeof out, NULL));
  cr_assert_eq(memcmp(in, out, sizeof in), 0);
  cr_assert_eq(
      memcmp((uint8_t *)shmap_window_base(w) + 2 * G + 100, in, sizeof in), 0);

  uint64_t expected = 0;
  ASSERT_OK(shmap_window_cmpxchg64(w, 3 * G, &expected, 77, NULL));
  expected = 5;
  ASSERT_ERR(shmap_window_cmpxchg64(w, 3 * G, &expected, 88, NULL),
             SHMAP_EBUSY);
  cr_assert_eq(expected, 77);
  ASSERT_ERR(shmap_window_cmpxchg64(w, 3 * G + 4, &expected, 88, NULL),
             SHMAP_EALIGN);

  /* Ranges and rights are checked before anything is touched. */
  ASSERT_ERR(shmap_window_read(w, 0, out, 1, NULL), SHMAP_ENOENT);
  ASSERT_ERR(shmap_window_read(w, 4 * G - 1, out, 2, NULL), SHMAP_EPARTIAL);
  ASSERT_ERR(shmap_window_read(w, 2 * G, out, 0, NULL), SHMAP_EEMPTY);
  ASSERT_ERR(shmap_window_read(w, UINT64_MAX, out, 2, NULL), SHMAP_EOVERFLOW);
  ASSERT_ERR(shmap_window_read(NULL, 0, out, 1, NULL), SHMAP_EINVAL);
  ASSERT_ERR(shmap_window_read(w, 2 * G, NULL, 1, NULL), SHMAP_EINVAL);
  ASSERT_OK(shmap_window_protect(w, 2 * G, 2 * G, SHMAP_PROT_READ));
  ASSERT_ERR(shmap_window_write(w, 2 * G, in, 1, NULL), SHMAP_EACCES);
  ASSERT_ERR(shmap_window_cmpxchg64(w, 3 * G, &expected, 1, NULL),
             SHMAP_EACCES);
  ASSERT_OK(shmap_window_read(w, 2 * G + 100, out, sizeof out, NULL));
  ASSERT_OK(shmap_window_protect(w, 2 * G, 2 * G, SHMAP_PROT_NONE));
  ASSERT_ERR(shmap_window_read(w, 2 * G, out, 1, NULL), SHMAP_EACCES);
  shmap_window_release(w);
  shmap_mappable_unref(m);
}

SHMAP_TEST(access, external_records) {
  shmap_window *w;
  ASSERT_OK(shmap_window_reserve(4 * G, 0, &w));
  uint64_t *producer = calloc(1, (size_t)G);
  cr_assert_not_null(producer);
  ASSERT_OK(shmap_window_map_external(w, G, G, producer));
  uint64_t v = 0x1122334455667788ull, expected = 0;
  ASSERT_OK(shmap_window_write(w, G + 8, &v, sizeof v, NULL));
  cr_assert_eq(producer[1], v);
  ASSERT_OK(shmap_window_cmpxchg64(w, G + 16, &expected, 9, NULL));
  cr_assert_eq(producer[2], 9);
  shmap_window_release(w);
  free(producer);
}
