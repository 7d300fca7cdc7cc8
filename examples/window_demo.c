/* window_demo — the smallest use of shmap's first two layers: create shared
 * memory, map it twice into one reserved window, write through one mapping
 * and read through the other. */
#include <stdio.h>
#include <string.h>

#include "shmap.h"

static int fail(const char *what, int rc) {
  fprintf(stderr, "window_demo: %s: %s\n", what, shmap_last_message());
  return rc < 0 ? 1 : rc;
}

int main(void) {
  uint64_t g = shmap_map_granularity();
  shmap_mappable *m = NULL;
  shmap_window *w = NULL;
  int rc = shmap_mappable_create(g, 0, &m);
  if (rc != 0)
    return fail("create", rc);
  rc = shmap_window_reserve(1ull << 30, 0, &w); /* 1 GiB of address space */
  if (rc == 0)
    rc = shmap_window_map(w, 0, m, 0, g, SHMAP_PROT_RW);
  if (rc == 0)
    rc = shmap_window_map(w, 512 * g, m, 0, g, SHMAP_PROT_READ);
  if (rc != 0) {
    shmap_window_release(w);
    shmap_mappable_unref(m);
    return fail("map", rc);
  }
  char *writer = shmap_window_translate(w, 0, g);
  const char *reader = shmap_window_translate(w, 512 * g, g);
  snprintf(writer, (size_t)g, "hello from offset 0x0 of a %llu MiB window",
           (unsigned long long)(shmap_window_size(w) >> 20));
  printf("window at %p, %zu mappings of one %llu-byte mappable\n",
         shmap_window_base(w), shmap_window_count(w), (unsigned long long)g);
  printf("read at offset 0x%llx: \"%s\"\n", (unsigned long long)(512 * g),
         reader);
  int same = strcmp(writer, reader) == 0;
  printf("%s\n", same ? "OK: both mappings show the same bytes" : "MISMATCH");
  shmap_window_release(w);
  shmap_mappable_unref(m);
  return same ? 0 : 1;
}
