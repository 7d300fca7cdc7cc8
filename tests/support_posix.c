/* shmap tests — POSIX implementation of support.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support.h"

long test_handle_count(void) {
  DIR *d = opendir("/proc/self/fd");
  if (d == NULL)
    return -1;
  long n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.')
      n++;
  closedir(d);
  return n - 1; /* the directory stream's own descriptor */
}

int test_native_is_open(shmap_native_t native) {
  return fcntl(native, F_GETFD) >= 0;
}

int test_native_pending(shmap_native_t native) {
  struct pollfd p = {native, POLLIN, 0};
  int n = poll(&p, 1, 0);
  if (n < 0)
    return -1;
  if (n == 0 || !(p.revents & POLLIN))
    return 0;
  /* POLLIN also means end of stream: only real bytes count. */
  char c;
  ssize_t got = recv(native, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return got > 0 ? 1 : 0;
}

shmap_native_t test_event_open(void) {
  int p[2];
  if (pipe(p) != 0)
    return -1;
  close(p[1]);
  fcntl(p[0], F_SETFD, FD_CLOEXEC);
  return p[0];
}

void test_sleep_ms(unsigned ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

int test_range_reserved(const void *addr, size_t len) {
  FILE *f = fopen("/proc/self/maps", "r");
  if (f == NULL)
    return 0;
  uintptr_t want = (uintptr_t)addr, end = want + len;
  char *line = NULL;
  size_t cap = 0;
  int ok = 0;
  /* Walk the lines in address order; every byte must be in a ---p line
   * with inode 0 (anonymous, no file behind it). Adjacent lines may split
   * the range. */
  while (want < end && getline(&line, &cap, f) > 0) {
    uintptr_t lo, hi;
    char perms[8];
    unsigned long long off, inode;
    char dev[16];
    if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %7s %llx %15s %llu", &lo, &hi,
               perms, &off, dev, &inode) != 6)
      break;
    if (hi <= want)
      continue;
    if (lo > want || strcmp(perms, "---p") != 0 || inode != 0)
      break;
    want = hi;
  }
  ok = want >= end;
  free(line);
  fclose(f);
  return ok;
}

static const char *child_path(void) {
  static char path[4096];
  ssize_t n = readlink("/proc/self/exe", path, sizeof path - 32);
  if (n <= 0)
    return NULL;
  path[n] = '\0';
  char *slash = strrchr(path, '/');
  strcpy(slash + 1, "shmap_test_child");
  return path;
}

int test_run_child(const char *const *args, shmap_native_t native) {
  const char *exe = child_path();
  if (exe == NULL)
    return -1;
  char value[32];
  test_native_format(native, value, sizeof value);
  const char *argv[32];
  size_t n = 0;
  argv[n++] = exe;
  for (; args[n - 1] != NULL && n < 31; n++)
    argv[n] = strcmp(args[n - 1], "%h") == 0 ? value : args[n - 1];
  argv[n] = NULL;
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0)
    return -1;
  if (pid == 0) {
    /* Only the descriptor under test crosses into the child. */
    if (native >= 0)
      fcntl(native, F_SETFD, 0);
    execv(exe, (char *const *)argv);
    _exit(127);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR)
      return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

shmap_native_t test_native_parse(const char *s) { return atoi(s); }

void test_native_format(shmap_native_t native, char *buf, size_t cap) {
  snprintf(buf, cap, "%d", native);
}
