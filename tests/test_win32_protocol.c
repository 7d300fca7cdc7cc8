/* The named-pipe channel: a hostile peer writes raw pipe messages (envelope,
 * handle values, frame) and every malformed one gets its specific error,
 * closes every handle it named, and changes no window; plus the pipe's
 * security (DACL, identification-only clients) and the handle ownership
 * rules when a send fails or a channel closes with messages unread. */
#include <aclapi.h>
#include <stdio.h>
#include <string.h>
#include <windows.h>

#include "support.h"

#define G shmap_map_granularity()
#define FE SHMAP_ROLE_FRONTEND
#define BE SHMAP_ROLE_BACKEND

static void pipe_addr(char *buf, size_t cap) {
  static int n;
  snprintf(buf, cap, "\\\\.\\pipe\\shmap-test-%lu-%d",
           (unsigned long)GetCurrentProcessId(), ++n);
}

/* A listener, a raw client end written to by the test, and the library's
 * channel on the server end with `role`. */
struct raw {
  shmap_listener *l;
  HANDLE client;
  shmap_channel *ch;
};

/* `attrs`: the raw client's file flags (FILE_FLAG_OVERLAPPED for a peer
 * that cancels its own write). */
static void raw_open_with(struct raw *r, unsigned role, DWORD attrs) {
  char addr[128];
  pipe_addr(addr, sizeof addr);
  ASSERT_OK(shmap_listener_open(addr, &r->l));
  wchar_t name[128];
  MultiByteToWideChar(CP_UTF8, 0, addr, -1, name, 128);
  r->client = CreateFileW(name, GENERIC_READ | GENERIC_WRITE, 0, NULL,
                          OPEN_EXISTING, attrs, NULL);
  cr_assert_neq(r->client, INVALID_HANDLE_VALUE, "raw client: %lu",
                (unsigned long)GetLastError());
  DWORD mode = PIPE_READMODE_MESSAGE;
  cr_assert(SetNamedPipeHandleState(r->client, &mode, NULL, NULL));
  /* The front end receives SHMEM_MAP & co. on the back-end request
   * socket; the back end receives regions on the main socket. */
  ASSERT_OK(shmap_listener_accept(
      r->l, role, role == FE ? SHMAP_CHANNEL_BACKEND_REQ : 0, &r->ch));
}

static void raw_open(struct raw *r, unsigned role) {
  raw_open_with(r, role, 0);
}

static void raw_close(struct raw *r) {
  shmap_channel_close(r->ch);
  CloseHandle(r->client);
  shmap_listener_close(r->l);
}

/* Write one pipe message: envelope with `count` and `reserved`, the `n`
 * handle values given, then `len` frame bytes. */
static void raw_write(struct raw *r, uint32_t count, uint32_t reserved,
                      const uint64_t *values, size_t n, const uint8_t *frame,
                      size_t len) {
  static uint8_t msg[1 << 17];
  cr_assert(8 + 8 * n + len <= sizeof msg);
  le32(msg, count);
  le32(msg + 4, reserved);
  for (size_t i = 0; i < n; i++)
    le64(msg + 8 + 8 * i, values[i]);
  memcpy(msg + 8 + 8 * n, frame, len);
  DWORD done = 0;
  cr_assert(WriteFile(r->client, msg, (DWORD)(8 + 8 * n + len), &done, NULL));
}

struct writer {
  struct raw *r;
  uint32_t count, reserved;
  const uint64_t *values;
  size_t n;
  const uint8_t *frame;
  size_t len;
};

static void write_main(void *arg) {
  struct writer *w = arg;
  raw_write(w->r, w->count, w->reserved, w->values, w->n, w->frame, w->len);
}

/* Read the reply to `request` the raw peer got; returns its result. */
static int raw_reply(struct raw *r, uint32_t request, unsigned role) {
  uint8_t msg[64];
  DWORD got = 0;
  cr_assert(ReadFile(r->client, msg, sizeof msg, &got, NULL));
  cr_assert_eq(got, 8 + 12 + 8, "reply of %lu bytes", (unsigned long)got);
  cr_assert_eq(msg[0], 0, "a reply carries no handle");
  shmap_wire_header h;
  /* A reply travels the other way from its request. */
  ASSERT_OK(shmap_wire_header_decode(msg + 8,
                                     role == SHMAP_ROLE_BACKEND
                                         ? SHMAP_WIRE_TO_FRONTEND
                                         : SHMAP_WIRE_TO_BACKEND,
                                     &h));
  cr_assert_eq(h.request, request);
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--)
    v = v << 8 | msg[20 + i];
  return shmap_wire_reply_result(v);
}

/* A handle the test owns, of the kind asked for: a section of `size` bytes,
 * its read-only duplicate, an event or a pipe. */
enum kind { SECTION, SMALL, READONLY, EVENT, PIPE };

