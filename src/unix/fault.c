/* shmap — the fault guard's trap on POSIX (common/guard.c keeps the books).
 *
 * A peer that truncates an unsealed file under a mapping turns the next
 * access into SIGBUS; a vanished mapping gives SIGSEGV. The signal handler
 * jumps back to the recovery point of shmap__os_guard_run() when
 * shmap__guard_claim() says the faulting address lies inside the range the
 * current thread armed, and hands every other fault to whatever handler was
 * installed before ours, so the host program's own handling is kept. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#include "guard.h"
#include "internal.h"

/* Per thread: the recovery point of the guarded call running. Written
 * before fn runs (after the guard record, so the TLS block exists when the
 * handler reads it: no allocation inside the handler). */
static _Thread_local sigjmp_buf *volatile recover;

static struct sigaction prev_bus, prev_segv;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static int install_error;

static void pass_on(int sig, siginfo_t *si, void *ctx) {
  const struct sigaction *p = sig == SIGBUS ? &prev_bus : &prev_segv;
  if (p->sa_flags & SA_SIGINFO) {
    if (p->sa_sigaction != NULL) {
      p->sa_sigaction(sig, si, ctx);
      return;
    }
  } else if (p->sa_handler != SIG_DFL && p->sa_handler != SIG_IGN) {
    p->sa_handler(sig);
    return;
  }
  /* Default action: restore it and return; the faulting instruction runs
   * again and the kernel delivers the signal with its default effect. */
  signal(sig, SIG_DFL);
}

static void on_fault(int sig, siginfo_t *si, void *ctx) {
  if (shmap__guard_claim((uintptr_t)si->si_addr))
    siglongjmp(*recover, 1);
  pass_on(sig, si, ctx);
}

static void install(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGBUS, &sa, &prev_bus) != 0 ||
      sigaction(SIGSEGV, &sa, &prev_segv) != 0)
    install_error = 1;
}

/* The program may install its own SIGBUS handler after ours (it is then
 * the process's handler, not us). A fault in the copy would reach a handler
 * that knows nothing of it: typically the end of the process. So every
 * guarded call first asks the kernel whether ours is still the installed
 * one (a sigaction query: it changes nothing, so it races with nobody) and
 * refuses rather than copy unprotected. Installing ours again on top would
 * chain to the program's handler, but one that chains back to the handler
 * it replaced (ours) would loop forever.
 *
 * Only SIGBUS is asked about on every copy: it is the fault a peer can
 * cause (shrinking the memory). A SIGSEGV inside a guarded range needs the
 * mapping gone, which the window's lock rules out for everything but an
 * external range whose own producer unmaps it under the window, a bug of
 * this process. One query instead of two: a device makes several guarded
 * copies a request (docs/performance.md). */
static int still_ours(int sig) {
  struct sigaction cur;
  return sigaction(sig, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) &&
         cur.sa_sigaction == on_fault;
}

int shmap__os_guard_ready(void) {
  pthread_once(&install_once, install);
  if (install_error)
    return shmap__err(SHMAP_EOS,
                      "fault-safe access: installing handlers failed");
  if (!still_ours(SIGBUS))
    return shmap__err(SHMAP_EBUSY,
                      "fault-safe access: the program replaced shmap's SIGBUS "
                      "handler; install program handlers before the first "
                      "fault-safe call (shmap chains to them), not after");
  return 0;
}

/* The sigsetjmp is here, in the frame that stays live while fn runs
 * (guard.h). */
int shmap__os_guard_run(void (*fn)(void *), void *arg) {
  sigjmp_buf jb;
  /* savemask 0: no sigprocmask call per copy. The handler is installed
   * with SA_NODEFER and an empty sa_mask, so running it blocks nothing and
   * jumping out of it leaves the thread's mask as it was: a later fault is
   * delivered again (posix_fault tests fault twice in a row). */
  if (sigsetjmp(jb, 0) != 0)
    return 1;
  recover = &jb;
  /* The fences keep the compiler from moving fn's accesses outside the
   * armed stretch (fn may be inlined here under LTO). Jumping out of memcpy
   * or an atomic is safe: they hold no locks. */
  atomic_signal_fence(memory_order_seq_cst);
  fn(arg);
  atomic_signal_fence(memory_order_seq_cst);
  return 0;
}
