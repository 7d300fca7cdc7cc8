/* A Criterion-compatible subset for the Windows build of the tests
 * (Criterion itself is not packaged for mingw-w64). It provides exactly what
 * tests/support.h lists: Test(suite, name), cr_assert, cr_assert_eq/neq,
 * cr_assert_null/not_null, cr_assert_str_eq, cr_skip_test. Like Criterion,
 * every test runs in a process of its own (the runner starts itself once
 * per test), and the run ends with Criterion's "Synthesis" line. */
#ifndef SHMAP_CRITERION_COMPAT_H
#define SHMAP_CRITERION_COMPAT_H

#include <stdio.h>
#include <string.h>

struct cr_compat_test {
  const char *suite;
  const char *name;
  void (*fn)(void);
  struct cr_compat_test *next;
};

void cr_compat_register(struct cr_compat_test *t);
__attribute__((noreturn, format(gnu_printf, 4, 5))) void
cr_compat_fail(const char *file, int line, const char *expr, const char *fmt,
               ...);
__attribute__((noreturn)) void cr_compat_skip(const char *why);

#define Test(suite, name, ...)                                                 \
  static void suite##_##name##_impl(void);                                     \
  static struct cr_compat_test suite##_##name##_desc = {                       \
      #suite, #name, suite##_##name##_impl, NULL};                             \
  __attribute__((constructor)) static void suite##_##name##_reg(void) {        \
    cr_compat_register(&suite##_##name##_desc);                                \
  }                                                                            \
  static void suite##_##name##_impl(void)

/* The message is optional; when given its first word is a string literal,
 * so " " followed by it concatenates into the format (never empty). */
#define cr_assert(cond, ...)                                                   \
  do {                                                                         \
    if (!(cond))                                                               \
      cr_compat_fail(__FILE__, __LINE__, #cond, " " __VA_ARGS__);              \
  } while (0)
#define cr_assert_eq(a, b, ...) cr_assert((a) == (b), ##__VA_ARGS__)
#define cr_assert_neq(a, b, ...) cr_assert((a) != (b), ##__VA_ARGS__)
#define cr_assert_null(p, ...) cr_assert((p) == NULL, ##__VA_ARGS__)
#define cr_assert_not_null(p, ...) cr_assert((p) != NULL, ##__VA_ARGS__)
#define cr_assert_str_eq(a, b, ...)                                            \
  cr_assert(strcmp((a), (b)) == 0, ##__VA_ARGS__)
#define cr_skip_test(why) cr_compat_skip(why)

#endif
