/* Threads for tests and benchmarks on POSIX (thread.h). */
#include <pthread.h>
#include <stdlib.h>

#include "thread.h"

struct test_thread {
  pthread_t id;
  void (*fn)(void *);
  void *arg;
};

static void *thread_main(void *p) {
  test_thread *t = p;
  t->fn(t->arg);
  return NULL;
}

test_thread *test_thread_start(void (*fn)(void *), void *arg) {
  test_thread *t = malloc(sizeof *t);
  if (t == NULL)
    return NULL;
  t->fn = fn;
  t->arg = arg;
  if (pthread_create(&t->id, NULL, thread_main, t) != 0) {
    free(t);
    return NULL;
  }
  return t;
}

void test_thread_join(test_thread *t) {
  if (t == NULL)
    return;
  pthread_join(t->id, NULL);
  free(t);
}
