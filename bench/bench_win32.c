/* shmap benchmarks — what the library's operations cost when done with bare
 * Windows calls, measured in the same run. The map baselines follow the
 * window path the library runs (shmap_platform()'s window_path): the
 * placeholder calls where it uses placeholders, the re-reserved reservation
 * where it falls back. */
#ifndef WIN32_LEAN_AND_MEAN
#  define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include <malloc.h>

#include <sddl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

/* Not in mingw-w64 10's headers or import libraries: resolved at run time
 * from kernelbase.dll, as the library does. */
#ifndef MEM_RESERVE_PLACEHOLDER
#  define MEM_RESERVE_PLACEHOLDER 0x00040000
#endif
#ifndef MEM_REPLACE_PLACEHOLDER
#  define MEM_REPLACE_PLACEHOLDER 0x00004000
#endif
#ifndef MEM_PRESERVE_PLACEHOLDER
#  define MEM_PRESERVE_PLACEHOLDER 0x00000002
#endif
#ifndef MEM_COALESCE_PLACEHOLDERS
#  define MEM_COALESCE_PLACEHOLDERS 0x00000001
#endif

typedef PVOID(WINAPI *alloc2_fn)(HANDLE, PVOID, SIZE_T, ULONG, ULONG, void *,
                                 ULONG);
typedef PVOID(WINAPI *view3_fn)(HANDLE, HANDLE, PVOID, ULONG64, SIZE_T, ULONG,
                                ULONG, void *, ULONG);
typedef BOOL(WINAPI *unview2_fn)(HANDLE, PVOID, ULONG);
/* NtQuerySection's SectionBasicInformation. */
typedef struct {
  PVOID base;
  ULONG attributes;
  LARGE_INTEGER size;
} section_info;
typedef LONG(NTAPI *query_section_fn)(HANDLE, int, PVOID, SIZE_T, PSIZE_T);

static alloc2_fn alloc2;
static view3_fn view3;
static unview2_fn unview2;
static query_section_fn query_section;
static int placeholders = -1; /* -1: not looked at yet */

_Noreturn static void fail(const char *what) {
  fprintf(stderr, "shmap-bench: %s failed: Windows error %lu\n", what,
          (unsigned long)GetLastError());
  exit(1);
}

/* The C runtime's heap, block by block: mingw's malloc is msvcrt's. */
double bench_heap_bytes(void) {
  _HEAPINFO h;
  h._pentry = NULL;
  double used = 0;
  int rc;
  while ((rc = _heapwalk(&h)) == _HEAPOK)
    if (h._useflag == _USEDENTRY)
      used += (double)h._size;
  return rc == _HEAPEND ? used : -1;
}

int bench_cpus(void) {
  SYSTEM_INFO si;
  GetSystemInfo(&si);
  return si.dwNumberOfProcessors > 0 ? (int)si.dwNumberOfProcessors : 1;
}

double bench_now_ns(void) {
  static double ns_per_tick;
  LARGE_INTEGER t;
  if (ns_per_tick == 0) {
    QueryPerformanceFrequency(&t);
    ns_per_tick = 1e9 / (double)t.QuadPart;
  }
  QueryPerformanceCounter(&t);
  return (double)t.QuadPart * ns_per_tick;
}

/* Which way the library maps, and the functions the placeholder way needs. */
static int use_placeholders(void) {
  if (placeholders >= 0)
    return placeholders;
  shmap_platform_info pi;
  shmap_platform(&pi);
  placeholders = strcmp(pi.window_path, "placeholder") == 0;
  HMODULE kb = GetModuleHandleW(L"kernelbase.dll");
  HMODULE nt = GetModuleHandleW(L"ntdll.dll");
  if (nt == NULL || (query_section = (query_section_fn)(void (*)(
                         void))GetProcAddress(nt, "NtQuerySection")) == NULL)
    fail("resolving NtQuerySection");
  if (placeholders) {
    if (kb == NULL)
      fail("finding kernelbase.dll");
    alloc2 = (alloc2_fn)(void (*)(void))GetProcAddress(kb, "VirtualAlloc2");
    view3 = (view3_fn)(void (*)(void))GetProcAddress(kb, "MapViewOfFile3");
    unview2 =
        (unview2_fn)(void (*)(void))GetProcAddress(kb, "UnmapViewOfFile2");
    if (alloc2 == NULL || view3 == NULL || unview2 == NULL)
      fail("resolving the placeholder functions");
  }
  return placeholders;
}

