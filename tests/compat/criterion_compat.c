/* The runner of tests/compat/criterion/criterion.h: runs every registered
 * test in a child process of its own (this program started again with
 * --single SUITE NAME) and prints Criterion-style results. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>

#include "criterion/criterion.h"

static struct cr_compat_test *tests;

void cr_compat_register(struct cr_compat_test *t) {
  /* Constructors run in reverse file order; keep the source order. */
  struct cr_compat_test **p = &tests;
  while (*p != NULL)
    p = &(*p)->next;
  *p = t;
}

void cr_compat_fail(const char *file, int line, const char *expr,
                    const char *fmt, ...) {
  fprintf(stderr, "[----] %s:%d: Assertion Failed\n[----]   ", file, line);
  if (fmt[1] != '\0') {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
  } else {
    fprintf(stderr, "The expression %s is false.", expr);
  }
  fputc('\n', stderr);
  fflush(stderr);
  exit(1);
}

void cr_compat_skip(const char *why) {
  fprintf(stderr, "[SKIP] %s\n", why);
  fflush(stderr);
  exit(77);
}

static int run_single(const char *suite, const char *name) {
  for (struct cr_compat_test *t = tests; t != NULL; t = t->next)
    if (strcmp(t->suite, suite) == 0 && strcmp(t->name, name) == 0) {
      t->fn();
      return 0;
    }
  fprintf(stderr, "no test %s::%s\n", suite, name);
  return 2;
}

/* Start this program on one test and return its exit code. */
static DWORD run_child(const char *suite, const char *name) {
  char exe[MAX_PATH], cmd[MAX_PATH + 512];
  GetModuleFileNameA(NULL, exe, sizeof exe);
  snprintf(cmd, sizeof cmd, "\"%s\" --single %s %s", exe, suite, name);
  STARTUPINFOA si;
  PROCESS_INFORMATION pi;
  memset(&si, 0, sizeof si);
  si.cb = sizeof si;
  if (!CreateProcessA(NULL, cmd, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi))
    return 0xdead;
  WaitForSingleObject(pi.hProcess, INFINITE);
  DWORD code = 0xdead;
  GetExitCodeProcess(pi.hProcess, &code);
  CloseHandle(pi.hProcess);
  CloseHandle(pi.hThread);
  return code;
}

int main(int argc, char **argv) {
  if (argc == 4 && strcmp(argv[1], "--single") == 0)
    return run_single(argv[2], argv[3]);
  int tested = 0, passing = 0, failing = 0, crashing = 0, skipped = 0;
  for (struct cr_compat_test *t = tests; t != NULL; t = t->next) {
    if (argc == 3 && strcmp(argv[1], "--filter") == 0 &&
        strstr(t->name, argv[2]) == NULL)
      continue;
    DWORD code = run_child(t->suite, t->name);
    tested++;
    const char *what = "PASS";
    if (code == 0)
      passing++;
    else if (code == 77)
      skipped++, tested--, what = "SKIP";
    else if (code == 1)
      failing++, what = "FAIL";
    else
      crashing++, failing++, what = "FAIL";
    printf("[%s] %s::%s%s\n", what, t->suite, t->name,
           code != 0 && code != 1 && code != 77 ? ": CRASH!" : "");
    fflush(stdout);
  }
  printf("[====] Synthesis: Tested: %d | Passing: %d | Failing: %d | "
         "Crashing: %d \n",
         tested, passing, failing, crashing);
  (void)skipped;
  return failing ? 1 : 0;
}
