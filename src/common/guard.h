/* shmap — fault guard: run a function over memory a peer may take away, and
 * turn a fault inside it into SHMAP_EFAULT.
 *
 * The bookkeeping (which range this thread armed, where it faulted) is
 * common (guard.c); each platform provides only the trap that sees the
 * fault and the jump back out of it (unix/fault.c, win32/fault.c). */
#ifndef SHMAP_GUARD_H
#define SHMAP_GUARD_H

#include <stdint.h>

/* Run fn(arg), which touches memory in [lo, hi). A fault at an address in
 * that range abandons fn and returns SHMAP_EFAULT with *fault set to the
 * address; faults elsewhere go to the process's previous handler. fn must
 * hold no lock and own no resource while it touches the range: it may be
 * left at any instruction. Returns 0 when fn ran to its end, or the error
 * shmap__os_guard_ready() recorded. Not reentrant on one thread (fn must
 * not make a guarded call itself). */
int shmap__guarded(void (*fn)(void *), void *arg, uintptr_t lo, uintptr_t hi,
                   uintptr_t *fault);

/* For the platform's trap, with the faulting address: 1 when this thread
 * armed a range holding it (the address is recorded and the range disarmed;
 * the trap must then jump back to shmap__os_guard_run()'s recovery point),
 * else 0 (not ours: hand the fault on). Async-signal-safe: it only reads
 * and writes this thread's record. */
int shmap__guard_claim(uintptr_t addr);

/* ---- what each platform provides (unix/fault.c, win32/fault.c) ---- */

/* Before every guarded call. Installs the trap the first time (once per
 * process, whichever thread comes first) and checks it can still catch a
 * fault. Returns 0, after which a fault anywhere reaches the trap (which
 * asks shmap__guard_claim() first), or an error it recorded; then nothing
 * may run guarded. Makes no system call once installed, except what the
 * check needs (POSIX: one sigaction query). */
int shmap__os_guard_ready(void);

/* Set the recovery point, run fn(arg) and return 0; or return 1 when the
 * trap jumped back to the recovery point (fn was abandoned). Called with
 * the range already armed, after shmap__os_guard_ready() returned 0; the
 * caller disarms. The setjmp must be made in a frame that stays live while
 * fn runs: jumping to a frame that has returned is undefined. That is why
 * running fn is the platform's job too, not only the setjmp: a helper that
 * set the point and returned would leave it dead before fn ran. */
int shmap__os_guard_run(void (*fn)(void *), void *arg);

#endif /* SHMAP_GUARD_H */