const char *bench_bare_name(enum bench_bare kind) {
  int ph = use_placeholders();
  switch (kind) {
  case BENCH_BARE_MAP:
    return ph ? "MapViewOfFile3/UnmapViewOfFile2"
              : "MapViewOfFileEx/UnmapViewOfFile";
  case BENCH_BARE_CREATE:
    return ph ? "CreateFileMapping+MapViewOfFile3+unmap+close"
              : "CreateFileMapping+MapViewOfFileEx+unmap+close";
  case BENCH_BARE_FD: return "DuplicateHandle+pipe+NtQuerySection+map+replies";
  case BENCH_BARE_FD_PLACED:
    return ph ? "the same, placed: split+MapViewOfFile3+coalesce"
              : "the same, placed: MapViewOfFileEx+re-reserve";
  default: return "WriteFile/ReadFile of the same bytes";
  }
}

/* ---- the two ways of putting a view into reserved address space ---- */

/* A reservation of `size` bytes: one placeholder, or one MEM_RESERVE. */
static uint8_t *reserve(uint64_t size) {
  void *p = use_placeholders()
                ? alloc2(NULL, NULL, (SIZE_T)size,
                         MEM_RESERVE | MEM_RESERVE_PLACEHOLDER, PAGE_NOACCESS,
                         NULL, 0)
                : VirtualAlloc(NULL, (SIZE_T)size, MEM_RESERVE, PAGE_NOACCESS);
  if (p == NULL)
    fail("reserve");
  return p;
}

/* Map [0, len) of `sec` at `at`, which is the whole of one placeholder or
 * of one reservation, and touch its first page unless `i` < 0. */
static void map_at(HANDLE sec, uint8_t *at, uint64_t len, int i) {
  if (placeholders) {
    if (view3(sec, GetCurrentProcess(), at, 0, (SIZE_T)len,
              MEM_REPLACE_PLACEHOLDER, PAGE_READWRITE, NULL, 0) != at)
      fail("MapViewOfFile3");
  } else {
    if (!VirtualFree(at, 0, MEM_RELEASE))
      fail("VirtualFree");
    if (MapViewOfFileEx(sec, FILE_MAP_WRITE, 0, 0, (SIZE_T)len, at) != at)
      fail("MapViewOfFileEx");
  }
  if (i >= 0)
    at[0] = (uint8_t)i;
}

/* Undo map_at: the range is reserved again. */
static void unmap_at(uint8_t *at, uint64_t len) {
  if (placeholders) {
    if (!unview2(GetCurrentProcess(), at, MEM_PRESERVE_PLACEHOLDER))
      fail("UnmapViewOfFile2");
  } else {
    if (!UnmapViewOfFile(at))
      fail("UnmapViewOfFile");
    if (VirtualAlloc(at, (SIZE_T)len, MEM_RESERVE, PAGE_NOACCESS) != at)
      fail("VirtualAlloc re-reserve");
  }
}

static HANDLE section(uint64_t len, SECURITY_ATTRIBUTES *sa) {
  HANDLE h =
      CreateFileMappingW(INVALID_HANDLE_VALUE, sa, PAGE_READWRITE | SEC_COMMIT,
                         (DWORD)(len >> 32), (DWORD)len, NULL);
  if (h == NULL)
    fail("CreateFileMapping");
  return h;
}

/* A section viewed over a reservation of exactly its size, touched, and
 * the reservation restored: what a window does, minus the bookkeeping. */
