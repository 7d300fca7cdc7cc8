/* shmap — Windows basics: system facts, GetLastError, SRW locks, handles. */
#include "internal.h"

int shmap__os_last_error(void) { return (int)GetLastError(); }

static BOOL CALLBACK read_sysinfo(INIT_ONCE *once, void *si, void **ctx) {
  (void)once, (void)ctx;
  GetSystemInfo(si);
  return TRUE;
}

/* Once: the answer never changes, and every later caller reads it after
 * InitOnce has published it (no two threads write it). */
static const SYSTEM_INFO *sysinfo(void) {
  static SYSTEM_INFO si;
  static INIT_ONCE once = INIT_ONCE_STATIC_INIT;
  InitOnceExecuteOnce(&once, read_sysinfo, &si, NULL);
  return &si;
}

uint64_t shmap__os_page_size(void) { return sysinfo()->dwPageSize; }

uint64_t shmap__os_granularity(void) {
  return sysinfo()->dwAllocationGranularity;
}

void shmap__rwlock_init(shmap__rwlock *l) { InitializeSRWLock(l); }
void shmap__rwlock_destroy(shmap__rwlock *l) { (void)l; }
void shmap__rwlock_rdlock(shmap__rwlock *l) { AcquireSRWLockShared(l); }
void shmap__rwlock_rdunlock(shmap__rwlock *l) { ReleaseSRWLockShared(l); }
void shmap__rwlock_wrlock(shmap__rwlock *l) { AcquireSRWLockExclusive(l); }
void shmap__rwlock_wrunlock(shmap__rwlock *l) { ReleaseSRWLockExclusive(l); }

void shmap_native_close(shmap_native_t native) {
  if (native == NULL || native == INVALID_HANDLE_VALUE)
    return;
  DWORD saved = GetLastError();
  CloseHandle(native);
  SetLastError(saved);
}

void shmap__os_platform(shmap_platform_info *out) {
  out->os = "windows";
  out->memfd = 0;
  out->seals = 0;
  out->window_path = shmap__win_placeholders() ? "placeholder" : "fallback";
}

uint64_t shmap_time_ns(void) {
  /* Fixed at boot and read from memory the system shares with every
   * process: asking each time costs less than keeping a copy safely. */
  LARGE_INTEGER freq;
  QueryPerformanceFrequency(&freq);
  LARGE_INTEGER now;
  QueryPerformanceCounter(&now);
  /* Split to avoid overflowing 64 bits at high counter frequencies. */
  uint64_t f = (uint64_t)freq.QuadPart, c = (uint64_t)now.QuadPart;
  return c / f * 1000000000u + c % f * 1000000000u / f;
}
