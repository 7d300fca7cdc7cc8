/* shmap — Windows channel setup: message-mode named pipes.
 *
 * Every pipe instance gets a DACL naming only the current user, refuses
 * remote clients, and clients open it with SECURITY_IDENTIFICATION so the
 * server can learn who they are but never act as them. Each end opens the
 * other end's process (PROCESS_DUP_HANDLE) once, at connection time, to
 * duplicate handles into it when sending; a pair end kept while its other
 * end went to another process learns that process from the main channel
 * (shmap__os_chan_peer_from). */
#include <stdio.h>
#include <string.h>

#include "internal.h"

#include <sddl.h> /* after <windows.h> (internal.h), which it needs */

#define PIPE_PREFIX "\\\\.\\pipe\\"
#define PIPE_BUFFER 65536
/* How long connect waits for a busy server to offer a free instance. */
#define CONNECT_WAIT_MS 10000

static int pipe_name(const char *what, const char *addr, wchar_t *out,
                     size_t cap) {
  if (addr == NULL || strncmp(addr, PIPE_PREFIX, sizeof PIPE_PREFIX - 1) != 0 ||
      addr[sizeof PIPE_PREFIX - 1] == '\0')
    return shmap__err(SHMAP_EINVAL, "%s: \"%s\" is not a \\\\.\\pipe\\ name",
                      what, addr != NULL ? addr : "(null)");
  if (MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, addr, -1, out,
                          (int)cap) == 0)
    return shmap__err_os(SHMAP_EINVAL, (int)GetLastError(),
                         "%s: pipe name is not UTF-8 or longer than %zu "
                         "characters",
                         what, cap - 1);
  return 0;
}

/* The user of `process`'s token, copied into `sid` (room for any SID). */
static int token_user(HANDLE process, const char *what, BYTE *sid, DWORD cap) {
  HANDLE tok;
  union {
    TOKEN_USER user;
    BYTE room[sizeof(TOKEN_USER) + SECURITY_MAX_SID_SIZE];
  } info;
  DWORD len = 0;
  if (!OpenProcessToken(process, TOKEN_QUERY, &tok))
    return shmap__err_sys(SHMAP_EOS, (int)GetLastError(), "%s: process token",
                          what);
  BOOL ok = GetTokenInformation(tok, TokenUser, &info, sizeof info, &len);
  DWORD err = GetLastError();
  CloseHandle(tok);
  if (!ok || !CopySid(cap, sid, info.user.User.Sid))
    return shmap__err_sys(SHMAP_EOS, ok ? (int)GetLastError() : (int)err,
                          "%s: token user", what);
  return 0;
}

/* Security attributes whose DACL grants the current user everything and
 * nobody else anything (P: no inherited ACEs). Free lpSecurityDescriptor
 * with LocalFree. */
static int user_only(SECURITY_ATTRIBUTES *sa) {
  BYTE sid[SECURITY_MAX_SID_SIZE];
  wchar_t *text = NULL, sddl[256];
  int rc = token_user(GetCurrentProcess(), "pipe DACL", sid, sizeof sid);
  if (rc != 0)
    return rc;
  if (!ConvertSidToStringSidW(sid, &text))
    return shmap__err_sys(SHMAP_EOS, (int)GetLastError(), "pipe DACL: SID");
  _snwprintf(sddl, sizeof sddl / sizeof *sddl, L"D:P(A;;GA;;;%ls)", text);
  sddl[sizeof sddl / sizeof *sddl - 1] = L'\0';
  LocalFree(text);
  sa->nLength = sizeof *sa;
  sa->bInheritHandle = FALSE;
  if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(
          sddl, SDDL_REVISION_1, &sa->lpSecurityDescriptor, NULL))
    return shmap__err_sys(SHMAP_EOS, (int)GetLastError(),
                          "pipe DACL: security descriptor");
  return 0;
}

/* Create one server instance of `name`; `first` insists that the name is
 * new (real Windows enforces it; Wine does not). */