double bench_bare_map_unmap(uint64_t len, int iters) {
  use_placeholders();
  HANDLE sec = section(len, NULL);
  uint8_t *res = reserve(len);
  /* The first view of a new section costs extra (under Wine 2 ms at 1 GiB);
   * the library's side reuses one mappable for every round, so pay it here
   * outside the clock. */
  map_at(sec, res, len, 0);
  unmap_at(res, len);
  double t0 = bench_now_ns();
  for (int i = 0; i < iters; i++) {
    map_at(sec, res, len, i);
    unmap_at(res, len);
  }
  double ns = (bench_now_ns() - t0) / iters;
  VirtualFree(res, 0, MEM_RELEASE);
  CloseHandle(sec);
  return ns;
}

/* The same with the range in the middle of a larger reservation (one
 * granule either side), as in a guest window holding several regions.
 * Placeholders: split the range off on both sides, replace, unmap and
 * coalesce the three placeholders again, every time. Fallback: the first
 * map leaves three reservations behind, and from then on only the middle
 * one is released and re-reserved. */
struct inside {
  HANDLE sec;
  uint8_t *res, *at;
  uint64_t g, len;
};

static void inside_cycle(const struct inside *s, int i) {
  if (placeholders && (!VirtualFree(s->res, (SIZE_T)s->g,
                                    MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER) ||
                       !VirtualFree(s->at, (SIZE_T)s->len,
                                    MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER)))
    fail("splitting the placeholder");
  map_at(s->sec, s->at, s->len, i);
  unmap_at(s->at, s->len);
  if (placeholders && !VirtualFree(s->res, (SIZE_T)(s->len + 2 * s->g),
                                   MEM_RELEASE | MEM_COALESCE_PLACEHOLDERS))
    fail("coalescing the placeholders");
}

double bench_bare_map_unmap_inside(uint64_t len, int iters) {
  use_placeholders();
  struct inside s;
  s.g = shmap_map_granularity();
  s.len = len;
  s.sec = section(len, NULL);
  s.res = reserve(len + 2 * s.g);
  s.at = s.res + s.g;
  if (!placeholders) {
    /* Cut the reservation into three, as the library's first map does. */
    uint8_t *end = s.at + len;
    if (!VirtualFree(s.res, 0, MEM_RELEASE) ||
        VirtualAlloc(s.res, (SIZE_T)s.g, MEM_RESERVE, PAGE_NOACCESS) != s.res ||
        VirtualAlloc(s.at, (SIZE_T)len, MEM_RESERVE, PAGE_NOACCESS) != s.at ||
        VirtualAlloc(end, (SIZE_T)s.g, MEM_RESERVE, PAGE_NOACCESS) != end)
      fail("cutting the reservation");
  }
  inside_cycle(&s, 0); /* the first view outside the clock, as above */
  double t0 = bench_now_ns();
  for (int i = 0; i < iters; i++)
    inside_cycle(&s, i);
  double ns = (bench_now_ns() - t0) / iters;
  VirtualFree(s.res, 0, MEM_RELEASE);
  if (!placeholders) {
    VirtualFree(s.at, 0, MEM_RELEASE);
    VirtualFree(s.at + len, 0, MEM_RELEASE);
  }
  CloseHandle(s.sec);
  return ns;
}

/* What creating a mappable, mapping it into a window, unmapping it and
 * dropping it come to with bare calls: a pagefile-backed SEC_COMMIT
 * section with the same DACL as the library's (built once: it is the
 * counterpart of the seals on POSIX), viewed over a reservation kept for
 * the whole run, one page touched, the reservation restored, CloseHandle. */
double bench_bare_create_map_unmap(uint64_t len, int iters) {
  use_placeholders();
  SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, FALSE};
  if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(
          L"D:P(A;;0x5;;;OW)(A;;0x5;;;WD)", SDDL_REVISION_1,
          &sa.lpSecurityDescriptor, NULL))
    fail("security descriptor");
  uint8_t *res = reserve(len);
  double t0 = bench_now_ns();
  for (int i = 0; i < iters; i++) {
    HANDLE sec = section(len, &sa);
    map_at(sec, res, len, i);
    unmap_at(res, len);
    CloseHandle(sec);
  }
  double ns = (bench_now_ns() - t0) / iters;
  VirtualFree(res, 0, MEM_RELEASE);
  LocalFree(sa.lpSecurityDescriptor);
  return ns;
}

