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

/* ---- the same condition, the same code and message on both platforms ---- */

#ifdef _WIN32
#  include <windows.h>
#else
#  include <errno.h>
#  include <stdio.h>
#  include <stdlib.h>
#  include <sys/socket.h>
#  include <sys/un.h>
#  include <unistd.h>
#endif

/* A channel address nobody has used: a pipe name, or a socket path in a
 * fresh directory (removed by addr_done). */
static void addr_make(char *buf, size_t cap) {
  static int n;
#ifdef _WIN32
  snprintf(buf, cap, "\\\\.\\pipe\\shmap-test-error-%lu-%d",
           (unsigned long)GetCurrentProcessId(), ++n);
#else
  char dir[] = "/tmp/shmap-test-error-XXXXXX";
  cr_assert_not_null(mkdtemp(dir));
  snprintf(buf, cap, "%s/sock%d", dir, ++n);
#endif
}

static void addr_done(const char *addr) {
#ifdef _WIN32
  (void)addr;
#else
  char dir[256];
  snprintf(dir, sizeof dir, "%s", addr);
  unlink(dir);
  char *slash = strrchr(dir, '/');
  if (slash != NULL) {
    *slash = 0;
    rmdir(dir);
  }
#endif
}

/* The OS's own text for the thread's last OS error. */
static void os_text(int err, char *buf, size_t cap) {
#ifdef _WIN32
  DWORD n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM |
                               FORMAT_MESSAGE_IGNORE_INSERTS |
                               FORMAT_MESSAGE_MAX_WIDTH_MASK,
                           NULL, (DWORD)err, 0, buf, (DWORD)cap, NULL);
  cr_assert_neq(n, 0, "no system text for %d", err);
  while (n > 0 && (buf[n - 1] == '\r' || buf[n - 1] == '\n' ||
                   buf[n - 1] == ' ' || buf[n - 1] == '.'))
    buf[--n] = 0;
#else
  snprintf(buf, cap, "%s", strerror(err));
#endif
}

SHMAP_TEST(error, connect_with_no_listener_is_refused) {
  char addr[200];
  addr_make(addr, sizeof addr);
  shmap_channel *c;
  /* No socket file, no pipe of that name. */
  ASSERT_ERR(shmap_channel_connect(addr, SHMAP_ROLE_FRONTEND, 0, &c),
             SHMAP_ECONNREFUSED);
  /* The OS's text is in the message, after its number. */
  int err = shmap_last_os_error();
  cr_assert_neq(err, 0);
  char text[256], want[300];
  os_text(err, text, sizeof text);
  snprintf(want, sizeof want, "OS error %d: %s", err, text);
  cr_assert_neq(strstr(shmap_last_message(), want), NULL,
                "message: %s; wanted: %s", shmap_last_message(), want);
#ifndef _WIN32
  /* A socket file nobody is bound to: refused, the same code. */
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  cr_assert_lt(strlen(addr), sizeof sa.sun_path);
  memcpy(sa.sun_path, addr, strlen(addr) + 1);
  cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  close(fd);
  ASSERT_ERR(shmap_channel_connect(addr, SHMAP_ROLE_FRONTEND, 0, &c),
             SHMAP_ECONNREFUSED);
  cr_assert_neq(strstr(shmap_last_message(), strerror(ECONNREFUSED)), NULL,
                "message: %s", shmap_last_message());
#endif
  addr_done(addr);
}

SHMAP_TEST(error, listening_on_a_busy_address_is_busy) {
  char addr[200];
  addr_make(addr, sizeof addr);
  shmap_listener *l, *l2;
  ASSERT_OK(shmap_listener_open(addr, &l));
  ASSERT_ERR(shmap_listener_open(addr, &l2), SHMAP_EBUSY);
  shmap_listener_close(l);
#ifndef _WIN32
  /* Something that is not a socket in the way (bind: EADDRINUSE): busy
   * too, and it is left alone. */
  FILE *f = fopen(addr, "w");
  cr_assert_not_null(f);
  fclose(f);
  ASSERT_ERR(shmap_listener_open(addr, &l2), SHMAP_EBUSY);
  cr_assert_eq(shmap_last_os_error(), EADDRINUSE);
  cr_assert_eq(access(addr, F_OK), 0);
#endif
  addr_done(addr);
}