static HANDLE make_handle(enum kind k) {
  HANDLE h = NULL, w = NULL;
  shmap_mappable *m;
  switch (k) {
  case SMALL: /* one page: smaller than any granularity-sized range */
    h = CreateFileMappingW(INVALID_HANDLE_VALUE, NULL,
                           PAGE_READWRITE | SEC_COMMIT, 0, 4096, NULL);
    cr_assert_not_null(h);
    return h;
  case SECTION:
  case READONLY:
    ASSERT_OK(shmap_mappable_create(4 * G, 0, &m));
    if (k == READONLY)
      ASSERT_OK(shmap_mappable_share_readonly(m, &h));
    else
      cr_assert(DuplicateHandle(GetCurrentProcess(), shmap_mappable_native(m),
                                GetCurrentProcess(), &h, 0, FALSE,
                                DUPLICATE_SAME_ACCESS));
    shmap_mappable_unref(m);
    return h;
  case EVENT: return CreateEventW(NULL, TRUE, FALSE, NULL);
  case PIPE:
    cr_assert(CreatePipe(&h, &w, NULL, 0));
    CloseHandle(w);
    return h;
  }
  return NULL;
}

static size_t encode(const shmap_wire_msg *m, uint8_t *buf) {
  size_t len = 0;
  ASSERT_OK(shmap_wire_encode(m, buf, SHMAP_WIRE_MAX_MESSAGE, &len));
  return len;
}

/* ADD_MEM_REG of [G, 2G) at file offset 0. */
static size_t add_region(uint8_t *buf) {
  shmap_wire_msg m;
  memset(&m, 0, sizeof m);
  m.hdr.request = SHMAP_REQ_ADD_MEM_REG;
  m.hdr.flags = SHMAP_WIRE_VERSION | SHMAP_WIRE_NEED_REPLY;
  m.u.region.guest_phys_addr = G;
  m.u.region.memory_size = G;
  return encode(&m, buf);
}

/* SHMEM_MAP of G bytes at window 0 offset 0, read-write. */
static size_t shmem_map(uint8_t *buf) {
  shmap_wire_msg m;
  memset(&m, 0, sizeof m);
  m.hdr.request = SHMAP_REQ_SHMEM_MAP;
  m.hdr.flags = SHMAP_WIRE_VERSION | SHMAP_WIRE_NEED_REPLY;
  m.u.mmap.len = G;
  m.u.mmap.flags = SHMAP_WIRE_MAP_RW;
  return encode(&m, buf);
}

struct bad {
  const char *what;
  unsigned role; /* of the receiving end */
  int nhandles;  /* handle values written */
  enum kind kind;
  uint32_t count; /* envelope count (nhandles when ~0u) */
  uint32_t reserved;
  int trim;       /* frame bytes removed (negative: added) */
  uint64_t bogus; /* when non-zero, written as the first handle value */
  int framing;    /* the serve call fails, no reply */
  int want;
};

#define SAME ~0u

/* clang-format off: a table reads best as one row per case */
static const struct bad bads[] = {
    {"envelope reserved field set", BE, 1, SECTION, SAME, 7, 0, 0, 1,
     SHMAP_EPADDING},
    {"nine handles", BE, 9, SECTION, SAME, 0, 0, 0, 1, SHMAP_EFDCOUNT},
    /* Not trusted at all: its "values" would be frame bytes. */
    {"count beyond the message", BE, 1, SECTION, 40, 0, 0, 0, 1, SHMAP_EPROTO},
    {"a value that is no handle", BE, 1, SECTION, SAME, 0, 0, 0x7ffc, 1,
     SHMAP_EBADF},
    {"a pseudo-handle value", BE, 1, SECTION, SAME, 0, 0, UINT64_MAX, 1,
     SHMAP_EBADF},
    {"frame shorter than a header", BE, 1, SECTION, SAME, 0, 52 - 5, 0, 1,
     SHMAP_EPROTO},
    {"payload shorter than announced", BE, 1, SECTION, SAME, 0, 4, 0, 1,
     SHMAP_EPROTO},
    {"payload longer than announced", BE, 1, SECTION, SAME, 0, -4, 0, 1,
     SHMAP_EPROTO},
    {"a message of 100 KiB", BE, 2, SECTION, SAME, 0, -100000, 0, 1,
     SHMAP_EPROTO},
    {"ADD_MEM_REG without a handle", BE, 0, SECTION, SAME, 0, 0, 0, 0,
     SHMAP_EFDCOUNT},
    {"ADD_MEM_REG with two handles", BE, 2, SECTION, SAME, 0, 0, 0, 0,
     SHMAP_EFDCOUNT},
    {"an event instead of a section", BE, 1, EVENT, SAME, 0, 0, 0, 0,
     SHMAP_EBADF},
    {"a pipe instead of a section", FE, 1, PIPE, SAME, 0, 0, 0, 0, SHMAP_EBADF},
    {"section smaller than the range", FE, 1, SMALL, SAME, 0, 0, 0, 0,
     SHMAP_EBACKING},
    {"read-only grant mapped read-write", FE, 1, READONLY, SAME, 0, 0, 0, 0,
     SHMAP_EACCES},
};
/* clang-format on */

