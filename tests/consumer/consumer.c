/* consumer — links against an installed shmap and uses both layers once:
 * one mappable mapped twice into a window, written through one mapping and
 * read back through the other. Prints OK, or why not and exits 1. */
#include <stdio.h>
#include <string.h>

#include <shmap.h>

static int fail(const char *what, int rc) {
  fprintf(stderr, "consumer: %s: %s (%s)\n", what, shmap_err_name(rc),
          shmap_last_message());
  return 1;
}

int main(void) {
  const char text[] = "written through the first mapping";
  char back[sizeof text];
  uint64_t g = shmap_map_granularity();
  shmap_mappable *m = NULL;
  shmap_window *w = NULL;
  int rc = shmap_mappable_create(g, 0, &m);
  if (rc != 0)
    return fail("mappable_create", rc);
  if ((rc = shmap_window_reserve(16 * g, 0, &w)) != 0)
    return fail("window_reserve", rc);
  if ((rc = shmap_window_map(w, 0, m, 0, g, SHMAP_PROT_RW)) != 0 ||
      (rc = shmap_window_map(w, 8 * g, m, 0, g, SHMAP_PROT_READ)) != 0)
    return fail("window_map", rc);
  /* The window holds its own references: ours can go now. */
  shmap_mappable_unref(m);

  memcpy(shmap_window_translate(w, 0, sizeof text), text, sizeof text);
  if ((rc = shmap_window_read(w, 8 * g, back, sizeof back, NULL)) != 0)
    return fail("window_read", rc);
  /* A write through the read-only mapping is refused, not a crash. */
  int denied = shmap_window_write(w, 8 * g, text, 1, NULL);
  int ok = memcmp(back, text, sizeof text) == 0 && denied == SHMAP_EACCES &&
           shmap_window_count(w) == 2;
  shmap_window_release(w);
  printf("%s: shmap %s, %s\n", ok ? "OK" : "MISMATCH", SHMAP_VERSION_STRING,
         back);
  return ok ? 0 : 1;
}