static int pipe_instance(const char *what, const wchar_t *name, int first,
                         DWORD instances, HANDLE *out) {
  /* Where the flag is not enforced, a name some server holds is seen by
   * asking to wait for it: "no such pipe" only when nobody holds it. The
   * wait connects to nothing (the server sees no peer). */
  if (first &&
      (WaitNamedPipeW(name, 1) || GetLastError() != ERROR_FILE_NOT_FOUND))
    return shmap__err(SHMAP_EBUSY,
                      "%s: a server already holds pipe %ls; not sharing it",
                      what, name);
  SECURITY_ATTRIBUTES sa;
  int rc = user_only(&sa);
  if (rc != 0)
    return rc;
  DWORD open = PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED |
               (first ? FILE_FLAG_FIRST_PIPE_INSTANCE : 0);
  DWORD mode = PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE | PIPE_WAIT |
               PIPE_REJECT_REMOTE_CLIENTS;
  HANDLE h = CreateNamedPipeW(name, open, mode, instances, PIPE_BUFFER,
                              PIPE_BUFFER, 0, &sa);
  DWORD err = GetLastError();
  LocalFree(sa.lpSecurityDescriptor);
  if (h == INVALID_HANDLE_VALUE)
    /* ERROR_ACCESS_DENIED from the first instance: another server holds
     * the name (FILE_FLAG_FIRST_PIPE_INSTANCE), the busy address of POSIX's
     * EADDRINUSE; it cannot be told from a name another user holds. */
    return shmap__err_sys(err == ERROR_ACCESS_DENIED ? SHMAP_EBUSY : SHMAP_EOS,
                          (int)err, "%s: creating pipe %ls", what, name);
  *out = h;
  return 0;
}

/* Wait until a client has connected to server instance `h`. */
static int wait_client(HANDLE h, const wchar_t *name) {
  OVERLAPPED ov;
  memset(&ov, 0, sizeof ov);
  ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
  if (ov.hEvent == NULL)
    return shmap__err_sys(SHMAP_EOS, (int)GetLastError(), "accept: event");
  DWORD err = ConnectNamedPipe(h, &ov) ? 0 : GetLastError();
  if (err == ERROR_IO_PENDING) {
    DWORD n;
    err = GetOverlappedResult(h, &ov, &n, TRUE) ? 0 : GetLastError();
  } else if (err == ERROR_PIPE_CONNECTED) {
    err = 0;
  }
  CloseHandle(ov.hEvent);
  if (err != 0)
    return shmap__err_sys(SHMAP_EOS, (int)err, "accept on %ls", name);
  return 0;
}

/* Fill `out` for the connected pipe `h` (not closed on failure): open the
 * peer process and the two I/O events. */
static int chan_init(HANDLE h, int server, const char *what,
                     shmap__chan_os *out) {
  ULONG pid = 0;
  BOOL ok = server ? GetNamedPipeClientProcessId(h, &pid)
                   : GetNamedPipeServerProcessId(h, &pid);
  if (!ok)
    return shmap__err_sys(SHMAP_EOS, (int)GetLastError(), "%s: peer process id",
                          what);
  memset(out, 0, sizeof *out);
  out->pipe = h;
  out->peer = OpenProcess(
      PROCESS_DUP_HANDLE | PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pid);
  if (out->peer == NULL)
    return shmap__err_sys(SHMAP_EOS, (int)GetLastError(),
                          "%s: opening peer process %lu", what,
                          (unsigned long)pid);
  out->rd_ev = CreateEventW(NULL, TRUE, FALSE, NULL);
  out->wr_ev = CreateEventW(NULL, TRUE, FALSE, NULL);
  if (out->rd_ev == NULL || out->wr_ev == NULL) {
    int err = (int)GetLastError();
    shmap_native_close(out->rd_ev);
    shmap_native_close(out->wr_ev);
    CloseHandle(out->peer);
    return shmap__err_sys(SHMAP_EOS, err, "%s: I/O events", what);
  }
  return 0;
}

