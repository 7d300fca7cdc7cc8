/* shmap tests — the platform-independent part of support.h. */
#include "support.h"

#include <string.h>

void test_fill(void *p, size_t len, uint32_t seed) {
  uint8_t *b = p;
  for (size_t i = 0; i < len; i++)
    b[i] = test_pattern(seed, i);
}

size_t test_check(const void *p, size_t len, uint32_t seed) {
  const uint8_t *b = p;
  for (size_t i = 0; i < len; i++)
    if (b[i] != test_pattern(seed, i))
      return i;
  return (size_t)-1;
}

long test_handle_count_low(void) {
  long low = test_handle_count();
  for (int i = 0; i < 10; i++) {
    test_sleep_ms(10);
    long n = test_handle_count();
    low = n < low ? n : low;
  }
  return low;
}

void test_begin(void) {
  shmap_window *w = NULL;
  (void)shmap_window_reserve(0, 0, &w); /* fails: records an error */
}

int test_rig_open(struct test_rig *r, unsigned flags) {
  uint64_t g = shmap_map_granularity();
  return test_rig_open_sized(r, flags, 64 * g, 8 * g, 31);
}

int test_rig_open_sized(struct test_rig *r, unsigned flags, uint64_t guest_size,
                        uint64_t ram_size, uint32_t seed) {
  memset(r, 0, sizeof *r);
  int rc = shmap_channel_pair(flags, &r->front, &r->back);
  if (rc == 0)
    rc = shmap_window_reserve(guest_size, 0, &r->guest);
  if (rc == 0)
    rc = shmap_backend_create(r->guest, NULL, &r->be);
  if (rc == 0)
    rc = shmap_mappable_create(ram_size, 0, &r->ram);
  if (rc == 0)
    rc = shmap_window_reserve(ram_size, 0, &r->mine);
  if (rc == 0)
    rc = shmap_window_map(r->mine, 0, r->ram, 0, ram_size, SHMAP_PROT_RW);
  if (rc != 0) {
    test_rig_close(r);
    return rc;
  }
  test_fill(shmap_window_base(r->mine), (size_t)ram_size, seed);
  return 0;
}

void test_rig_close(struct test_rig *r) {
  shmap_backend_destroy(r->be);
  shmap_window_release(r->guest);
  shmap_window_release(r->mine);
  shmap_mappable_unref(r->ram);
  shmap_channel_close(r->front);
  shmap_channel_close(r->back);
}

uint8_t *test_rig_host(const struct test_rig *r, uint64_t off) {
  return (uint8_t *)shmap_window_base(r->mine) + off;
}

shmap_region test_rig_region(const struct test_rig *r, uint64_t gpa,
                             uint64_t size, uint64_t off) {
  shmap_region reg = {.guest_address = gpa,
                      .size = size,
                      .mappable = r->ram,
                      .file_offset = off,
                      .host = test_rig_host(r, off)};
  return reg;
}