SHMAP_TEST(pipe_bad_input, every_envelope_and_handle_rule) {
  for (size_t i = 0; i < sizeof bads / sizeof *bads; i++) {
    const struct bad *b = &bads[i];
    long before = test_handle_count();
    shmap_window *w;
    ASSERT_OK(shmap_window_reserve(8 * G, 0, &w));
    shmap_backend *be = NULL;
    shmap_frontend *fe = NULL;
    if (b->role == BE) {
      ASSERT_OK(shmap_backend_create(w, NULL, &be));
    } else {
      ASSERT_OK(shmap_frontend_create(NULL, &fe));
      ASSERT_OK(shmap_frontend_add_window(fe, 0, w));
    }
    struct raw r;
    raw_open(&r, b->role);
    long opened = test_handle_count();

    static uint8_t frame[1 << 17];
    memset(frame, 0, sizeof frame);
    size_t len = b->role == BE ? add_region(frame) : shmem_map(frame);
    len = (size_t)((long)len - b->trim);
    uint64_t values[9];
    int n = b->nhandles;
    for (int k = 0; k < n; k++)
      values[k] = (uint64_t)(uintptr_t)make_handle(b->kind);
    if (b->bogus != 0) {
      CloseHandle((HANDLE)(uintptr_t)values[0]);
      values[0] = b->bogus;
    }
    struct writer wr = {&r,          b->count == SAME ? (uint32_t)n : b->count,
                        b->reserved, values,
                        (size_t)n,   frame,
                        len};
    /* Written from a thread: a message larger than the pipe's buffer
     * blocks its writer until the receiver reads. */
    test_thread *t = test_thread_start(write_main, &wr);
    cr_assert_not_null(t);
    shmap_event ev;
    int rc = be != NULL ? shmap_backend_serve_one(be, r.ch, &ev)
                        : shmap_frontend_serve_one(fe, r.ch, &ev);
    test_thread_join(t);
    if (b->count != SAME) {
      /* The library left the one real handle alone: still ours. */
      cr_assert(test_native_is_open((HANDLE)(uintptr_t)values[0]), "%s",
                b->what);
      CloseHandle((HANDLE)(uintptr_t)values[0]);
    }
    if (b->framing) {
      cr_assert_eq(rc, b->want, "%s: serve gave %s, want %s (%s)", b->what,
                   shmap_err_name(rc), shmap_err_name(b->want),
                   shmap_last_message());
      cr_assert_eq(shmap_channel_in_sync(r.ch), 0, "%s", b->what);
    } else {
      cr_assert_eq(rc, 0, "%s: serve: %s", b->what, shmap_last_message());
      cr_assert_eq(ev.result, b->want, "%s: result %s, want %s (%s)", b->what,
                   shmap_err_name(ev.result), shmap_err_name(b->want),
                   shmap_last_message());
      cr_assert_eq(raw_reply(&r, ev.request, b->role), b->want, "%s: reply",
                   b->what);
    }
    /* Every handle the message named is closed; nothing was mapped. */
    cr_assert_eq(test_handle_count(), opened,
                 "%s: %ld handles before, %ld "
                 "after",
                 b->what, opened, test_handle_count());
    cr_assert_eq(shmap_window_count(w), 0, "%s: window changed", b->what);
    raw_close(&r);
    shmap_backend_destroy(be);
    shmap_frontend_destroy(fe);
    shmap_window_release(w);
    cr_assert_eq(test_handle_count(), before, "%s: leaked", b->what);
  }
}

SHMAP_TEST(pipe_bad_input, empty_message_and_peer_gone) {
  struct raw r;
  raw_open(&r, BE);
  shmap_wire_msg m;
  shmap_native_t fds[SHMAP_WIRE_MAX_FDS];
  size_t n;
  DWORD done;
  cr_assert(WriteFile(r.client, "", 0, &done, NULL));
  ASSERT_ERR(shmap_channel_recv(r.ch, &m, fds, &n), SHMAP_EPROTO);
  CloseHandle(r.client);
  r.client = NULL;
  ASSERT_ERR(shmap_channel_recv(r.ch, &m, fds, &n), SHMAP_ECLOSED);
  cr_assert_eq(n, 0);
  shmap_channel_close(r.ch);
  shmap_listener_close(r.l);
}

/* Handles already duplicated into a receiver that closes without reading
 * them are closed with it. */
