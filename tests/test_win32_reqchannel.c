/* The back-end request channel on Windows, across two real processes: the
 * front end (this test) makes a pipe pair, hands one end's handle to the
 * back end (a second process) in SET_BACKEND_REQ_FD on the main channel,
 * and keeps the other; the back end adopts what it got and sends SHMEM_MAP
 * with a section on it, which the front end maps into a window. Both ends
 * of that pair were opened by the front end, so the pipe names the front
 * end as client and server: the kept end must have learnt the back end's
 * process from the main channel (a handle it sends must arrive in the back
 * end), and the adopted end must see the front end's. Also: the channel's
 * largest frame (SHMAP_MSG_MAX_PAYLOAD bytes with SHMAP_WIRE_MAX_FDS
 * handles) in both directions, and one byte more refused.
 *
 * The back end is this program started again with REQCHAN_CHILD set in its
 * environment (a constructor runs it before the test runner's main). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <windows.h>

#include "support.h"

#define G shmap_map_granularity()
#define BIG SHMAP_MSG_MAX_PAYLOAD
#define NH SHMAP_WIRE_MAX_FDS

/* Back-end requests vhost-user has and shmap does not decode: the back end
 * asks for a shared object by UUID and the front end answers with its
 * descriptor (SHARED_OBJECT_LOOKUP), or announces one
 * (SHARED_OBJECT_ADD, here carrying the largest frame). */
#define REQ_LOOKUP 8u
#define REQ_OBJECT_ADD 6u
/* A front-end request shmap does not decode, for the largest frame on the
 * main channel. */
#define REQ_SET_CONFIG 25u

#define SEED_CHILD 11u  /* the back end's bytes in its SHMEM_MAP section */
#define SEED_FRONT 22u  /* the front end's writes through its mapping */
#define SEED_LOOKUP 33u /* the section the front end answers LOOKUP with */
#define SEED_BIG 44u    /* the largest payloads */

static const uint8_t uuid[16] = "shmap-reqchannel";

/* ---- the back end (second process) ---- */

static int child_fail(int code, const char *what, int rc) {
  fprintf(stderr, "reqchannel back end: %s: %s: %s\n", what, shmap_err_name(rc),
          shmap_last_message());
  return code;
}

/* Receive the front end's largest message on the main channel: a foreign
 * request with BIG payload bytes and NH handles, all valid here. */
static int child_big_from_front(shmap_channel *main_ch) {
  shmap_msg *m = malloc(sizeof *m);
  if (m == NULL)
    return 40;
  int code = 0, rc = shmap_channel_recv_msg(main_ch, m);
  if (rc != 0)
    code = child_fail(41, "receive the largest message", rc);
  else if (m->known || m->hdr.request != REQ_SET_CONFIG || m->hdr.size != BIG ||
           m->nfds != NH)
    code = child_fail(42, "largest message's header or handle count", 0);
  else if (test_check(m->payload, BIG, SEED_BIG) != (size_t)-1)
    code = child_fail(43, "largest message's payload", 0);
  for (size_t i = 0; code == 0 && i < m->nfds; i++)
    if (!test_native_is_open(m->fds[i]))
      code = child_fail(44, "a handle of the largest message", 0);
  shmap_msg_release(m);
  free(m);
  return code;
}

/* SHARED_OBJECT_LOOKUP: the answer carries a section handle sent by the
 * front end's kept end, which arrives valid here only if that end
 * duplicated it into this process. It holds SEED_LOOKUP. */
static int child_lookup(shmap_channel *req) {
  shmap_msg *reply = malloc(sizeof *reply);
  if (reply == NULL)
    return 30;
  long before = test_handle_count();
  int code = 0;
  int rc =
      shmap_channel_call(req, REQ_LOOKUP, uuid, sizeof uuid, NULL, 0, reply);
  if (rc != 0)
    code = child_fail(31, "SHARED_OBJECT_LOOKUP", rc);
  else if (reply->nfds != 1)
    code = child_fail(32, "LOOKUP's answer carries no handle", 0);
  else if (test_handle_count() != before + 1)
    code = child_fail(33, "LOOKUP's handle is not one new handle here", 0);
  shmap_mappable *m = NULL;
  shmap_window *w = NULL;
  if (code == 0 && (rc = shmap_mappable_adopt(reply->fds[0], &m)) != 0)
    code = child_fail(34, "adopt LOOKUP's section", rc);
  else if (code == 0)
    reply->fds[0] = SHMAP_NATIVE_INVALID; /* the mappable's now */
  if (code == 0 && (rc = shmap_window_reserve(G, 0, &w)) != 0)
    code = child_fail(35, "reserve", rc);
  if (code == 0 && (rc = shmap_window_map(w, 0, m, 0, G, SHMAP_PROT_READ)) != 0)
    code = child_fail(36, "map LOOKUP's section", rc);
  if (code == 0 &&
      test_check(shmap_window_base(w), (size_t)G, SEED_LOOKUP) != (size_t)-1)
    code = child_fail(37, "LOOKUP's section holds the wrong bytes", 0);
  shmap_window_release(w);
  shmap_mappable_unref(m);
  shmap_msg_release(reply);
  free(reply);
  if (code == 0 && test_handle_count() != before)
    code = child_fail(38, "LOOKUP left a handle open", 0);
  return code;
}