int shmap__os_listen(const char *addr, shmap__listener_os *out) {
  int rc = pipe_name("listen", addr, out->name,
                     sizeof out->name / sizeof *out->name);
  if (rc == 0)
    rc = pipe_instance("listen", out->name, 1, PIPE_UNLIMITED_INSTANCES,
                       &out->pending);
  return rc;
}

int shmap__os_accept(shmap__listener_os *l, shmap__chan_os *out) {
  for (;;) {
    int rc = 0;
    if (l->pending == NULL)
      rc = pipe_instance("accept", l->name, 0, PIPE_UNLIMITED_INSTANCES,
                         &l->pending);
    if (rc != 0)
      return rc;
    HANDLE h = l->pending;
    l->pending = NULL;
    rc = wait_client(h, l->name);
    if (rc == SHMAP_ECLOSED) {
      /* The client left before we saw it: serve the next one. */
      CloseHandle(h);
      continue;
    }
    if (rc == 0)
      rc = chan_init(h, 1, "accept", out);
    if (rc != 0)
      CloseHandle(h);
    /* Offer the next instance now; if that fails the next accept retries. */
    if (pipe_instance("accept", l->name, 0, PIPE_UNLIMITED_INSTANCES,
                      &l->pending) != 0)
      l->pending = NULL;
    return rc;
  }
}

void shmap__os_listener_close(shmap__listener_os *l) {
  shmap_native_close(l->pending);
  l->pending = NULL;
}

/* Open the client end of `name`, waiting up to CONNECT_WAIT_MS while every
 * instance is busy. */
static int open_client(const char *what, const wchar_t *name, HANDLE *out) {
  ULONGLONG deadline = GetTickCount64() + CONNECT_WAIT_MS;
  for (;;) {
    HANDLE h = CreateFileW(
        name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING,
        FILE_FLAG_OVERLAPPED | SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION,
        NULL);
    DWORD err = GetLastError();
    if (h != INVALID_HANDLE_VALUE) {
      DWORD mode = PIPE_READMODE_MESSAGE;
      if (!SetNamedPipeHandleState(h, &mode, NULL, NULL)) {
        err = GetLastError();
        CloseHandle(h);
        return shmap__err_sys(SHMAP_EOS, (int)err, "%s: message mode", what);
      }
      *out = h;
      return 0;
    }
    ULONGLONG now = GetTickCount64();
    if (err == ERROR_PIPE_BUSY && now < deadline) {
      /* WaitNamedPipe may return at once on some systems; the loop and the
       * deadline bound it either way. */
      if (!WaitNamedPipeW(name, (DWORD)(deadline - now)))
        Sleep(1);
      continue;
    }
    /* No pipe of that name: nobody listens (POSIX: ECONNREFUSED, or no
     * socket file). Every instance busy until the deadline: timed out. */
    if (err == ERROR_FILE_NOT_FOUND || err == ERROR_PIPE_BUSY)
      return shmap__err_os(err == ERROR_PIPE_BUSY ? SHMAP_ETIMEDOUT
                                                  : SHMAP_ECONNREFUSED,
                           (int)err, "%s: opening pipe %ls", what, name);
    return shmap__err_sys(SHMAP_EOS, (int)err, "%s: opening pipe %ls", what,
                          name);
  }
}

int shmap__os_connect(const char *addr, shmap__chan_os *out) {
  wchar_t name[256];
  HANDLE h;
  int rc = pipe_name("connect", addr, name, sizeof name / sizeof *name);
  if (rc == 0)
    rc = open_client("connect", name, &h);
  if (rc == 0 && (rc = chan_init(h, 0, "connect", out)) != 0)
    CloseHandle(h);
  return rc;
}

int shmap__os_adopt(shmap_native_t conn, shmap__chan_os *out) {
  DWORD flags = 0, mode = PIPE_READMODE_MESSAGE;
  if (GetFileType(conn) != FILE_TYPE_PIPE ||
      !GetNamedPipeInfo(conn, &flags, NULL, NULL, NULL) ||
      !(flags & PIPE_TYPE_MESSAGE) ||
      !SetNamedPipeHandleState(conn, &mode, NULL, NULL))
    return shmap__err_os(SHMAP_EBADF, (int)GetLastError(),
                         "channel adopt: handle %p is not a message-mode "
                         "named pipe",
                         conn);
  return chan_init(conn, (flags & PIPE_SERVER_END) != 0, "channel adopt", out);
}

