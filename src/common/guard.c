/* shmap — fault guard bookkeeping shared by the platforms: the range a
 * thread armed and where it faulted (guard.h). The trap and the jump are
 * the platform's (unix/fault.c, win32/fault.c). */
#include "guard.h"

#include "shmap.h"

/* Per thread: read by the trap, which may run at any instruction of fn, so
 * every field is volatile (written in program order, never cached). The
 * trap reads this without allocating anything: the TLS block already exists
 * because arming wrote it first, before fn could fault. A shared library's
 * block is allocated on its first access in a thread, which must not happen
 * inside a signal handler. */
static _Thread_local volatile struct {
  uintptr_t lo, hi; /* the range armed: [lo, hi) */
  uintptr_t fault;  /* where the claimed fault was */
  int armed;
} rec;

int shmap__guard_claim(uintptr_t addr) {
  if (!rec.armed || addr < rec.lo || addr >= rec.hi)
    return 0;
  rec.fault = addr;
  rec.armed = 0;
  return 1;
}

int shmap__guarded(void (*fn)(void *), void *arg, uintptr_t lo, uintptr_t hi,
                   uintptr_t *fault) {
  int rc = shmap__os_guard_ready();
  if (rc != 0)
    return rc;
  /* Armed before the recovery point is set: harmless, since only fn touches
   * the range and shmap__os_guard_run() sets the point before calling it. */
  rec.lo = lo;
  rec.hi = hi;
  rec.armed = 1;
  if (shmap__os_guard_run(fn, arg) != 0) {
    /* The trap claimed the fault, which disarmed the range. */
    *fault = rec.fault;
    return SHMAP_EFAULT;
  }
  rec.armed = 0;
  return 0;
}