/* The back end's side of the conversation; returns its exit code. */
static int child_run(const char *addr) {
  test_begin();
  long before = test_handle_count();
  shmap_channel *main_ch = NULL;
  shmap_window *guest = NULL, *mine = NULL;
  shmap_backend *be = NULL;
  shmap_mappable *m = NULL;
  int code = 0, rc;
  if ((rc = shmap_channel_connect(addr, SHMAP_ROLE_BACKEND,
                                  SHMAP_CHANNEL_SAME_USER, &main_ch)) != 0)
    return child_fail(3, "connect", rc);
  if ((rc = shmap_window_reserve(4 * G, 0, &guest)) != 0 ||
      (rc = shmap_backend_create(guest, NULL, &be)) != 0) {
    code = child_fail(4, "back end", rc);
    goto out;
  }
  shmap_backend_answer_handshake(be, SHMAP_VIRTIO_F_VERSION_1,
                                 SHMAP_PROTOCOL_SHMAP_DEFAULT);
  /* The handshake, then SET_BACKEND_REQ_FD. */
  for (int i = 0; i < 16 && shmap_backend_request_channel(be) == NULL; i++) {
    shmap_event ev;
    if ((rc = shmap_backend_serve_one(be, main_ch, &ev)) != 0 ||
        (rc = ev.result) != 0) {
      code = child_fail(5, "serving the handshake", rc);
      goto out;
    }
  }
  shmap_channel *req = shmap_backend_request_channel(be);
  if (req == NULL) {
    code = child_fail(6, "no SET_BACKEND_REQ_FD", 0);
    goto out;
  }
  if (!(shmap_channel_flags(req) & SHMAP_CHANNEL_BACKEND_REQ) ||
      shmap_channel_role(req) != SHMAP_ROLE_BACKEND) {
    code = child_fail(7, "request channel's role or kind", 0);
    goto out;
  }
  /* SHMEM_MAP a section of ours into the front end's window 0 at G; the
   * front end checks our bytes and writes its own into the second half. */
  if ((rc = shmap_mappable_create(2 * G, 0, &m)) != 0 ||
      (rc = shmap_window_reserve(2 * G, 0, &mine)) != 0 ||
      (rc = shmap_window_map(mine, 0, m, 0, 2 * G, SHMAP_PROT_RW)) != 0) {
    code = child_fail(10, "own section", rc);
    goto out;
  }
  uint8_t *p = shmap_window_base(mine);
  test_fill(p, (size_t)(2 * G), SEED_CHILD);
  if ((rc = shmap_backend_shmem_map(req, 0, m, 0, G, 2 * G, SHMAP_PROT_RW)) !=
      0) {
    code = child_fail(11, "SHMEM_MAP", rc);
    goto out;
  }
  /* Request and answer in the other direction, with a handle. */
  if ((code = child_lookup(req)) != 0)
    goto out;
  /* The front end served LOOKUP after writing: its bytes are here. */
  if (test_check(p + G, (size_t)G, SEED_FRONT) != (size_t)-1) {
    code = child_fail(12, "the front end's writes are not in our section", 0);
    goto out;
  }
  /* The largest frame towards the front end: BIG payload bytes and NH
   * handles (the section each time; each travels as its own duplicate). */
  uint8_t *big = malloc(BIG);
  shmap_native_t hs[NH];
  for (int i = 0; i < NH; i++)
    hs[i] = shmap_mappable_native(m);
  if (big == NULL) {
    code = child_fail(13, "out of memory", 0);
    goto out;
  }
  test_fill(big, BIG, SEED_BIG);
  rc = shmap_channel_call(req, REQ_OBJECT_ADD, big, BIG, hs, NH, NULL);
  free(big);
  if (rc != 0) {
    code = child_fail(14, "the largest message to the front end", rc);
    goto out;
  }
  if ((rc = shmap_backend_shmem_unmap(req, 0, G, 2 * G)) != 0) {
    code = child_fail(15, "SHMEM_UNMAP", rc);
    goto out;
  }
  code = child_big_from_front(main_ch);
out:
  shmap_backend_destroy(be); /* closes the request channel */
  shmap_channel_close(main_ch);
  shmap_window_release(mine);
  shmap_window_release(guest);
  shmap_mappable_unref(m);
  if (code == 0 && test_handle_count() != before) {
    fprintf(stderr, "reqchannel back end: %ld handles at start, %ld at end\n",
            before, test_handle_count());
    code = 50;
  }
  return code;
}