SHMAP_TEST(pipe_ownership, unread_messages_are_closed_with_the_channel) {
  shmap_channel *front, *back;
  ASSERT_OK(shmap_channel_pair(0, &front, &back));
  long opened = test_handle_count();
  shmap_mappable *m;
  ASSERT_OK(shmap_mappable_create(G, 0, &m));
  shmap_native_t h = shmap_mappable_native(m);
  /* host: a non-NULL stand-in; only the size is used here. */
  shmap_region reg = {.guest_address = 0,
                      .size = G,
                      .mappable = m,
                      .file_offset = 0,
                      .host = (void *)(uintptr_t)0x100000000ull};
  shmap_wire_msg msg;
  memset(&msg, 0, sizeof msg);
  msg.hdr.request = SHMAP_REQ_ADD_MEM_REG;
  msg.hdr.flags = SHMAP_WIRE_VERSION;
  msg.u.region.memory_size = reg.size;
  for (int i = 0; i < 3; i++)
    ASSERT_OK(shmap_channel_send(front, &msg, &h, 1));
  shmap_mappable_unref(m);
  /* Three duplicates now live in this process, owned by `back`. */
  cr_assert_eq(test_handle_count(), opened + 3, "%ld handles, want %ld",
               test_handle_count(), opened + 3);
  shmap_channel_close(back);
  /* back's pipe, peer process and two events went, and the duplicates. */
  cr_assert_eq(test_handle_count(), opened - 4, "unread handles leaked: %ld",
               test_handle_count());
  shmap_channel_close(front);
}

/* A send whose write fails takes back the duplicates it made in the peer. */
SHMAP_TEST(pipe_ownership, failed_send_closes_remote_duplicates) {
  shmap_channel *front, *back;
  ASSERT_OK(shmap_channel_pair(0, &front, &back));
  shmap_channel_close(back);
  long before = test_handle_count();
  shmap_mappable *m;
  ASSERT_OK(shmap_mappable_create(G, 0, &m));
  /* host: a non-NULL stand-in (the peer is gone before it could use it). */
  shmap_region reg = {.guest_address = 0,
                      .size = G,
                      .mappable = m,
                      .file_offset = 0,
                      .host = (void *)(uintptr_t)0x100000000ull};
  ASSERT_ERR(shmap_frontend_add_region(front, &reg), SHMAP_ECLOSED);
  shmap_mappable_unref(m);
  cr_assert_eq(test_handle_count(), before, "duplicate left in the peer");
  shmap_channel_close(front);
}

/* The pipe's DACL names the current user only, with full access. */
SHMAP_TEST(pipe_security, dacl_is_current_user_only) {
  struct raw r;
  raw_open(&r, BE);
  PACL dacl = NULL;
  PSECURITY_DESCRIPTOR sd = NULL;
  DWORD err =
      GetSecurityInfo(shmap_channel_native(r.ch), SE_KERNEL_OBJECT,
                      DACL_SECURITY_INFORMATION, NULL, NULL, &dacl, NULL, &sd);
  cr_assert_eq(err, 0, "GetSecurityInfo: %lu", (unsigned long)err);
  cr_assert_not_null(dacl, "no DACL: everyone could connect");
  cr_assert_eq(dacl->AceCount, 1, "%u ACEs", (unsigned)dacl->AceCount);
  ACCESS_ALLOWED_ACE *ace = NULL;
  cr_assert(GetAce(dacl, 0, (void **)&ace));
  cr_assert_eq(ace->Header.AceType, ACCESS_ALLOWED_ACE_TYPE);
  HANDLE tok;
  union {
    TOKEN_USER u;
    BYTE room[256];
  } info;
  DWORD len;
  cr_assert(OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok));
  cr_assert(GetTokenInformation(tok, TokenUser, &info, sizeof info, &len));
  CloseHandle(tok);
  cr_assert(EqualSid((PSID)&ace->SidStart, info.u.User.Sid),
            "the ACE is not the current user's");
  LocalFree(sd);
  raw_close(&r);
}

/* A library client lets the server identify it, never impersonate it. */
SHMAP_TEST(pipe_security, client_allows_identification_only) {
  char addr[128];
  pipe_addr(addr, sizeof addr);
  shmap_listener *l;
  shmap_channel *client, *server;
  ASSERT_OK(shmap_listener_open(addr, &l));
  ASSERT_OK(shmap_channel_connect(addr, FE, SHMAP_CHANNEL_SAME_USER, &client));
  ASSERT_OK(shmap_listener_accept(l, BE, SHMAP_CHANNEL_SAME_USER, &server));
  /* Impersonation needs a message read first. */
  shmap_wire_msg m;
  shmap_native_t fds[SHMAP_WIRE_MAX_FDS];
  size_t n;
  memset(&m, 0, sizeof m);
  m.hdr.request = SHMAP_REQ_GET_MAX_MEM_SLOTS;
  m.hdr.flags = SHMAP_WIRE_VERSION | SHMAP_WIRE_NEED_REPLY;
  ASSERT_OK(shmap_channel_send(client, &m, NULL, 0));
  ASSERT_OK(shmap_channel_recv(server, &m, fds, &n));
  cr_assert(ImpersonateNamedPipeClient(shmap_channel_native(server)),
            "impersonate: %lu", (unsigned long)GetLastError());
  HANDLE tok = NULL;
  BOOL ok = OpenThreadToken(GetCurrentThread(), TOKEN_QUERY, TRUE, &tok);
  SECURITY_IMPERSONATION_LEVEL level = SecurityImpersonation;
  DWORD len = 0;
  if (ok)
    ok = GetTokenInformation(tok, TokenImpersonationLevel, &level, sizeof level,
                             &len);
  RevertToSelf();
  shmap_native_close(tok);
  cr_assert(ok, "thread token: %lu", (unsigned long)GetLastError());
  /* Wine (8 and 10) ignores the client's SECURITY_SQOS_PRESENT and always
   * grants impersonation; Windows must report identification. */
  int wine = GetProcAddress(GetModuleHandleW(L"ntdll.dll"),
                            "wine_get_version") != NULL;
  if (wine && level == SecurityImpersonation)
    fprintf(stderr, "note: this Wine ignores SECURITY_IDENTIFICATION on "
                    "pipe clients; the level is checked on Windows only\n");
  else
    cr_assert_eq(level, SecurityIdentification, "impersonation level %d",
                 (int)level);
  shmap_channel_close(client);
  shmap_channel_close(server);
  shmap_listener_close(l);
}

