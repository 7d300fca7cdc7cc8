/* shmap tests — Windows implementation of support.h. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>

#include "support.h"

/* Open handles found by asking about each handle value in turn: Wine
 * hands out the lowest free values, so past the last open one a long run
 * of free values means the end. (The system-wide handle table would be
 * quicker, but enumerating it races with process start-up in Wine 8's
 * wineserver and crashes it.) */
static long count_by_probing(void) {
  long n = 0;
  uintptr_t miss = 0;
  for (uintptr_t v = 4; miss < 2048; v += 4) {
    DWORD flags;
    if (GetHandleInformation((HANDLE)v, &flags)) {
      n++;
      miss = 0;
    } else {
      miss++;
    }
  }
  return n;
}

long test_handle_count(void) {
  /* Wine 8's GetProcessHandleCount always says 0, which would make every
   * leak check pass. A real process always holds some handles. */
  DWORD n = 0;
  if (GetProcessHandleCount(GetCurrentProcess(), &n) && n > 0)
    return (long)n;
  long probed = count_by_probing();
  return probed > 0 ? probed : -1;
}

int test_native_is_open(shmap_native_t native) {
  DWORD flags;
  return GetHandleInformation(native, &flags) != 0;
}

int test_native_pending(shmap_native_t native) {
  DWORD avail = 0;
  if (!PeekNamedPipe(native, NULL, 0, NULL, &avail, NULL))
    return -1;
  return avail > 0;
}

shmap_native_t test_event_open(void) {
  return CreateEventW(NULL, TRUE, FALSE, NULL);
}

void test_sleep_ms(unsigned ms) { Sleep(ms); }

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