/* Before the test runner's main: the back end's process never runs tests. */
__attribute__((constructor)) static void child_entry(void) {
  char addr[256];
  DWORD n = GetEnvironmentVariableA("REQCHAN_CHILD", addr, sizeof addr);
  if (n == 0 || n >= sizeof addr)
    return;
  int code = child_run(addr);
  fflush(stderr);
  exit(code);
}

/* ---- the front end (the test) ---- */

static void pipe_addr(char *buf, size_t cap) {
  static int n;
  snprintf(buf, cap, "\\\\.\\pipe\\shmap-reqchan-%lu-%d",
           (unsigned long)GetCurrentProcessId(), ++n);
}

/* The back end: this program with REQCHAN_CHILD=addr, inheriting nothing. */
static HANDLE spawn_child(const char *addr) {
  char exe[MAX_PATH], cmd[MAX_PATH + 8];
  DWORD n = GetModuleFileNameA(NULL, exe, sizeof exe);
  cr_assert(n > 0 && n < sizeof exe);
  snprintf(cmd, sizeof cmd, "\"%s\"", exe);
  cr_assert(SetEnvironmentVariableA("REQCHAN_CHILD", addr));
  STARTUPINFOA si;
  PROCESS_INFORMATION pi;
  memset(&si, 0, sizeof si);
  si.cb = sizeof si;
  BOOL ok =
      CreateProcessA(NULL, cmd, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi);
  DWORD err = GetLastError();
  SetEnvironmentVariableA("REQCHAN_CHILD", NULL);
  cr_assert(ok, "CreateProcess: %lu", (unsigned long)err);
  CloseHandle(pi.hThread);
  return pi.hProcess;
}

/* Bounds every wait on the back end: when it ends (or after two minutes)
 * and the test has not finished a few seconds later, the test is stuck in
 * a call that will never return: fail it. */
struct watch {
  HANDLE child;
  volatile LONG done;
};

static void watch_main(void *arg) {
  struct watch *w = arg;
  DWORD r = WaitForSingleObject(w->child, 120000);
  for (int i = 0; i < 200 && !w->done; i++)
    Sleep(100);
  if (w->done)
    return;
  DWORD code = 0;
  GetExitCodeProcess(w->child, &code);
  fprintf(stderr,
          "the back end %s (exit code %lu) and the front end is "
          "stuck\n",
          r == WAIT_TIMEOUT ? "timed out" : "ended", (unsigned long)code);
  if (r == WAIT_TIMEOUT)
    TerminateProcess(w->child, 99);
  fflush(stderr);
  ExitProcess(1);
}

struct front {
  shmap_native_t answer; /* LOOKUP's section */
  int lookups, adds;
};

/* The back end's requests shmap does not decode. */
static int on_foreign(void *ctx, shmap_channel *ch, shmap_msg *m) {
  struct front *f = ctx;
  int rc = 0;
  if (m->hdr.request == REQ_LOOKUP) {
    f->lookups++;
    cr_assert_eq(m->hdr.size, sizeof uuid);
    cr_assert_eq(memcmp(m->payload, uuid, sizeof uuid), 0);
    cr_assert_eq(m->nfds, 0);
    cr_assert(m->hdr.flags & SHMAP_WIRE_NEED_REPLY);
    uint8_t ok[8] = {0};
    /* The answer with its handle, on the kept end of the pair. */
    rc = shmap_channel_send_msg(ch, REQ_LOOKUP, SHMAP_WIRE_REPLY, ok, sizeof ok,
                                &f->answer, 1);
  } else if (m->hdr.request == REQ_OBJECT_ADD) {
    f->adds++;
    cr_assert_eq(m->hdr.size, BIG);
    cr_assert_eq(test_check(m->payload, BIG, SEED_BIG), (size_t)-1);
    cr_assert_eq(m->nfds, NH, "%zu handles", m->nfds);
    for (size_t i = 0; i < m->nfds; i++) {
      /* Each is a duplicate, here, of the back end's 2G section. */
      shmap_mappable *s;
      ASSERT_OK(shmap_mappable_adopt(m->fds[i], &s));
      m->fds[i] = SHMAP_NATIVE_INVALID;
      cr_assert_eq(shmap_mappable_size(s), 2 * G);
      shmap_mappable_unref(s);
    }
    rc = shmap_channel_reply(ch, REQ_OBJECT_ADD, 0);
  } else {
    cr_assert(0, "unexpected back-end request %u", (unsigned)m->hdr.request);
  }
  shmap_msg_release(m);
  return rc;
}

