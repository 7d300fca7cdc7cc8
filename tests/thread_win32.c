/* Threads for tests and benchmarks on Windows (thread.h). */
#include <stdlib.h>
#include <windows.h>

#include "thread.h"

struct test_thread {
  HANDLE h;
  void (*fn)(void *);
  void *arg;
};

static DWORD WINAPI thread_main(void *p) {
  test_thread *t = p;
  t->fn(t->arg);
  return 0;
}

test_thread *test_thread_start(void (*fn)(void *), void *arg) {
  test_thread *t = malloc(sizeof *t);
  if (t == NULL)
    return NULL;
  t->fn = fn;
  t->arg = arg;
  t->h = CreateThread(NULL, 0, thread_main, t, 0, NULL);
  if (t->h == NULL) {
    free(t);
    return NULL;
  }
  return t;
}

void test_thread_join(test_thread *t) {
  if (t == NULL)
    return;
  WaitForSingleObject(t->h, INFINITE);
  CloseHandle(t->h);
  free(t);
}
