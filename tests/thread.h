/* A thread for the tests and the benchmarks: one implementation per
 * platform (thread_posix.c, thread_win32.c), compiled into the test support
 * library and into shmap-bench. */
#ifndef SHMAP_TEST_THREAD_H
#define SHMAP_TEST_THREAD_H

/* test_thread_start runs fn(arg) on a new thread (NULL when it cannot);
 * test_thread_join waits for it and frees it (NULL: nothing to do). */
typedef struct test_thread test_thread;
test_thread *test_thread_start(void (*fn)(void *), void *arg);
void test_thread_join(test_thread *t);

#endif
