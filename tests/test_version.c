/* The library's runtime version is the one its headers announce: the
 * number, the string, and the two agree with each other. */
#include <stdio.h>
#include <string.h>

#include "support.h"

SHMAP_TEST(version, number_matches_the_macros) {
  unsigned v = shmap_version();
  cr_assert_eq(v, (unsigned)SHMAP_VERSION_HEX, "shmap_version() 0x%06x", v);
  cr_assert_eq(v >> 16, (unsigned)SHMAP_VERSION_MAJOR);
  cr_assert_eq((v >> 8) & 0xffu, (unsigned)SHMAP_VERSION_MINOR);
  cr_assert_eq(v & 0xffu, (unsigned)SHMAP_VERSION_PATCH);
}

SHMAP_TEST(version, string_matches_the_macros) {
  const char *s = shmap_version_string();
  cr_assert_neq(s, NULL);
  cr_assert_str_eq(s, SHMAP_VERSION_STRING);
  /* The string spells the same three numbers. */
  char want[32];
  snprintf(want, sizeof want, "%d.%d.%d", SHMAP_VERSION_MAJOR,
           SHMAP_VERSION_MINOR, SHMAP_VERSION_PATCH);
  cr_assert_str_eq(s, want);
  /* Static: the same pointer every time. */
  cr_assert_eq(shmap_version_string(), s);
}