/* ---- round trips over a message-mode named pipe pair ---- */

struct pipe_pair {
  HANDLE a, b; /* server end, client end; synchronous I/O */
};

static struct pipe_pair pipe_pair(void) {
  static LONG seq;
  wchar_t name[96];
  _snwprintf(
      name, sizeof name / sizeof *name, L"\\\\.\\pipe\\shmap-bench-%lu-%ld",
      (unsigned long)GetCurrentProcessId(), (long)InterlockedIncrement(&seq));
  name[sizeof name / sizeof *name - 1] = L'\0';
  struct pipe_pair p;
  p.a = CreateNamedPipeW(name, PIPE_ACCESS_DUPLEX,
                         PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE | PIPE_WAIT,
                         1, 65536, 65536, 0, NULL);
  if (p.a == INVALID_HANDLE_VALUE)
    fail("CreateNamedPipe");
  p.b = CreateFileW(name, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING,
                    0, NULL);
  if (p.b == INVALID_HANDLE_VALUE)
    fail("opening the pipe");
  DWORD mode = PIPE_READMODE_MESSAGE;
  if (!SetNamedPipeHandleState(p.b, &mode, NULL, NULL))
    fail("SetNamedPipeHandleState");
  if (!ConnectNamedPipe(p.a, NULL) && GetLastError() != ERROR_PIPE_CONNECTED)
    fail("ConnectNamedPipe");
  return p;
}

static void send_msg(HANDLE h, const void *buf, DWORD len) {
  DWORD n;
  if (!WriteFile(h, buf, len, &n, NULL) || n != len)
    fail("WriteFile");
}

static void recv_msg(HANDLE h, void *buf, DWORD cap, DWORD want) {
  DWORD n;
  if (!ReadFile(h, buf, cap, &n, NULL) || n != want)
    fail("ReadFile");
}

/* The library's pipe messages: an 8-byte envelope (handle count, reserved),
 * one u64 per handle, then the vhost-user header and payload. */
enum {
  ENVELOPE = 8,
  ADD_MSG = ENVELOPE + 8 + 52, /* ADD_MEM_REG with one handle */
  REM_MSG = ENVELOPE + 52,     /* REM_MEM_REG */
  REPLY_MSG = ENVELOPE + 20,   /* a u64 reply */
  EXT_MSG = ENVELOPE + 44      /* EXTERNAL_MAP or SHMEM_UNMAP */
};

/* ADD_MEM_REG + REM_MEM_REG with bare calls: DuplicateHandle into the
 * receiving process (this one, through a real process handle as a channel
 * holds), the request written and read as one pipe message, NtQuerySection
 * (the counterpart of fstat), MapViewOfFile, the reply; then the removal
 * request and its reply, UnmapViewOfFile, CloseHandle.
 *
 * `guest` != NULL: the view goes to the start of that 16 MiB reservation
 * and back, as the back end's window does it: with placeholders, split
 * the range off, MapViewOfFile3, and on removal UnmapViewOfFile2 and
 * coalesce; on the fallback path, release the range's own reservation,
 * MapViewOfFileEx there, and on removal UnmapViewOfFile and reserve again. */
enum { GUEST = 1 << 24 };

