/* Removing a region while device threads translate into it (docs/guide.md,
 * "Removing a region while device threads translate into it").
 *
 * Worker threads stand in for a device's queue threads: each turn they
 * translate a guest range into a host pointer (shmap_backend_segments())
 * and read every page behind it, as a device walks a descriptor buffer. A
 * front end thread adds and removes the region behind that range over and
 * over on an in-process channel pair. The back end's thread receives each
 * message itself (shmap_channel_recv_msg()) and, before applying one that
 * can unmap memory (REM_MEM_REG, SET_MEM_TABLE), closes a gate: no worker
 * starts a new turn and the thread waits until every turn under way has
 * ended. Only then does shmap_backend_apply() unmap; the gate opens again
 * after it.
 *
 * Exit 0: every turn saw the region whole, with one stamp on every page.
 * A pointer used after its mapping went would read the window's
 * inaccessible reservation (a crash) or another mapping's bytes (reported
 * as a bad access, exit 1). */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shmap.h"

#ifdef _WIN32
#  include <windows.h>
typedef HANDLE thread_t;
typedef CRITICAL_SECTION mutex_t;
typedef CONDITION_VARIABLE cond_t;
#  define THREAD_FN DWORD WINAPI
#  define THREAD_RET 0
static int thread_start(thread_t *t, LPTHREAD_START_ROUTINE fn, void *arg) {
  *t = CreateThread(NULL, 0, fn, arg, 0, NULL);
  return *t == NULL;
}
static void thread_join(thread_t t) {
  WaitForSingleObject(t, INFINITE);
  CloseHandle(t);
}
static void mutex_init(mutex_t *m) { InitializeCriticalSection(m); }
static void mutex_lock(mutex_t *m) { EnterCriticalSection(m); }
static void mutex_unlock(mutex_t *m) { LeaveCriticalSection(m); }
static void cond_init(cond_t *c) { InitializeConditionVariable(c); }
static void cond_wait(cond_t *c, mutex_t *m) {
  SleepConditionVariableCS(c, m, INFINITE);
}
static void cond_broadcast(cond_t *c) { WakeAllConditionVariable(c); }
static void pause_us(unsigned us) { Sleep(us / 1000 > 0 ? us / 1000 : 1); }
#else
#  include <pthread.h>
#  include <time.h>
typedef pthread_t thread_t;
typedef pthread_mutex_t mutex_t;
typedef pthread_cond_t cond_t;
#  define THREAD_FN void *
#  define THREAD_RET NULL
static int thread_start(thread_t *t, void *(*fn)(void *), void *arg) {
  return pthread_create(t, NULL, fn, arg) != 0;
}
static void thread_join(thread_t t) { pthread_join(t, NULL); }
static void mutex_init(mutex_t *m) { pthread_mutex_init(m, NULL); }
static void mutex_lock(mutex_t *m) { pthread_mutex_lock(m); }
static void mutex_unlock(mutex_t *m) { pthread_mutex_unlock(m); }
static void cond_init(cond_t *c) { pthread_cond_init(c, NULL); }
static void cond_wait(cond_t *c, mutex_t *m) { pthread_cond_wait(c, m); }
static void cond_broadcast(cond_t *c) { pthread_cond_broadcast(c); }
static void pause_us(unsigned us) {
  struct timespec ts = {0, (long)us * 1000};
  nanosleep(&ts, NULL);
}
#endif

#define WORKERS 3
#define ROUNDS 200
#define REGION_SIZE (2u << 20)
#define GUEST_ADDR (4u << 20)

/* ---- the gate: device threads pause while the back end unmaps ---- */

static struct {
  mutex_t lock;
  cond_t changed;
  int closed; /* the serve thread wants the workers out */
  int inside; /* worker turns under way */
} gate;

static void gate_enter(void) {
  mutex_lock(&gate.lock);
  while (gate.closed)
    cond_wait(&gate.changed, &gate.lock);
  gate.inside++;
  mutex_unlock(&gate.lock);
}

static void gate_leave(void) {
  mutex_lock(&gate.lock);
  if (--gate.inside == 0 && gate.closed)
    cond_broadcast(&gate.changed);
  mutex_unlock(&gate.lock);
}

/* Close the gate and wait until no turn is under way. */
static void gate_close(void) {
  mutex_lock(&gate.lock);
  gate.closed = 1;
  while (gate.inside > 0)
    cond_wait(&gate.changed, &gate.lock);
  mutex_unlock(&gate.lock);
}

static void gate_open(void) {
  mutex_lock(&gate.lock);
  gate.closed = 0;
  cond_broadcast(&gate.changed);
  mutex_unlock(&gate.lock);
}

/* ---- shared state ---- */

static shmap_backend *be;
static atomic_int done;
static atomic_long turns_with_region, bad_accesses;