int shmap__os_pair(shmap__chan_os *a, shmap__chan_os *b) {
  static volatile LONG seq;
  char addr[128];
  wchar_t name[128];
  LARGE_INTEGER t;
  QueryPerformanceCounter(&t);
  snprintf(addr, sizeof addr, PIPE_PREFIX "shmap-pair-%lu-%ld-%llx",
           (unsigned long)GetCurrentProcessId(),
           (long)InterlockedIncrement(&seq), (unsigned long long)t.QuadPart);
  HANDLE server = NULL, client = NULL;
  int rc = pipe_name("channel pair", addr, name, sizeof name / sizeof *name);
  if (rc == 0)
    rc = pipe_instance("channel pair", name, 1, 1, &server);
  if (rc == 0)
    rc = open_client("channel pair", name, &client);
  if (rc == 0)
    rc = wait_client(server, name);
  if (rc == 0 && (rc = chan_init(server, 1, "channel pair", a)) == 0) {
    /* Another process of ours could have raced to the instance; the pair
     * is ours only if both ends are in this process. */
    if (GetProcessId(a->peer) != GetCurrentProcessId())
      rc = shmap__err(SHMAP_EACCES,
                      "channel pair: %s was taken by process "
                      "%lu",
                      addr, (unsigned long)GetProcessId(a->peer));
    else
      rc = chan_init(client, 0, "channel pair", b);
    if (rc != 0) {
      a->pipe = NULL; /* closed below */
      shmap__os_chan_close(a);
    }
  }
  if (rc != 0) {
    shmap_native_close(server);
    shmap_native_close(client);
  }
  return rc;
}

/* The two ends of a pair are both opened by this process, so the pipe names
 * this process as its client and its server alike and chan_init gave each
 * end this process as peer: right while both ends stay here (threads).
 * When one end is handed to another process (SET_BACKEND_REQ_FD), that
 * process's chan_init, on adopting it, finds the front end as the pipe's
 * creator, which is right for it; but the end kept here would go on
 * duplicating handles into itself, its peer values meaning nothing, or
 * something else, over there. Nothing in Windows tells which process holds
 * the other end of a pipe (the ids it records are those of the processes
 * that created and opened it, and cannot be changed from user mode), so it
 * cannot be found out later; the caller that handed the end over knows: to
 * the peer of `from`, the main channel, whose process handle we copy.
 * SAME_USER was checked against this process when the pair was made; a
 * caller that wants it for the new peer checks again. */
int shmap__os_chan_peer_from(shmap__chan_os *c, const shmap__chan_os *from) {
  HANDLE peer;
  if (!DuplicateHandle(GetCurrentProcess(), from->peer, GetCurrentProcess(),
                       &peer, 0, FALSE, DUPLICATE_SAME_ACCESS))
    return shmap__err_sys(SHMAP_EOS, (int)GetLastError(),
                          "channel: taking the peer process %lu of the main "
                          "channel",
                          (unsigned long)GetProcessId(from->peer));
  shmap_native_close(c->peer);
  c->peer = peer;
  return 0;
}

shmap_native_t shmap__os_chan_native(const shmap__chan_os *c) {
  return c->pipe;
}

int shmap__os_peer_check(shmap__chan_os *c) {
  BYTE mine[SECURITY_MAX_SID_SIZE], theirs[SECURITY_MAX_SID_SIZE];
  int rc =
      token_user(GetCurrentProcess(), "channel peer check", mine, sizeof mine);
  if (rc == 0)
    rc = token_user(c->peer, "channel peer check", theirs, sizeof theirs);
  if (rc == 0 && !EqualSid(mine, theirs))
    rc = shmap__err(SHMAP_EPERM,
                    "channel: peer process %lu runs as another "
                    "user",
                    (unsigned long)GetProcessId(c->peer));
  return rc;
}
