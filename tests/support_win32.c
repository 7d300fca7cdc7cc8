/* shmap tests — Windows implementation of support.h. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>

#include "support.h"

/* NtQuerySystemInformation's extended handle table (class 64), declared
 * here because mingw-w64 does not for user mode. */
typedef struct {
  PVOID object;
  ULONG_PTR pid;
  ULONG_PTR value;
  ULONG access;
  USHORT backtrace, type;
  ULONG attributes, reserved;
} handle_entry;
typedef struct {
  ULONG_PTR count, reserved;
  handle_entry entries[1];
} handle_table;
typedef LONG(NTAPI *query_system_fn)(ULONG, PVOID, ULONG, PULONG);

/* Handles of this process in the system's handle table, or -1. */
static long count_from_system_table(void) {
  static query_system_fn query;
  if (query == NULL)
    query = (query_system_fn)(void (*)(void))GetProcAddress(
        GetModuleHandleW(L"ntdll.dll"), "NtQuerySystemInformation");
  if (query == NULL)
    return -1;
  ULONG size = 1 << 20, need = 0;
  for (int tries = 0; tries < 8; tries++, size *= 2) {
    handle_table *t = malloc(size);
    if (t == NULL)
      return -1;
    LONG st = query(64, t, size, &need);
    if (st == 0) {
      long n = 0;
      for (ULONG_PTR i = 0; i < t->count; i++)
        n += t->entries[i].pid == GetCurrentProcessId();
      free(t);
      return n;
    }
    free(t);
    if (st != (LONG)0xC0000004L) /* STATUS_INFO_LENGTH_MISMATCH */
      return -1;
  }
  return -1;
}

long test_handle_count(void) {
  /* Wine 8's GetProcessHandleCount always says 0, which would make every
   * leak check pass; its system handle table is right, so ask that. A real
   * process always holds some handles. */
  DWORD n = 0;
  if (GetProcessHandleCount(GetCurrentProcess(), &n) && n > 0)
    return (long)n;
  long table = count_from_system_table();
  return table > 0 ? table : -1;
}

int test_native_is_open(shmap_native_t native) {
  DWORD flags;
  return GetHandleInformation(native, &flags) != 0;
}

int test_range_reserved(const void *addr, size_t len) {
  const uint8_t *p = addr, *end = p + len;
  while (p < end) {
    MEMORY_BASIC_INFORMATION mi;
    if (VirtualQuery(p, &mi, sizeof mi) == 0 || mi.State != MEM_RESERVE)
      return 0;
    p = (const uint8_t *)mi.BaseAddress + mi.RegionSize;
  }
  return 1;
}

int test_run_child(const char *const *args, shmap_native_t native) {
  char exe[MAX_PATH], cmd[4096], value[32];
  DWORD n = GetModuleFileNameA(NULL, exe, sizeof exe);
  char *slash = strrchr(exe, '\\');
  if (n == 0 || slash == NULL)
    return -1;
  strcpy(slash + 1, "shmap_test_child.exe");
  test_native_format(native, value, sizeof value);
  size_t used = (size_t)snprintf(cmd, sizeof cmd, "\"%s\"", exe);
  for (size_t i = 0; args[i] != NULL && used < sizeof cmd; i++)
    used += (size_t)snprintf(cmd + used, sizeof cmd - used, " %s",
                             strcmp(args[i], "%h") == 0 ? value : args[i]);
  /* Only the handle under test is inheritable, and only while the child
   * starts. */
  if (native != NULL)
    SetHandleInformation(native, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT);
  STARTUPINFOA si;
  PROCESS_INFORMATION pi;
  memset(&si, 0, sizeof si);
  si.cb = sizeof si;
  BOOL ok = CreateProcessA(NULL, cmd, NULL, NULL, native != NULL, 0, NULL, NULL,
                           &si, &pi);
  if (native != NULL)
    SetHandleInformation(native, HANDLE_FLAG_INHERIT, 0);
  if (!ok)
    return -1;
  WaitForSingleObject(pi.hProcess, INFINITE);
  DWORD code = 0;
  GetExitCodeProcess(pi.hProcess, &code);
  CloseHandle(pi.hProcess);
  CloseHandle(pi.hThread);
  return (int)code;
}

shmap_native_t test_native_parse(const char *s) {
  return (shmap_native_t)(uintptr_t)strtoull(s, NULL, 0);
}

void test_native_format(shmap_native_t native, char *buf, size_t cap) {
  snprintf(buf, cap, "%" PRIuPTR, (uintptr_t)native);
}

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
