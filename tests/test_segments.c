/* Guest ranges as host segments (shmap_window_segments,
 * shmap_backend_segments[_uaddr]) and the fault-safe copies across regions
 * (shmap_backend_read/write): what a device does with every descriptor
 * buffer. Every refusal must leave the output empty and copy nothing. */
#include <stdlib.h>
#include <string.h>

#include "support.h"

#define G ((uint64_t)shmap_map_granularity())

/* A window with: [0,2G) and [2G,3G) two mappables side by side, a hole at
 * [3G,4G), [4G,5G) anonymous read-only, [5G,6G) an external range. */
struct layout {
  shmap_window *w;
  shmap_mappable *a, *b;
  uint8_t *ext;
};

static void layout_open(struct layout *l) {
  ASSERT_OK(shmap_window_reserve(8 * G, 0, &l->w));
  ASSERT_OK(shmap_mappable_create(2 * G, 0, &l->a));
  ASSERT_OK(shmap_mappable_create(G, 0, &l->b));
  ASSERT_OK(shmap_window_map(l->w, 0, l->a, 0, 2 * G, SHMAP_PROT_RW));
  ASSERT_OK(shmap_window_map(l->w, 2 * G, l->b, 0, G, SHMAP_PROT_RW));
  ASSERT_OK(shmap_window_map_anon(l->w, 4 * G, G, SHMAP_PROT_READ));
  l->ext = malloc((size_t)G);
  cr_assert_not_null(l->ext);
  ASSERT_OK(shmap_window_map_external(l->w, 5 * G, G, l->ext));
}

static void layout_close(struct layout *l) {
  shmap_window_release(l->w);
  shmap_mappable_unref(l->a);
  shmap_mappable_unref(l->b);
  free(l->ext);
}

SHMAP_TEST(segments, adjacent_mappings_are_one_piece) {
  struct layout l;
  layout_open(&l);
  uint8_t *base = shmap_window_base(l.w);
  shmap_segment s[4];
  size_t n = 9;
  /* Across the seam of the two mappables: one host-contiguous piece. */
  ASSERT_OK(
      shmap_window_segments(l.w, G + 5, 2 * G - 10, SHMAP_PROT_RW, s, 1, &n));
  cr_assert_eq(n, 1);
  cr_assert_eq(s[0].offset, G + 5);
  cr_assert_eq((uint8_t *)s[0].host, base + G + 5);
  cr_assert_eq(s[0].len, 2 * G - 10);
  /* Written through the segment, read back through translate. */
  memset(s[0].host, 0x5a, (size_t)s[0].len);
  cr_assert_eq(*(uint8_t *)shmap_window_translate(l.w, 2 * G, 1), 0x5a);
  /* Read-only memory is fine for reading. */
  ASSERT_OK(shmap_window_segments(l.w, 4 * G, G, SHMAP_PROT_READ, s, 1, &n));
  cr_assert_eq(n, 1);
  layout_close(&l);
}

SHMAP_TEST(segments, external_range_starts_a_new_piece) {
  struct layout l;
  layout_open(&l);
  shmap_segment s[2];
  size_t n;
  /* Read-only anonymous then external: two pieces, the second at the
   * producer's pointer. */
  ASSERT_OK(
      shmap_window_segments(l.w, 5 * G - 16, 32, SHMAP_PROT_READ, s, 2, &n));
  cr_assert_eq(n, 2);
  cr_assert_eq(s[0].len, 16);
  cr_assert_eq(s[1].offset, 5 * G);
  cr_assert_eq((uint8_t *)s[1].host, l.ext);
  cr_assert_eq(s[1].len, 16);
  /* With room for one, all or nothing. */
  s[0].len = 77;
  ASSERT_ERR(
      shmap_window_segments(l.w, 5 * G - 16, 32, SHMAP_PROT_READ, s, 1, &n),
      SHMAP_ELIMIT);
  cr_assert_eq(n, 0);
  layout_close(&l);
}