SHMAP_TEST(pipe_setup, errors_are_specific) {
  shmap_listener *l;
  shmap_channel *ch;
  char addr[128];
  pipe_addr(addr, sizeof addr);
  ASSERT_ERR(shmap_listener_open("/tmp/not-a-pipe", &l), SHMAP_EINVAL);
  ASSERT_ERR(shmap_listener_open("\\\\.\\pipe\\", &l), SHMAP_EINVAL);
  ASSERT_ERR(shmap_channel_connect(addr, FE, 0, &ch), SHMAP_ECONNREFUSED);
  HANDLE ev = CreateEventW(NULL, TRUE, FALSE, NULL), rd, wr;
  ASSERT_ERR(shmap_channel_adopt(ev, FE, 0, &ch), SHMAP_EBADF);
  cr_assert(test_native_is_open(ev), "adopt closed a handle it refused");
  CloseHandle(ev);
  /* An anonymous pipe is byte-mode: no message boundaries to trust. */
  cr_assert(CreatePipe(&rd, &wr, NULL, 0));
  ASSERT_ERR(shmap_channel_adopt(rd, FE, 0, &ch), SHMAP_EBADF);
  CloseHandle(rd);
  CloseHandle(wr);
}

/* Over a connected pipe found by name, with the peer-user check on, a
 * region's bytes written on one side are read on the other. */
SHMAP_TEST(pipe_setup, connect_accept_and_adopt_carry_regions) {
  char addr[128];
  pipe_addr(addr, sizeof addr);
  shmap_listener *l;
  shmap_channel *client, *server, *adopted;
  ASSERT_OK(shmap_listener_open(addr, &l));
  ASSERT_OK(shmap_channel_connect(addr, FE, SHMAP_CHANNEL_SAME_USER, &client));
  ASSERT_OK(shmap_listener_accept(l, BE, SHMAP_CHANNEL_SAME_USER, &server));
  /* Adopting the client's own handle (duplicated) works the same way. */
  HANDLE dup;
  cr_assert(DuplicateHandle(GetCurrentProcess(), shmap_channel_native(client),
                            GetCurrentProcess(), &dup, 0, FALSE,
                            DUPLICATE_SAME_ACCESS));
  ASSERT_OK(shmap_channel_adopt(dup, FE, 0, &adopted));
  shmap_window *guest;
  shmap_backend *be;
  shmap_mappable *m;
  ASSERT_OK(shmap_window_reserve(8 * G, 0, &guest));
  ASSERT_OK(shmap_backend_create(guest, NULL, &be));
  ASSERT_OK(shmap_mappable_create(2 * G, 0, &m));
  /* host: a non-NULL stand-in; the raw message below sends no address. */
  shmap_region reg = {.guest_address = 2 * G,
                      .size = 2 * G,
                      .mappable = m,
                      .file_offset = 0,
                      .host = (void *)(uintptr_t)0x100000000ull};
  /* The reply is sent before the request returns: no thread needed when
   * the server is served first, so send without waiting. */
  shmap_wire_msg msg;
  memset(&msg, 0, sizeof msg);
  msg.hdr.request = SHMAP_REQ_ADD_MEM_REG;
  msg.hdr.flags = SHMAP_WIRE_VERSION;
  msg.u.region.guest_phys_addr = reg.guest_address;
  msg.u.region.memory_size = reg.size;
  shmap_native_t h = shmap_mappable_native(m);
  ASSERT_OK(shmap_channel_send(adopted, &msg, &h, 1));
  shmap_event ev;
  ASSERT_OK(shmap_backend_serve_one(be, server, &ev));
  cr_assert_eq(ev.result, 0, "%s", shmap_err_name(ev.result));
  cr_assert_eq(shmap_backend_count(be), 1);
  shmap_window *mine;
  ASSERT_OK(shmap_window_reserve(2 * G, 0, &mine));
  ASSERT_OK(shmap_window_map(mine, 0, m, 0, 2 * G, SHMAP_PROT_RW));
  test_fill(shmap_window_base(mine), (size_t)(2 * G), 77);
  cr_assert_eq(test_check(shmap_window_translate(guest, 2 * G, 2 * G),
                          (size_t)(2 * G), 77),
               (size_t)-1);
  shmap_window_release(mine);
  shmap_backend_destroy(be);
  shmap_window_release(guest);
  shmap_mappable_unref(m);
  shmap_channel_close(adopted);
  shmap_channel_close(client);
  shmap_channel_close(server);
  shmap_listener_close(l);
}