SHMAP_TEST(reqchannel, backend_request_channel_across_processes) {
  char addr[128];
  pipe_addr(addr, sizeof addr);
  shmap_listener *l;
  ASSERT_OK(shmap_listener_open(addr, &l));
  struct watch wt = {spawn_child(addr), 0};
  test_thread *watcher = test_thread_start(watch_main, &wt);
  cr_assert_not_null(watcher);
  shmap_channel *main_ch, *req;
  ASSERT_OK(shmap_listener_accept(l, SHMAP_ROLE_FRONTEND,
                                  SHMAP_CHANNEL_SAME_USER, &main_ch));
  shmap_negotiation n;
  ASSERT_OK(shmap_frontend_negotiate(main_ch, SHMAP_VIRTIO_F_VERSION_1, 0, &n));
  cr_assert(n.protocol_features & SHMAP_PROTOCOL_F_BACKEND_REQ);
  shmap_frontend *fe;
  shmap_window *w;
  ASSERT_OK(shmap_frontend_create(NULL, &fe));
  ASSERT_OK(shmap_window_reserve(4 * G, 0, &w));
  ASSERT_OK(shmap_frontend_add_window(fe, 0, w));
  struct front f = {NULL, 0, 0};
  shmap_frontend_on_foreign(fe, on_foreign, &f);
  /* The kept end will hold 4 handles: its pipe, its peer process, its two
   * events. The other end's went with the back end. (Counted only where
   * the back end is waiting for an answer: it duplicates its section into
   * this process as soon as it sends SHMEM_MAP.) */
  long before_req = test_handle_count();
  ASSERT_OK(shmap_frontend_open_backend_channel(main_ch,
                                                SHMAP_CHANNEL_SAME_USER, &req));
  cr_assert_eq(shmap_channel_role(req), SHMAP_ROLE_FRONTEND);
  cr_assert(shmap_channel_flags(req) & SHMAP_CHANNEL_BACKEND_REQ);

  /* SHMEM_MAP: the back end's section lands at G, its bytes readable. */
  shmap_event ev;
  ASSERT_OK(shmap_frontend_serve_one(fe, req, &ev));
  cr_assert_eq(ev.request, SHMAP_REQ_SHMEM_MAP);
  cr_assert_eq(ev.result, 0, "SHMEM_MAP: %s", shmap_err_name(ev.result));
  cr_assert_eq(shmap_window_count(w), 1);
  cr_assert_eq(test_handle_count(), before_req + 4 + 1,
               "the kept end and the window's section: %ld handles, want %ld",
               test_handle_count(), before_req + 4 + 1);
  uint8_t *p = shmap_window_translate(w, G, 2 * G);
  cr_assert_not_null(p);
  cr_assert_eq(p, ev.head);
  cr_assert_eq(test_check(p, (size_t)(2 * G), SEED_CHILD), (size_t)-1,
               "the back end's bytes through the front end's mapping");
  test_fill(p + G, (size_t)G, SEED_FRONT);

  /* LOOKUP: answered with a section of ours, through the kept end. */
  shmap_mappable *answer;
  ASSERT_OK(shmap_mappable_create(G, 0, &answer));
  shmap_window *aw;
  ASSERT_OK(shmap_window_reserve(G, 0, &aw));
  ASSERT_OK(shmap_window_map(aw, 0, answer, 0, G, SHMAP_PROT_RW));
  test_fill(shmap_window_base(aw), (size_t)G, SEED_LOOKUP);
  f.answer = shmap_mappable_native(answer);
  ASSERT_OK(shmap_frontend_serve_one(fe, req, &ev));
  cr_assert_eq(ev.foreign, 1);
  cr_assert_eq(f.lookups, 1);
  shmap_window_release(aw);
  shmap_mappable_unref(answer);

  /* The largest frame from the back end. */
  ASSERT_OK(shmap_frontend_serve_one(fe, req, &ev));
  cr_assert_eq(f.adds, 1);

  /* SHMEM_UNMAP: the window and the handle count are as before the map. */
  ASSERT_OK(shmap_frontend_serve_one(fe, req, &ev));
  cr_assert_eq(ev.request, SHMAP_REQ_SHMEM_UNMAP);
  cr_assert_eq(ev.result, 0, "SHMEM_UNMAP: %s", shmap_err_name(ev.result));
  cr_assert_eq(shmap_window_count(w), 0);
  cr_assert(test_range_reserved(shmap_window_base(w), (size_t)(4 * G)));
  cr_assert_eq(test_handle_count(), before_req + 4, "%ld handles, want %ld",
               test_handle_count(), before_req + 4);

  /* The largest frame to the back end, on the main channel. */
  uint8_t *big = malloc(BIG);
  cr_assert_not_null(big);
  test_fill(big, BIG, SEED_BIG);
  shmap_native_t hs[NH];
  for (int i = 0; i < NH; i++)
    hs[i] = test_event_open();
  ASSERT_OK(
      shmap_channel_send_msg(main_ch, REQ_SET_CONFIG, 0, big, BIG, hs, NH));
  for (int i = 0; i < NH; i++)
    shmap_native_close(hs[i]);
  free(big);

  /* The back end ends; the kept end sees it hang up. */
  cr_assert_eq(WaitForSingleObject(wt.child, 60000), WAIT_OBJECT_0);
  DWORD code = 99;
  GetExitCodeProcess(wt.child, &code);
  cr_assert_eq(code, 0, "back end exit code %lu", (unsigned long)code);
  ASSERT_ERR(shmap_frontend_serve_one(fe, req, &ev), SHMAP_ECLOSED);
  InterlockedExchange(&wt.done, 1);
  test_thread_join(watcher);
  CloseHandle(wt.child);

  shmap_frontend_destroy(fe);
  shmap_window_release(w);
  shmap_channel_close(req);
  shmap_channel_close(main_ch);
  shmap_listener_close(l);
}