static void fail(const char *what) {
  fprintf(stderr, "quiesce: %s: %s\n", what, shmap_last_message());
  exit(1);
}

/* A device thread: translate, then use the pointer for a while. */
static THREAD_FN worker(void *arg) {
  (void)arg;
  while (!atomic_load(&done)) {
    gate_enter();
    shmap_segment seg;
    size_t n = 0;
    if (shmap_backend_segments(be, GUEST_ADDR, REGION_SIZE, SHMAP_PROT_READ,
                               &seg, 1, &n) == 0 &&
        n == 1) {
      const volatile uint8_t *p = seg.host;
      uint8_t stamp = p[0];
      for (size_t off = 0; off < REGION_SIZE; off += 4096)
        if (p[off] != stamp)
          atomic_fetch_add(&bad_accesses, 1);
      atomic_fetch_add(&turns_with_region, 1);
    }
    gate_leave();
    pause_us(20); /* a device would wait for its next kick here */
  }
  return THREAD_RET;
}

/* The back end's serve thread: receive, quiesce for removals, apply. */
static THREAD_FN serve(void *arg) {
  shmap_channel *ch = arg;
  shmap_msg *m = malloc(sizeof *m); /* about 4.5 KiB: off the stack */
  if (m == NULL)
    exit(1);
  for (;;) {
    int rc = shmap_channel_recv_msg(ch, m);
    if (rc == SHMAP_ECLOSED)
      break;
    if (rc != 0)
      fail("receive");
    int unmaps = m->hdr.request == SHMAP_REQ_REM_MEM_REG ||
                 m->hdr.request == SHMAP_REQ_SET_MEM_TABLE;
    shmap_reply reply;
    if (unmaps)
      gate_close();
    rc = shmap_backend_apply(be, ch, m, &reply, NULL);
    if (unmaps)
      gate_open();
    if (rc != 0) { /* not a memory message: nothing else comes here */
      shmap_msg_release(m);
      continue;
    }
    if (shmap_channel_send_reply(ch, &reply) != 0)
      fail("reply");
  }
  free(m);
  return THREAD_RET;
}

int main(void) {
  uint64_t gran = shmap_map_granularity();
  shmap_window *guest = NULL, *front_ram = NULL;
  shmap_mappable *ram = NULL;
  shmap_channel *front = NULL, *back = NULL;
  mutex_init(&gate.lock);
  cond_init(&gate.changed);

  if (shmap_window_reserve(2 * GUEST_ADDR, gran, &guest) != 0 ||
      shmap_backend_create(guest, NULL, &be) != 0)
    fail("back end");
  /* The front end's own view of the RAM it shares (its userspace_addr). */
  if (shmap_mappable_create(REGION_SIZE, 0, &ram) != 0 ||
      shmap_window_reserve(REGION_SIZE, gran, &front_ram) != 0 ||
      shmap_window_map(front_ram, 0, ram, 0, REGION_SIZE, SHMAP_PROT_RW) != 0)
    fail("guest RAM");
  uint8_t *host = shmap_window_translate(front_ram, 0, REGION_SIZE);
  if (shmap_channel_pair(SHMAP_CHANNEL_INPROCESS, &front, &back) != 0)
    fail("channel pair");

  thread_t server, workers[WORKERS];
  if (thread_start(&server, serve, back) != 0)
    return 1;
  for (int i = 0; i < WORKERS; i++)
    if (thread_start(&workers[i], worker, NULL) != 0)
      return 1;

  /* The front end: share the region, let the device use it, take it back,
   * stamp it anew (the back end no longer maps it), again. */
  shmap_region r = {.guest_address = GUEST_ADDR,
                    .size = REGION_SIZE,
                    .mappable = ram,
                    .file_offset = 0,
                    .host = host};
  for (int round = 0; round < ROUNDS; round++) {
    memset(host, round & 0xff, REGION_SIZE);
    if (shmap_frontend_add_region(front, &r) != 0)
      fail("add region");
    pause_us(200);
    if (shmap_frontend_remove_region(front, &r) != 0)
      fail("remove region");
  }

  atomic_store(&done, 1);
  for (int i = 0; i < WORKERS; i++)
    thread_join(workers[i]);
  shmap_channel_close(front); /* the serve thread sees SHMAP_ECLOSED */
  thread_join(server);
  shmap_channel_close(back);
  shmap_backend_destroy(be);
  shmap_window_release(guest);
  shmap_window_release(front_ram);
  shmap_mappable_unref(ram);

  long seen = atomic_load(&turns_with_region), bad = atomic_load(&bad_accesses);
  printf("quiesce: %d rounds, %ld worker turns on the region, %ld bad "
         "accesses\n",
         ROUNDS, seen, bad);
  if (bad != 0)
    return 1;
  if (seen == 0) {
    fprintf(stderr, "quiesce: no worker ever saw the region\n");
    return 1;
  }
  return 0;
}