/* ---- stalled peers (issue 15, item 5) ---- */

/* A regression must fail, not hang: past `ms` the watchdog fails the test
 * (its process) from its own thread. */
struct watchdog {
  HANDLE done;
  DWORD ms;
  test_thread *t;
};

static void watchdog_main(void *arg) {
  struct watchdog *w = arg;
  if (WaitForSingleObject(w->done, w->ms) == WAIT_TIMEOUT)
    cr_assert(0,
              "still blocked after %lu ms: the stalled peer holds the "
              "channel",
              (unsigned long)w->ms);
}

static void watchdog_start(struct watchdog *w, DWORD ms) {
  w->done = CreateEventW(NULL, TRUE, FALSE, NULL);
  cr_assert_not_null(w->done);
  w->ms = ms;
  w->t = test_thread_start(watchdog_main, w);
  cr_assert_not_null(w->t);
}

static void watchdog_stop(struct watchdog *w) {
  SetEvent(w->done);
  test_thread_join(w->t);
  CloseHandle(w->done);
}

/* A peer whose one write is a message far larger than the pipe's buffer:
 * the write stays pending while the channel reads it, and once the channel
 * has read part of it (less of it is left in the pipe) the peer cancels
 * it, so the rest never comes. */
struct staller {
  HANDLE client, server;
  OVERLAPPED *ov;
  DWORD total;
  int cancelled;
};

static void staller_main(void *arg) {
  struct staller *s = arg;
  ULONGLONG end = GetTickCount64() + 20000;
  DWORD avail = s->total;
  while (avail >= s->total && GetTickCount64() < end) {
    Sleep(0);
    if (!PeekNamedPipe(s->server, NULL, 0, NULL, &avail, NULL))
      break;
  }
  s->cancelled = CancelIoEx(s->client, s->ov) != 0;
}

#define STALL_MS 200

/* A peer that sends part of a message (an ADD_MEM_REG with its section
 * handle at the head of a 2 MiB pipe message) and stops: the back end's
 * serve_one gives up once the channel's timeout has passed inside the
 * message with SHMAP_ETIMEDOUT, the channel out of sync, the handle that
 * came in the part read closed and nothing mapped. */
SHMAP_TEST(pipe_stall, partial_message_times_out) {
  struct watchdog wd;
  watchdog_start(&wd, 30000);
  shmap_window *w;
  ASSERT_OK(shmap_window_reserve(8 * G, 0, &w));
  shmap_backend *be;
  ASSERT_OK(shmap_backend_create(w, NULL, &be));
  struct raw r;
  raw_open_with(&r, BE, FILE_FLAG_OVERLAPPED);
  ASSERT_OK(shmap_channel_set_timeout(r.ch, STALL_MS));
  cr_assert_eq(shmap_channel_timeout(r.ch), STALL_MS);
  OVERLAPPED ov;
  memset(&ov, 0, sizeof ov);
  ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
  cr_assert_not_null(ov.hEvent);
  long opened = test_handle_count();

  static uint8_t msg[2 << 20]; /* the peer's until its write has ended */
  memset(msg, 0, sizeof msg);
  HANDLE h = make_handle(SECTION);
  le32(msg, 1);
  le32(msg + 4, 0);
  le64(msg + 8, (uint64_t)(uintptr_t)h);
  add_region(msg + 16);
  struct staller st = {r.client, shmap_channel_native(r.ch), &ov,
                       (DWORD)sizeof msg, 0};
  BOOL ok = WriteFile(r.client, msg, (DWORD)sizeof msg, NULL, &ov);
  cr_assert(!ok && GetLastError() == ERROR_IO_PENDING,
            "a message larger than the pipe's buffer was written at once");
  test_thread *t = test_thread_start(staller_main, &st);
  cr_assert_not_null(t);
  ULONGLONG t0 = GetTickCount64();
  shmap_event ev;
  ASSERT_ERR(shmap_backend_serve_one(be, r.ch, &ev), SHMAP_ETIMEDOUT);
  ULONGLONG took = GetTickCount64() - t0;
  test_thread_join(t);
  DWORD n;
  cr_assert(!GetOverlappedResult(r.client, &ov, &n, TRUE) &&
                GetLastError() == ERROR_OPERATION_ABORTED && st.cancelled,
            "the peer's write was not cancelled (%lu)",
            (unsigned long)GetLastError());
  /* Returned, and within a generous bound (10x the timeout). */
  cr_assert(took < 10 * STALL_MS, "timed out after %llu ms",
            (unsigned long long)took);
  cr_assert_eq(shmap_channel_in_sync(r.ch), 0);
  cr_assert_eq(shmap_window_count(w), 0);
  cr_assert_eq(shmap_backend_count(be), 0);
  /* The section handle arrived with the part read and was closed. */
  cr_assert_eq(test_handle_count(), opened, "%ld handles before, %ld after",
               opened, test_handle_count());
  CloseHandle(ov.hEvent);
  raw_close(&r);
  shmap_backend_destroy(be);
  shmap_window_release(w);
  watchdog_stop(&wd);
}