SHMAP_TEST(segments, refusals_return_nothing) {
  struct layout l;
  layout_open(&l);
  shmap_segment s[4];
  size_t n = 5;
  /* A hole in the middle, at the start, at the end. */
  ASSERT_ERR(
      shmap_window_segments(l.w, 3 * G - 1, 2, SHMAP_PROT_READ, s, 4, &n),
      SHMAP_ENOENT);
  cr_assert_eq(n, 0);
  cr_assert(strstr(shmap_last_message(), "hole") != NULL);
  ASSERT_ERR(shmap_window_segments(l.w, 3 * G, 1, SHMAP_PROT_READ, s, 4, &n),
             SHMAP_ENOENT);
  ASSERT_ERR(
      shmap_window_segments(l.w, 6 * G - 1, 2, SHMAP_PROT_READ, s, 4, &n),
      SHMAP_ENOENT);
  /* A long range that crosses a hole; read-only memory for writing. */
  ASSERT_ERR(
      shmap_window_segments(l.w, 2 * G, 2 * G + 1, SHMAP_PROT_RW, s, 4, &n),
      SHMAP_ENOENT);
  ASSERT_ERR(shmap_window_segments(l.w, 4 * G, 1, SHMAP_PROT_RW, s, 4, &n),
             SHMAP_EACCES);
  /* Past the window, wrapping, empty, nonsense access, NULLs. */
  ASSERT_ERR(
      shmap_window_segments(l.w, 8 * G - 1, 2, SHMAP_PROT_READ, s, 4, &n),
      SHMAP_ERANGE);
  ASSERT_ERR(shmap_window_segments(l.w, 8 * G, 1, SHMAP_PROT_READ, s, 4, &n),
             SHMAP_ERANGE);
  ASSERT_ERR(
      shmap_window_segments(l.w, UINT64_MAX, 2, SHMAP_PROT_READ, s, 4, &n),
      SHMAP_EOVERFLOW);
  ASSERT_ERR(shmap_window_segments(l.w, 0, 0, SHMAP_PROT_READ, s, 4, &n),
             SHMAP_EEMPTY);
  ASSERT_ERR(shmap_window_segments(l.w, 0, 1, SHMAP_PROT_NONE, s, 4, &n),
             SHMAP_EINVAL);
  ASSERT_ERR(shmap_window_segments(l.w, 0, 1, SHMAP_PROT_WRITE, s, 4, &n),
             SHMAP_EINVAL);
  ASSERT_ERR(shmap_window_segments(NULL, 0, 1, SHMAP_PROT_READ, s, 4, &n),
             SHMAP_EINVAL);
  ASSERT_ERR(shmap_window_segments(l.w, 0, 1, SHMAP_PROT_READ, NULL, 4, &n),
             SHMAP_EINVAL);
  ASSERT_ERR(shmap_window_segments(l.w, 0, 1, SHMAP_PROT_READ, s, 0, &n),
             SHMAP_ELIMIT);
  layout_close(&l);
}

/* ---- the back end's view: guest and front-end addresses ---- */

struct serve_n {
  shmap_backend *be;
  shmap_channel *ch;
  int n;
};

static void serve(void *arg) {
  struct serve_n *s = arg;
  for (int i = 0; i < s->n; i++) {
    shmap_event ev;
    if (shmap_backend_serve_one(s->be, s->ch, &ev) != 0 || ev.result != 0)
      return;
  }
}

/* The front end shares one mappable as two regions: guest [G,2G) is its
 * bytes [0,G) and guest [4G,5G) its bytes [G,2G), so front-end addresses
 * run on across the seam while guest addresses jump. */
static void be_open(struct test_rig *r) {
  ASSERT_OK(test_rig_open_sized(r, 0, 8 * G, 2 * G, 7));
  shmap_region a = test_rig_region(r, G, G, 0);
  shmap_region b = test_rig_region(r, 4 * G, G, G);
  struct serve_n s = {r->be, r->back, 2};
  test_thread *t = test_thread_start(serve, &s);
  ASSERT_OK(shmap_frontend_add_region(r->front, &a));
  ASSERT_OK(shmap_frontend_add_region(r->front, &b));
  test_thread_join(t);
  cr_assert_eq(shmap_backend_count(r->be), 2);
}

