/* shmap tests — the second process of the cross-process tests.
 *
 *   shmap_test_child share NATIVE SIZE SEED_IN SEED_OUT
 *     adopt NATIVE, map it read-write into a window of its own, check the
 *     first half holds pattern SEED_IN, write pattern SEED_OUT into the
 *     second half.
 *   shmap_test_child readonly NATIVE SIZE SEED_IN
 *     adopt NATIVE; mapping it read-write must fail with SHMAP_EACCES, and a
 *     read-only mapping must show pattern SEED_IN.
 *
 * Exit 0 on success; each failure has its own code so a test names it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

static int fail(int code, const char *what, int rc) {
  fprintf(stderr, "child: %s: %s: %s\n", what, shmap_err_name(rc),
          shmap_last_message());
  return code;
}

static int run(int argc, char **argv) {
  if (argc < 5)
    return 2;
  int readonly = strcmp(argv[1], "readonly") == 0;
  shmap_native_t native = test_native_parse(argv[2]);
  uint64_t size = strtoull(argv[3], NULL, 0);
  uint32_t seed_in = (uint32_t)strtoul(argv[4], NULL, 0);
  shmap_mappable *m;
  int rc = shmap_mappable_adopt(native, &m);
  if (rc != 0)
    return fail(3, "adopt", rc);
  if (shmap_mappable_size(m) < size)
    return fail(4, "size", 0);
  shmap_window *w;
  rc = shmap_window_reserve(size * 4, 0, &w);
  if (rc != 0)
    return fail(5, "reserve", rc);
  int code = 0;
  if (readonly) {
    rc = shmap_window_map(w, 0, m, 0, size, SHMAP_PROT_RW);
    if (rc != SHMAP_EACCES)
      code = fail(6, "read-write map of a read-only grant", rc);
    else if ((rc = shmap_window_map(w, 0, m, 0, size, SHMAP_PROT_READ)) != 0)
      code = fail(7, "read-only map", rc);
    else if (test_check(shmap_window_base(w), (size_t)size, seed_in) !=
             (size_t)-1)
      code = fail(8, "pattern", 0);
  } else {
    uint32_t seed_out = (uint32_t)strtoul(argv[5], NULL, 0);
    size_t half = (size_t)size / 2;
    rc = shmap_window_map(w, size, m, 0, size, SHMAP_PROT_RW);
    uint8_t *p = shmap_window_translate(w, size, size);
    if (rc != 0)
      code = fail(6, "map", rc);
    else if (p == NULL)
      code = fail(7, "translate", 0);
    else if (test_check(p, half, seed_in) != (size_t)-1)
      code = fail(8, "pattern", 0);
    else
      test_fill(p + half, half, seed_out);
  }
  shmap_window_release(w);
  shmap_mappable_unref(m);
  return code;
}

int main(int argc, char **argv) { return run(argc, argv); }
