/* shmap tests — the platform-independent part of support.h. */
#include "support.h"

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
