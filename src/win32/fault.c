/* shmap — fault-safe access on Windows.
 *
 * A vectored exception handler sees access violations and in-page errors
 * first. When the faulting address lies inside the range the current thread
 * armed, it resumes the thread at the recovery point saved by
 * __builtin_setjmp (registers only: no SEH unwinding is wanted, the
 * abandoned frames hold no resources); every other exception continues the
 * search, so the program's own handlers still see it. */
#include <stdint.h>

#include "internal.h"

static _Thread_local void *volatile armed[5]; /* __builtin_setjmp buffer */
static _Thread_local volatile int armed_on;
static _Thread_local volatile uintptr_t armed_lo, armed_hi, fault_at;
static INIT_ONCE install_once = INIT_ONCE_STATIC_INIT;
static void *veh;

static LONG CALLBACK on_exception(EXCEPTION_POINTERS *ep) {
  const EXCEPTION_RECORD *r = ep->ExceptionRecord;
  if ((r->ExceptionCode != EXCEPTION_ACCESS_VIOLATION &&
       r->ExceptionCode != EXCEPTION_IN_PAGE_ERROR) ||
      r->NumberParameters < 2 || !armed_on)
    return EXCEPTION_CONTINUE_SEARCH;
  uintptr_t a = (uintptr_t)r->ExceptionInformation[1];
  if (a < armed_lo || a >= armed_hi)
    return EXCEPTION_CONTINUE_SEARCH;
  fault_at = a;
  armed_on = 0;
  __builtin_longjmp((void **)armed, 1);
}

static BOOL CALLBACK install(INIT_ONCE *once, void *param, void **ctx) {
  (void)once, (void)param, (void)ctx;
  veh = AddVectoredExceptionHandler(1, on_exception);
  return TRUE;
}

int shmap__os_guarded(void (*fn)(void *), void *arg, uintptr_t lo, uintptr_t hi,
                      uintptr_t *fault) {
  InitOnceExecuteOnce(&install_once, install, NULL, NULL);
  if (veh == NULL)
    return shmap__err_os(SHMAP_EOS, (int)GetLastError(),
                         "fault-safe access: AddVectoredExceptionHandler");
  armed_lo = lo;
  armed_hi = hi;
  if (__builtin_setjmp((void **)armed) != 0) {
    *fault = fault_at;
    return SHMAP_EFAULT;
  }
  armed_on = 1;
  fn(arg);
  armed_on = 0;
  return 0;
}