/* A peer that floods requests that are always answered (GET_MAX_MEM_SLOTS)
 * and never reads the replies. */
struct flooder {
  HANDLE client;
  volatile LONG stop;
  long sent;
};

static void flood_main(void *arg) {
  struct flooder *f = arg;
  uint8_t req[8 + 12];
  le32(req, 0);
  le32(req + 4, 0);
  le32(req + 8, SHMAP_REQ_GET_MAX_MEM_SLOTS);
  le32(req + 12, SHMAP_WIRE_VERSION);
  le32(req + 16, 0);
  DWORD done;
  /* Ends when the channel's end closes (the write fails). */
  while (!f->stop && WriteFile(f->client, req, sizeof req, &done, NULL))
    f->sent++;
}

/* Once the pipe's buffer toward the peer is full the back end's reply
 * cannot go out, and serve_one fails with SHMAP_ETIMEDOUT instead of
 * blocking in the write for ever; the channel is out of sync. */
SHMAP_TEST(pipe_stall, flood_without_reading_times_out) {
  struct watchdog wd;
  watchdog_start(&wd, 60000);
  shmap_window *w;
  ASSERT_OK(shmap_window_reserve(8 * G, 0, &w));
  shmap_backend *be;
  ASSERT_OK(shmap_backend_create(w, NULL, &be));
  struct raw r;
  raw_open(&r, BE);
  ASSERT_OK(shmap_channel_set_timeout(r.ch, STALL_MS));
  struct flooder f = {r.client, 0, 0};
  test_thread *t = test_thread_start(flood_main, &f);
  cr_assert_not_null(t);
  shmap_event ev;
  int rc, served = 0;
  ULONGLONG t0 = 0;
  for (;;) {
    t0 = GetTickCount64();
    if ((rc = shmap_backend_serve_one(be, r.ch, &ev)) != 0)
      break;
    served++;
  }
  ULONGLONG took = GetTickCount64() - t0;
  cr_assert_eq(rc, SHMAP_ETIMEDOUT, "after %d requests: %s (%s)", served,
               shmap_err_name(rc), shmap_last_message());
  cr_assert(served > 0);
  cr_assert(took < 10 * STALL_MS, "the last serve took %llu ms",
            (unsigned long long)took);
  cr_assert_eq(shmap_channel_in_sync(r.ch), 0);
  /* Closing the channel's end ends the flooder's blocked write. */
  InterlockedExchange(&f.stop, 1);
  shmap_channel_close(r.ch);
  test_thread_join(t);
  CloseHandle(r.client);
  shmap_listener_close(r.l);
  shmap_backend_destroy(be);
  shmap_window_release(w);
  watchdog_stop(&wd);
}

/* A send that times out (the peer reads nothing and the pipe's buffer is
 * full) takes back the handle it had duplicated into the peer: each
 * message still in the pipe holds one duplicate, the timed-out one none
 * (both ends are in this process, so the handle count shows it). */
SHMAP_TEST(pipe_stall, timed_out_send_takes_back_its_handles) {
  struct watchdog wd;
  watchdog_start(&wd, 60000);
  shmap_channel *front, *back;
  ASSERT_OK(shmap_channel_pair(0, &front, &back));
  ASSERT_OK(shmap_channel_set_timeout(front, STALL_MS));
  shmap_mappable *m;
  ASSERT_OK(shmap_mappable_create(G, 0, &m));
  shmap_native_t h = shmap_mappable_native(m);
  shmap_wire_msg msg;
  memset(&msg, 0, sizeof msg);
  msg.hdr.request = SHMAP_REQ_ADD_MEM_REG;
  msg.hdr.flags = SHMAP_WIRE_VERSION;
  msg.u.region.memory_size = G;
  long opened = test_handle_count();
  long sent = 0;
  int rc;
  while ((rc = shmap_channel_send(front, &msg, &h, 1)) == 0)
    sent++;
  cr_assert_eq(rc, SHMAP_ETIMEDOUT, "after %ld messages: %s (%s)", sent,
               shmap_err_name(rc), shmap_last_message());
  cr_assert(sent > 0);
  cr_assert_eq(shmap_channel_in_sync(front), 0);
  cr_assert_eq(test_handle_count(), opened + sent,
               "%ld handles, want %ld (%ld messages in the pipe)",
               test_handle_count(), opened + sent, sent);
  shmap_channel_close(back); /* closes the duplicates it never read */
  shmap_channel_close(front);
  shmap_mappable_unref(m);
  watchdog_stop(&wd);
}