SHMAP_TEST(segments, backend_guest_and_uaddr_ranges) {
  struct test_rig r;
  be_open(&r);
  shmap_segment s[3];
  size_t n;
  /* A guest range inside one region: its bytes are the front end's. */
  ASSERT_OK(
      shmap_backend_segments(r.be, G + 100, 200, SHMAP_PROT_RW, s, 1, &n));
  cr_assert_eq(n, 1);
  cr_assert_eq(memcmp(s[0].host, test_rig_host(&r, 100), 200), 0);
  /* Guest addresses between the regions are a hole. */
  ASSERT_ERR(
      shmap_backend_segments(r.be, 2 * G - 8, 16, SHMAP_PROT_READ, s, 3, &n),
      SHMAP_ENOENT);
  /* Front-end addresses across the seam: two guest pieces, 4G apart. */
  uint64_t ua = (uint64_t)(uintptr_t)test_rig_host(&r, G - 8);
  ASSERT_OK(
      shmap_backend_segments_uaddr(r.be, ua, 16, SHMAP_PROT_READ, s, 3, &n));
  cr_assert_eq(n, 2);
  cr_assert_eq(s[0].offset, 2 * G - 8);
  cr_assert_eq(s[0].len, 8);
  cr_assert_eq(s[1].offset, 4 * G);
  cr_assert_eq(s[1].len, 8);
  cr_assert_eq(memcmp(s[0].host, test_rig_host(&r, G - 8), 8), 0);
  cr_assert_eq(memcmp(s[1].host, test_rig_host(&r, G), 8), 0);
  ASSERT_ERR(
      shmap_backend_segments_uaddr(r.be, ua, 16, SHMAP_PROT_READ, s, 1, &n),
      SHMAP_ELIMIT);
  cr_assert_eq(n, 0);
  /* Past the front end's memory, and wrapping. */
  ASSERT_ERR(
      shmap_backend_segments_uaddr(r.be, ua, G + 9, SHMAP_PROT_READ, s, 3, &n),
      SHMAP_ENOENT);
  ASSERT_ERR(shmap_backend_segments_uaddr(r.be, UINT64_MAX - 4, 8,
                                          SHMAP_PROT_READ, s, 3, &n),
             SHMAP_EOVERFLOW);
  ASSERT_ERR(
      shmap_backend_segments_uaddr(r.be, 16, 8, SHMAP_PROT_READ, s, 3, &n),
      SHMAP_ENOENT);
  ASSERT_ERR(shmap_backend_segments(NULL, G, 8, SHMAP_PROT_READ, s, 3, &n),
             SHMAP_EINVAL);
  test_rig_close(&r);
}

SHMAP_TEST(segments, backend_copies_across_regions_all_or_nothing) {
  struct test_rig r;
  be_open(&r);
  /* Guest [G,2G) and [4G,5G) are not adjacent: the guest window gets a
   * third region's worth of anonymous memory right after the first one so
   * a copy can cross a seam. */
  ASSERT_OK(shmap_window_map_anon(r.guest, 2 * G, G, SHMAP_PROT_RW));
  uint8_t buf[64], back[64];
  test_fill(buf, sizeof buf, 99);
  ASSERT_OK(shmap_backend_write(r.be, 2 * G - 32, buf, sizeof buf, NULL));
  cr_assert_eq(memcmp(test_rig_host(&r, G - 32), buf, 32), 0,
               "front end sees it");
  ASSERT_OK(shmap_backend_read(r.be, 2 * G - 32, back, sizeof back, NULL));
  cr_assert_eq(memcmp(back, buf, sizeof buf), 0);
  /* A range with a hole writes no byte, not even before the hole. */
  memset(buf, 0xee, sizeof buf);
  uint8_t before = *test_rig_host(&r, G - 1);
  ASSERT_ERR(shmap_backend_write(r.be, 3 * G - 8, buf, 16, NULL), SHMAP_ENOENT);
  ASSERT_ERR(shmap_backend_write(r.be, 2 * G - 1, buf, G + 2, NULL),
             SHMAP_ENOENT);
  cr_assert_eq(*test_rig_host(&r, G - 1), before);
  ASSERT_ERR(shmap_backend_read(r.be, 0, back, 1, NULL), SHMAP_ENOENT);
  ASSERT_ERR(shmap_backend_read(r.be, G, NULL, 1, NULL), SHMAP_EINVAL);
  ASSERT_ERR(shmap_backend_read(NULL, G, back, 1, NULL), SHMAP_EINVAL);
  ASSERT_ERR(shmap_backend_read(r.be, G, back, 0, NULL), SHMAP_EEMPTY);
  test_rig_close(&r);
}