static double fd_round_trip(int iters, uint8_t *guest) {
  struct pipe_pair p = pipe_pair();
  HANDLE peer = OpenProcess(PROCESS_DUP_HANDLE, FALSE, GetCurrentProcessId());
  if (peer == NULL)
    fail("OpenProcess");
  HANDLE sec = section(1 << 16, NULL);
  /* The contents do not matter, only the sizes (and the handle value). */
  uint8_t add[ADD_MSG] = {1}, rem[REM_MSG] = {0}, reply[REPLY_MSG] = {0},
          buf[256];
  double t0 = bench_now_ns();
  for (int i = 0; i < iters; i++) {
    HANDLE remote;
    if (!DuplicateHandle(GetCurrentProcess(), sec, peer, &remote, 0, FALSE,
                         DUPLICATE_SAME_ACCESS))
      fail("DuplicateHandle");
    uint64_t v = (uint64_t)(uintptr_t)remote;
    memcpy(add + ENVELOPE, &v, sizeof v);
    send_msg(p.a, add, sizeof add);
    recv_msg(p.b, buf, sizeof buf, sizeof add);
    memcpy(&v, buf + ENVELOPE, sizeof v);
    HANDLE got = (HANDLE)(uintptr_t)v;
    section_info si;
    if (query_section(got, 0, &si, sizeof si, NULL) < 0)
      fail("NtQuerySection");
    uint64_t len = (uint64_t)si.size.QuadPart;
    void *view;
    if (guest == NULL) {
      view = MapViewOfFile(got, FILE_MAP_WRITE, 0, 0, (SIZE_T)len);
      if (view == NULL)
        fail("MapViewOfFile");
    } else {
      if (placeholders && !VirtualFree(guest, (SIZE_T)len,
                                       MEM_RELEASE | MEM_PRESERVE_PLACEHOLDER))
        fail("splitting the placeholder");
      map_at(got, guest, len, -1);
      view = guest;
    }
    send_msg(p.b, reply, sizeof reply);
    recv_msg(p.a, buf, sizeof buf, sizeof reply);
    /* The removal: a second request and its reply, then unmap and close. */
    send_msg(p.a, rem, sizeof rem);
    recv_msg(p.b, buf, sizeof buf, sizeof rem);
    send_msg(p.b, reply, sizeof reply);
    recv_msg(p.a, buf, sizeof buf, sizeof reply);
    if (guest == NULL) {
      UnmapViewOfFile(view);
    } else {
      unmap_at(guest, len);
      if (placeholders &&
          !VirtualFree(guest, GUEST, MEM_RELEASE | MEM_COALESCE_PLACEHOLDERS))
        fail("coalescing the placeholders");
    }
    CloseHandle(got);
  }
  double ns = (bench_now_ns() - t0) / iters;
  CloseHandle(sec);
  CloseHandle(peer);
  CloseHandle(p.a);
  CloseHandle(p.b);
  return ns;
}

double bench_bare_fd_round_trip(int iters) {
  use_placeholders();
  return fd_round_trip(iters, NULL);
}

double bench_bare_fd_round_trip_placed(int iters) {
  use_placeholders();
  uint8_t *guest = reserve(GUEST);
  if (!placeholders) {
    /* Two reservations, as the window's first map leaves them. */
    if (!VirtualFree(guest, 0, MEM_RELEASE) ||
        VirtualAlloc(guest, 1 << 16, MEM_RESERVE, PAGE_NOACCESS) != guest ||
        VirtualAlloc(guest + (1 << 16), GUEST - (1 << 16), MEM_RESERVE,
                     PAGE_NOACCESS) != guest + (1 << 16))
      fail("cutting the reservation");
  }
  double ns = fd_round_trip(iters, guest);
  VirtualFree(guest, 0, MEM_RELEASE);
  if (!placeholders)
    VirtualFree(guest + (1 << 16), 0, MEM_RELEASE);
  return ns;
}

/* A request without handles and its reply as bare pipe messages of the
 * same sizes as the library's (52 bytes out, 28 back). */
double bench_bare_bytes_round_trip(int iters) {
  struct pipe_pair p = pipe_pair();
  uint8_t req[EXT_MSG] = {0}, rep[REPLY_MSG] = {0}, buf[256];
  double t0 = bench_now_ns();
  for (int i = 0; i < iters; i++) {
    send_msg(p.b, req, sizeof req);
    recv_msg(p.a, buf, sizeof buf, sizeof req);
    send_msg(p.a, rep, sizeof rep);
    recv_msg(p.b, buf, sizeof buf, sizeof rep);
  }
  double ns = (bench_now_ns() - t0) / iters;
  CloseHandle(p.a);
  CloseHandle(p.b);
  return ns;
}