/* A peer whose one write is a message of `len` bytes, far larger than the
 * pipe's buffer: the write stays pending until the message is read whole
 * or the channel's end closes. */
struct huge_writer {
  HANDLE client;
  const uint8_t *msg;
  DWORD len;
  BOOL ok;
  DWORD err;
};

static void huge_main(void *arg) {
  struct huge_writer *h = arg;
  DWORD done = 0;
  h->ok = WriteFile(h->client, h->msg, h->len, &done, NULL);
  h->err = h->ok ? 0 : GetLastError();
}

#define HUGE_MESSAGE (64u << 20)

/* After a huge writer's channel has closed: the raw peer's end, the
 * listener and the message go, and every handle the message named went
 * with the channel (the count is back to `before`). */
static void huge_end(struct raw *r, uint8_t *msg, long before) {
  CloseHandle(r->client);
  shmap_listener_close(r->l);
  VirtualFree(msg, 0, MEM_RELEASE);
  cr_assert_eq(test_handle_count_low(), before, "%ld handles before, %ld after",
               before, test_handle_count_low());
}

/* A channel closing with a valid message (a section handle in its
 * envelope) and then a 64 MiB one unread: close reads a bounded part of
 * the huge one and closes the pipe, so the peer's write fails (an
 * unbounded drain read all of it: the write succeeded); the handle of the
 * valid message is closed. */
SHMAP_TEST(pipe_stall, close_drains_a_bounded_amount) {
  struct watchdog wd;
  watchdog_start(&wd, 60000);
  long before = test_handle_count_low();
  struct raw r;
  raw_open(&r, BE);
  uint8_t frame[SHMAP_WIRE_MAX_MESSAGE];
  size_t len = add_region(frame);
  uint64_t h = (uint64_t)(uintptr_t)make_handle(SECTION);
  raw_write(&r, 1, 0, &h, 1, frame, len);
  /* Zero: an envelope naming no handle, then zero bytes. */
  uint8_t *msg = VirtualAlloc(NULL, HUGE_MESSAGE, MEM_COMMIT | MEM_RESERVE,
                              PAGE_READWRITE);
  cr_assert_not_null(msg);
  struct huge_writer hw = {r.client, msg, HUGE_MESSAGE, FALSE, 0};
  test_thread *t = test_thread_start(huge_main, &hw);
  cr_assert_not_null(t);
  /* Close once the huge write is in the pipe behind the valid message. */
  DWORD avail = 0;
  while (
      PeekNamedPipe(shmap_channel_native(r.ch), NULL, 0, NULL, &avail, NULL) &&
      avail <= 16 + len)
    Sleep(1);
  shmap_channel_close(r.ch);
  test_thread_join(t);
  cr_assert(!hw.ok, "close read the peer's %u-byte message whole",
            HUGE_MESSAGE);
  cr_assert(hw.err == ERROR_BROKEN_PIPE || hw.err == ERROR_NO_DATA ||
                hw.err == ERROR_PIPE_NOT_CONNECTED,
            "the peer's write failed with %lu", (unsigned long)hw.err);
  huge_end(&r, msg, before);
  watchdog_stop(&wd);
}

/* A message far longer than any valid one (64 MiB, a section handle named
 * in its envelope) on a channel with no timeout: the receive reads a
 * bounded part of it and refuses it without reading the rest (a receive
 * that read it whole let the peer's write succeed), and closes the handle
 * it names; the channel is out of sync for its owner to close. */
SHMAP_TEST(pipe_stall, oversized_message_is_not_read_whole) {
  struct watchdog wd;
  watchdog_start(&wd, 60000);
  long before = test_handle_count_low();
  struct raw r;
  raw_open(&r, BE);
  uint8_t *msg = VirtualAlloc(NULL, HUGE_MESSAGE, MEM_COMMIT | MEM_RESERVE,
                              PAGE_READWRITE);
  cr_assert_not_null(msg);
  le32(msg, 1);
  le32(msg + 4, 0);
  le64(msg + 8, (uint64_t)(uintptr_t)make_handle(SECTION));
  struct huge_writer hw = {r.client, msg, HUGE_MESSAGE, FALSE, 0};
  test_thread *t = test_thread_start(huge_main, &hw);
  cr_assert_not_null(t);
  shmap_wire_msg m;
  shmap_native_t fds[SHMAP_WIRE_MAX_FDS];
  size_t nfds = 7;
  cr_assert_eq(shmap_channel_recv(r.ch, &m, fds, &nfds), SHMAP_EPROTO, "%s",
               shmap_last_message());
  cr_assert(strstr(shmap_last_message(), "longer than any valid one") != NULL,
            "%s", shmap_last_message());
  cr_assert_eq(nfds, 0);
  cr_assert_eq(shmap_channel_in_sync(r.ch), 0);
  shmap_channel_close(r.ch);
  test_thread_join(t);
  cr_assert(!hw.ok, "the receive read the peer's %u-byte message whole",
            HUGE_MESSAGE);
  huge_end(&r, msg, before);
  watchdog_stop(&wd);
}