/* ---- the largest frame, byte-exact, from a raw peer ---- */

/* A listener, a raw client end the test writes to, and the library's
 * back end of a main channel on the server end. */
struct raw {
  shmap_listener *l;
  HANDLE client;
  shmap_channel *ch;
};

static void raw_open(struct raw *r) {
  char addr[128];
  pipe_addr(addr, sizeof addr);
  ASSERT_OK(shmap_listener_open(addr, &r->l));
  wchar_t name[128];
  MultiByteToWideChar(CP_UTF8, 0, addr, -1, name, 128);
  r->client = CreateFileW(name, GENERIC_READ | GENERIC_WRITE, 0, NULL,
                          OPEN_EXISTING, 0, NULL);
  cr_assert_neq(r->client, INVALID_HANDLE_VALUE, "raw client: %lu",
                (unsigned long)GetLastError());
  DWORD mode = PIPE_READMODE_MESSAGE;
  cr_assert(SetNamedPipeHandleState(r->client, &mode, NULL, NULL));
  ASSERT_OK(shmap_listener_accept(r->l, SHMAP_ROLE_BACKEND, 0, &r->ch));
}

static void raw_close(struct raw *r) {
  shmap_channel_close(r->ch);
  CloseHandle(r->client);
  shmap_listener_close(r->l);
}

/* One pipe message: NH event handles (their values are this process's, as
 * the receiver is in it too), a SET_CONFIG header announcing `announce`
 * payload bytes, and `carry` payload bytes. */
static void raw_write(struct raw *r, uint32_t announce, size_t carry) {
  static uint8_t msg[8 + 8 * NH + SHMAP_WIRE_HEADER_SIZE + 4 * BIG];
  size_t len = 8 + 8 * NH + SHMAP_WIRE_HEADER_SIZE + carry;
  cr_assert(len <= sizeof msg);
  le32(msg, NH);
  le32(msg + 4, 0);
  for (int i = 0; i < NH; i++)
    le64(msg + 8 + 8 * i, (uint64_t)(uintptr_t)test_event_open());
  uint8_t *h = msg + 8 + 8 * NH;
  le32(h, REQ_SET_CONFIG);
  le32(h + 4, SHMAP_WIRE_VERSION);
  le32(h + 8, announce);
  test_fill(h + SHMAP_WIRE_HEADER_SIZE, carry, SEED_BIG);
  DWORD done = 0;
  cr_assert(WriteFile(r->client, msg, (DWORD)len, &done, NULL));
  cr_assert_eq(done, len);
}

