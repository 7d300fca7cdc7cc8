/* shmap — the fault guard's trap on Windows (common/guard.c keeps the
 * books).
 *
 * A vectored exception handler sees access violations and in-page errors
 * first. When shmap__guard_claim() says the faulting address lies inside
 * the range the current thread armed, it resumes the thread at the recovery
 * point saved by __builtin_setjmp in shmap__os_guard_run() (registers only:
 * no SEH unwinding is wanted, the abandoned frames hold no resources);
 * every other exception continues the search, so the program's own
 * handlers still see it. */
#include <stdatomic.h>
#include <stdint.h>

#include "guard.h"
#include "internal.h"

/* Per thread: the __builtin_setjmp buffer of the guarded call running,
 * written before fn runs, so it exists when the handler reads it. */
static _Thread_local void *volatile recover[5];
static INIT_ONCE install_once = INIT_ONCE_STATIC_INIT;
static void *veh;

static LONG CALLBACK on_exception(EXCEPTION_POINTERS *ep) {
  const EXCEPTION_RECORD *r = ep->ExceptionRecord;
  if ((r->ExceptionCode != EXCEPTION_ACCESS_VIOLATION &&
       r->ExceptionCode != EXCEPTION_IN_PAGE_ERROR) ||
      r->NumberParameters < 2 ||
      !shmap__guard_claim((uintptr_t)r->ExceptionInformation[1]))
    return EXCEPTION_CONTINUE_SEARCH;
  __builtin_longjmp((void **)recover, 1);
}

static BOOL CALLBACK install(INIT_ONCE *once, void *param, void **ctx) {
  (void)once, (void)param, (void)ctx;
  veh = AddVectoredExceptionHandler(1, on_exception);
  return TRUE;
}

int shmap__os_guard_ready(void) {
  InitOnceExecuteOnce(&install_once, install, NULL, NULL);
  if (veh == NULL)
    return shmap__err_os(SHMAP_EOS, (int)GetLastError(),
                         "fault-safe access: AddVectoredExceptionHandler");
  return 0;
}

/* The __builtin_setjmp is here, in the frame that stays live while fn runs
 * (guard.h). */
int shmap__os_guard_run(void (*fn)(void *), void *arg) {
  if (__builtin_setjmp((void **)recover) != 0)
    return 1;
  /* The fences keep the compiler from moving fn's accesses outside the
   * armed stretch (fn may be inlined here under LTO). */
  atomic_signal_fence(memory_order_seq_cst);
  fn(arg);
  atomic_signal_fence(memory_order_seq_cst);
  return 0;
}