SHMAP_TEST(error, zero_size_is_empty_everywhere) {
  shmap_mappable *m;
  shmap_window *w;
  ASSERT_ERR(shmap_mappable_create(0, 0, &m), SHMAP_EEMPTY);
  cr_assert_neq(strstr(shmap_last_message(), "zero length"), NULL,
                "message: %s", shmap_last_message());
  ASSERT_ERR(shmap_window_reserve(0, 0, &w), SHMAP_EEMPTY);
  cr_assert_neq(strstr(shmap_last_message(), "zero length"), NULL,
                "message: %s", shmap_last_message());
}

/* A read-write map of a read-only grant: one code and one message, whether
 * or not the mappable's access was asked first. */
SHMAP_TEST(error, read_write_map_of_read_only_grant_is_one_failure) {
  uint64_t g = shmap_map_granularity();
  shmap_mappable *m, *ro[2];
  shmap_window *w;
  ASSERT_OK(shmap_mappable_create(g, 0, &m));
  ASSERT_OK(shmap_window_reserve(4 * g, 0, &w));
  char msg[2][512];
  int os[2];
  for (int i = 0; i < 2; i++) {
    shmap_native_t grant;
    ASSERT_OK(shmap_mappable_share_readonly(m, &grant));
    ASSERT_OK(shmap_mappable_adopt(grant, &ro[i]));
    if (i == 1)
      cr_assert_eq(shmap_mappable_access(ro[i]), SHMAP_PROT_READ);
    ASSERT_ERR(shmap_window_map(w, g, ro[i], 0, g, SHMAP_PROT_RW),
               SHMAP_EACCES);
    snprintf(msg[i], sizeof msg[i], "%s", shmap_last_message());
    os[i] = shmap_last_os_error();
    /* Read-only is fine. */
    ASSERT_OK(shmap_window_map(w, g, ro[i], 0, g, SHMAP_PROT_READ));
    ASSERT_OK(shmap_window_unmap(w, g, g));
  }
  cr_assert_str_eq(msg[0], msg[1]);
  cr_assert_eq(os[0], os[1]);
  cr_assert_neq(strstr(msg[0], "window map"), NULL, "message: %s", msg[0]);
  shmap_mappable_unref(ro[0]);
  shmap_mappable_unref(ro[1]);
  shmap_window_release(w);
  shmap_mappable_unref(m);
}

/* Messages name the caller's call, not an internal step, and an overlap
 * names the mapping it hits. */
SHMAP_TEST(error, messages_name_the_call_and_the_values) {
  uint64_t g = shmap_map_granularity();
  shmap_mappable *m;
  shmap_window *w;
  ASSERT_OK(shmap_mappable_create(g, 0, &m));
  ASSERT_OK(shmap_window_reserve(8 * g, 0, &w));
  ASSERT_ERR(shmap_window_map(w, 0, m, 0, 2 * g, SHMAP_PROT_RW),
             SHMAP_EBACKING);
  cr_assert_eq(strncmp(shmap_last_message(), "window map: ", 12), 0,
               "message: %s", shmap_last_message());
  ASSERT_OK(shmap_window_map(w, 2 * g, m, 0, g, SHMAP_PROT_RW));
  ASSERT_OK(shmap_window_map(w, 4 * g, m, 0, g, SHMAP_PROT_READ));
  shmap_mappable *m2;
  ASSERT_OK(shmap_mappable_create(2 * g, 0, &m2));
  ASSERT_ERR(shmap_window_map(w, 3 * g, m2, 0, 2 * g, SHMAP_PROT_RW),
             SHMAP_EOVERLAP);
  char want[128];
  snprintf(want, sizeof want, "existing mapping at offset 0x%llx",
           (unsigned long long)(4 * g));
  cr_assert_neq(strstr(shmap_last_message(), want), NULL, "message: %s",
                shmap_last_message());
  /* A misaligned offset or length: the message names which. */
  ASSERT_ERR(shmap_window_map(w, 6 * g + 1, m, 0, g, SHMAP_PROT_RW),
             SHMAP_EALIGN);
  cr_assert_neq(strstr(shmap_last_message(), "offset 0x"), NULL, "message: %s",
                shmap_last_message());
  cr_assert_null(strstr(shmap_last_message(), "length"), "message: %s",
                 shmap_last_message());
  ASSERT_ERR(shmap_window_map(w, 6 * g, m, 0, g - 1, SHMAP_PROT_RW),
             SHMAP_EALIGN);
  cr_assert_neq(strstr(shmap_last_message(), "length 0x"), NULL, "message: %s",
                shmap_last_message());
  cr_assert_null(strstr(shmap_last_message(), "offset"), "message: %s",
                 shmap_last_message());
  shmap_mappable_unref(m2);
  shmap_window_release(w);
  shmap_mappable_unref(m);
}
