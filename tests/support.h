/* shmap tests — helpers shared by every test program, with one
 * implementation per platform (support_posix.c, support_win32.c).
 *
 * Tests use only this subset of Criterion so they also build against
 * tests/compat for Windows: Test(suite, name), cr_assert, cr_assert_eq,
 * cr_assert_neq, cr_assert_null, cr_assert_not_null, cr_assert_str_eq. */
#ifndef SHMAP_TEST_SUPPORT_H
#define SHMAP_TEST_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

/* The child helper is a plain program: no test framework in it. */
#ifndef SHMAP_TEST_NO_FRAMEWORK
#  include <criterion/criterion.h>
#endif

#include "shmap.h"
#include "thread.h"

/* Open descriptors (POSIX: entries of /proc/self/fd) or handles (Windows:
 * GetProcessHandleCount) of this process. */
long test_handle_count(void);
/* The lowest count seen over about 100 ms. On Windows the runtime and the
 * Wine server open short-lived handles of their own now and then; a base
 * line for an exact comparison must not include one. */
long test_handle_count_low(void);
/* Make this thread's one-time allocations (mingw's emulated thread-local
 * storage takes a handle the first time a thread records an error) before
 * a test counts handles. */
void test_begin(void);

/* 1 when `native` is an open descriptor/handle in this process. */
int test_native_is_open(shmap_native_t native);

/* 1 when bytes wait to be read on the connected socket/pipe `native` right
 * now (POSIX: poll says POLLIN with data, no blocking; Windows:
 * PeekNamedPipe), 0 when none, -1 on error. Reads nothing. */
int test_native_pending(shmap_native_t native);

/* A small OS object that is not memory, to travel as a vring's kick/call
 * descriptor (POSIX: an eventfd, or the read end of a pipe; Windows: an
 * event). The caller closes it (shmap_native_close()). */
shmap_native_t test_event_open(void);

/* Sleep about `ms` milliseconds. */
void test_sleep_ms(unsigned ms);

/* 1 when every byte of [addr, addr+len) is reserved address space with no
 * access (POSIX: a ---p anonymous line of /proc/self/maps covers it;
 * Windows: VirtualQuery says MEM_RESERVE). */
int test_range_reserved(const void *addr, size_t len);

/* Run the helper program (shmap_test_child, beside the test binary) with
 * `args`, letting it inherit `native` (which may be SHMAP_NATIVE_INVALID).
 * The placeholder "%h" in args is replaced by the native value. Returns the
 * child's exit code, or -1 if it could not be run. */
int test_run_child(const char *const *args, shmap_native_t native);

/* Threads: thread.h. */

/* Parse / format a native value on a command line. */
shmap_native_t test_native_parse(const char *s);
void test_native_format(shmap_native_t native, char *buf, size_t cap);

/* Deterministic byte pattern: byte i of a pattern seeded with `seed`. */
static inline uint8_t test_pattern(uint32_t seed, uint64_t i) {
  uint64_t x = (i + 1) * 0x9E3779B97F4A7C15ull ^ seed;
  return (uint8_t)(x >> 56);
}
void test_fill(void *p, size_t len, uint32_t seed);

/* A front end and a back end over a real channel pair, the back end's
 * guest window, and RAM the front end maps itself (so its own address of
 * each region is real). test_rig_open: a 64G guest window, 8G of RAM filled
 * with test_fill(..., 31); test_rig_open_sized: other sizes and seed. Both
 * return 0, or the first error (having closed what they opened).
 * test_rig_close closes everything. */
struct test_rig {
  shmap_channel *front, *back; /* from shmap_channel_pair(flags) */
  shmap_window *guest;         /* the back end's guest window */
  shmap_backend *be;
  shmap_mappable *ram;
  shmap_window *mine; /* the front end's own view of ram, mapped RW */
};
int test_rig_open(struct test_rig *r, unsigned flags);
int test_rig_open_sized(struct test_rig *r, unsigned flags, uint64_t guest_size,
                        uint64_t ram_size, uint32_t seed);
void test_rig_close(struct test_rig *r);
/* The front end's own address of byte `off` of ram: what a region sends
 * as userspace_addr. */
uint8_t *test_rig_host(const struct test_rig *r, uint64_t off);
/* Guest [gpa, gpa+size) backed by ram from `off`, with its host address. */
shmap_region test_rig_region(const struct test_rig *r, uint64_t gpa,
                             uint64_t size, uint64_t off);

/* Little-endian stores for building wire frames by hand. */
static inline void le32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}
static inline void le64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}
/* Index of the first mismatching byte, or (size_t)-1 when all match. */
size_t test_check(const void *p, size_t len, uint32_t seed);

/* A test that also asserts it leaked no descriptor or handle. */
#define SHMAP_TEST(suite, name)                                                \
  static void suite##_##name##_body(void);                                     \
  Test(suite, name) {                                                          \
    test_begin();                                                              \
    long before_ = test_handle_count();                                        \
    suite##_##name##_body();                                                   \
    cr_assert_eq(test_handle_count(), before_,                                 \
                 "descriptor/handle count changed: %ld before, %ld after",     \
                 before_, test_handle_count());                                \
  }                                                                            \
  static void suite##_##name##_body(void)

/* Assert a call fails with exactly `code` and left a message. */
#define ASSERT_ERR(call, code)                                                 \
  do {                                                                         \
    int rc_ = (call);                                                          \
    cr_assert_eq(rc_, (code), "%s: got %s, want %s (%s)", #call,               \
                 shmap_err_name(rc_), shmap_err_name(code),                    \
                 shmap_last_message());                                        \
    if (rc_ != 0)                                                              \
      cr_assert_neq(shmap_last_message()[0], '\0', "no message for %s",        \
                    #call);                                                    \
  } while (0)

#define ASSERT_OK(call) ASSERT_ERR(call, 0)

#endif
