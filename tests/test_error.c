/* Error codes: every code has a distinct name and description, and failures
 * leave a message and the OS cause behind. */
#include <string.h>

#include "support.h"

static const int codes[] = {
#define XX(name, value, desc) SHMAP_##name,
    SHMAP_ERRNO_MAP(XX)
#undef XX
};
#define NCODES (sizeof codes / sizeof codes[0])

/* error.h lists the codes twice: the documented enum shmap_errno and the
 * SHMAP_ERRNO_MAP table that the names and descriptions come from. Both
 * directions are checked when this file compiles. Every table entry is an
 * enumerator with the table's value: */
#define XX(name, value, desc)                                                  \
  _Static_assert(SHMAP_##name == (value), "SHMAP_" #name " as in the table");
SHMAP_ERRNO_MAP(XX)
#undef XX

/* and every enumerator is in the table: this switch over the enum has a case
 * for each entry and no default, so a code the table lacks fails the build
 * (-Wswitch is in -Wall, and warnings are errors). */
static int in_table(shmap_errno e) {
  switch (e) {
  case SHMAP_OK: return 1;
#define XX(name, value, desc)                                                  \
  case SHMAP_##name: return 1;
    SHMAP_ERRNO_MAP(XX)
#undef XX
  }
  return 0;
}

SHMAP_TEST(error, names_and_descriptions_are_distinct) {
  for (size_t i = 0; i < NCODES; i++) {
    cr_assert(codes[i] < 0);
    cr_assert_neq(strcmp(shmap_err_name(codes[i]), "SHMAP_E?"), 0);
    cr_assert_neq(strcmp(shmap_strerror(codes[i]), "unknown error"), 0);
    for (size_t j = i + 1; j < NCODES; j++) {
      cr_assert_neq(codes[i], codes[j]);
      cr_assert_neq(strcmp(shmap_err_name(codes[i]), shmap_err_name(codes[j])),
                    0);
    }
  }
  cr_assert_str_eq(shmap_err_name(SHMAP_EINVAL), "SHMAP_EINVAL");
  cr_assert_str_eq(shmap_err_name(0), "SHMAP_OK");
  cr_assert_str_eq(shmap_err_name(12345), "SHMAP_E?");
  cr_assert_str_eq(shmap_strerror(-9999), "unknown error");
  for (size_t i = 0; i < NCODES; i++)
    cr_assert(in_table((shmap_errno)codes[i]));
}

SHMAP_TEST(error, failure_leaves_message) {
  shmap_window *w;
  ASSERT_ERR(shmap_window_reserve(0, 0, &w), SHMAP_EEMPTY);
  cr_assert_neq(strstr(shmap_last_message(), "SHMAP_EEMPTY"), NULL,
                "message: %s", shmap_last_message());
  cr_assert_eq(shmap_last_os_error(), 0);
}

SHMAP_TEST(error, os_error_is_kept) {
  shmap_mappable *m;
  /* A handle value that is not open: the OS error explains why. */
  shmap_native_t bogus;
#ifdef _WIN32
  bogus = (shmap_native_t)(uintptr_t)0x7ffc;
#else
  bogus = 1000000;
#endif
  ASSERT_ERR(shmap_mappable_dup(bogus, &m), SHMAP_EBADF);
  cr_assert_neq(shmap_last_os_error(), 0);
}
