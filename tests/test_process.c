/* Cross-process: a real second process receives the OS object, maps it into
 * a window of its own and both sides see each other's writes. */
#include <stdio.h>

#include "support.h"

#define G shmap_map_granularity()

SHMAP_TEST(process, child_sees_and_writes) {
  uint64_t size = 4 * G;
  shmap_mappable *m;
  ASSERT_OK(shmap_mappable_create(size, 0, &m));
  shmap_window *w;
  ASSERT_OK(shmap_window_reserve(size, 0, &w));
  ASSERT_OK(shmap_window_map(w, 0, m, 0, size, SHMAP_PROT_RW));
  uint8_t *p = shmap_window_base(w);
  test_fill(p, (size_t)size / 2, 1234);

  /* The child gets its own duplicate; ours stays with the mappable. */
  shmap_mappable *copy;
  ASSERT_OK(shmap_mappable_dup(shmap_mappable_native(m), &copy));
  char sz[32];
  snprintf(sz, sizeof sz, "%llu", (unsigned long long)size);
  const char *args[] = {"share", "%h", sz, "1234", "5678", NULL};
  int code = test_run_child(args, shmap_mappable_native(copy));
  shmap_mappable_unref(copy);
  cr_assert_eq(code, 0, "child exit code %d", code);
  cr_assert_eq(test_check(p + size / 2, (size_t)size / 2, 5678), (size_t)-1,
               "the child's writes are visible here");
  shmap_window_release(w);
  shmap_mappable_unref(m);
}

SHMAP_TEST(process, readonly_grant_cannot_write) {
  uint64_t size = 2 * G;
  shmap_mappable *m;
  ASSERT_OK(shmap_mappable_create(size, 0, &m));
  shmap_window *w;
  ASSERT_OK(shmap_window_reserve(size, 0, &w));
  ASSERT_OK(shmap_window_map(w, 0, m, 0, size, SHMAP_PROT_RW));
  test_fill(shmap_window_base(w), (size_t)size, 99);
  shmap_native_t ro;
  ASSERT_OK(shmap_mappable_share_readonly(m, &ro));
  char sz[32];
  snprintf(sz, sizeof sz, "%llu", (unsigned long long)size);
  const char *args[] = {"readonly", "%h", sz, "99", NULL};
  int code = test_run_child(args, ro);
  shmap_native_close(ro);
  cr_assert_eq(code, 0, "child exit code %d", code);
  shmap_window_release(w);
  shmap_mappable_unref(m);
}