struct frame_case {
  const char *what;
  uint32_t announce;
  size_t carry;
  int want;
};

SHMAP_TEST(reqchannel, largest_frame_exactly) {
  static const struct frame_case cases[] = {
      {"the largest frame", BIG, BIG, 0},
      /* The header is refused before anything else is judged. */
      {"one payload byte more than any message has", BIG + 1, BIG + 1,
       SHMAP_ESIZE},
      /* Still fits the receiver's room, but not its header. */
      {"one byte more than announced", BIG, BIG + 1, SHMAP_EPROTO},
      /* Longer than the room: the rest is read and dropped. */
      {"far more than announced", BIG, 3 * BIG, SHMAP_EPROTO},
  };
  shmap_msg *m = malloc(sizeof *m);
  cr_assert_not_null(m);
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    const struct frame_case *c = &cases[i];
    struct raw r;
    raw_open(&r);
    long opened = test_handle_count();
    raw_write(&r, c->announce, c->carry);
    /* The NH handle values the message names are ours from now on. */
    cr_assert_eq(test_handle_count(), opened + NH);
    int rc = shmap_channel_recv_msg(r.ch, m);
    cr_assert_eq(rc, c->want, "%s: got %s, want %s (%s)", c->what,
                 shmap_err_name(rc), shmap_err_name(c->want),
                 shmap_last_message());
    if (rc == 0) {
      cr_assert_eq(m->known, 0);
      cr_assert_eq(m->hdr.request, REQ_SET_CONFIG);
      cr_assert_eq(m->hdr.size, BIG);
      cr_assert_eq(m->nfds, NH);
      cr_assert_eq(test_check(m->payload, BIG, SEED_BIG), (size_t)-1);
      shmap_msg_release(m);
    } else {
      cr_assert_eq(m->nfds, 0, "%s", c->what);
      cr_assert_eq(shmap_channel_in_sync(r.ch), 0, "%s", c->what);
    }
    cr_assert_eq(test_handle_count(), opened, "%s: %ld handles, want %ld",
                 c->what, test_handle_count(), opened);
    raw_close(&r);
  }
  free(m);
}

/* Library to library on a pair: the largest message both ways, and a
 * bigger one refused before anything is sent. */
SHMAP_TEST(reqchannel, largest_message_on_a_pair) {
  shmap_channel *front, *back;
  ASSERT_OK(shmap_channel_pair(SHMAP_CHANNEL_BACKEND_REQ, &front, &back));
  uint8_t *big = malloc(BIG + 1);
  shmap_msg *m = malloc(sizeof *m);
  cr_assert(big != NULL && m != NULL);
  test_fill(big, BIG + 1, SEED_BIG);
  shmap_native_t hs[NH];
  for (int i = 0; i < NH; i++)
    hs[i] = test_event_open();
  long opened = test_handle_count();
  /* The back end sends requests on it, the front end answers. */
  ASSERT_ERR(
      shmap_channel_send_msg(back, REQ_OBJECT_ADD, 0, big, BIG + 1, hs, NH),
      SHMAP_ESIZE);
  ASSERT_OK(shmap_channel_send_msg(back, REQ_OBJECT_ADD, 0, big, BIG, hs, NH));
  ASSERT_OK(shmap_channel_recv_msg(front, m));
  cr_assert_eq(m->hdr.size, BIG);
  cr_assert_eq(m->nfds, NH);
  cr_assert_eq(test_check(m->payload, BIG, SEED_BIG), (size_t)-1);
  shmap_msg_release(m);
  ASSERT_OK(shmap_channel_send_msg(front, REQ_OBJECT_ADD, SHMAP_WIRE_REPLY, big,
                                   BIG, hs, NH));
  ASSERT_OK(shmap_channel_recv_msg(back, m));
  cr_assert(m->hdr.flags & SHMAP_WIRE_REPLY);
  cr_assert_eq(m->hdr.size, BIG);
  cr_assert_eq(m->nfds, NH);
  shmap_msg_release(m);
  cr_assert_eq(test_handle_count(), opened);
  for (int i = 0; i < NH; i++)
    shmap_native_close(hs[i]);
  free(big);
  free(m);
  shmap_channel_close(front);
  shmap_channel_close(back);
}
