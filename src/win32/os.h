/* shmap — Windows pieces of the internal interface that common code needs
 * as types (see src/common/internal.h). */
#ifndef SHMAP_WIN32_OS_H
#define SHMAP_WIN32_OS_H

#ifndef WIN32_LEAN_AND_MEAN
#  define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include <stddef.h>
#include <stdint.h>

typedef SRWLOCK shmap__rwlock;

/* A window's platform state. Which path the window was reserved on
 * (win32/window.c): placeholders, where the system has them, keep the
 * whole range as placeholders at every moment and need nothing else; the
 * fallback path's window is a set of plain reservations, and it must know
 * exactly which are its own, because another thread may take a hole it
 * opens for a moment. */
typedef struct shmap__window_os {
  int placeholders; /* 1: placeholder path; 0: fallback path */
  /* Fallback: our reservations [lo[i], hi[i]), unordered. */
  uint8_t **lo, **hi;
  size_t n, cap;
} shmap__window_os;

/* A connected message-mode named pipe. I/O is overlapped (one event per
 * direction) because Windows serialises synchronous I/O on one file object:
 * a blocked read would otherwise stall a send from another thread. */
typedef struct shmap__chan_os {
  HANDLE pipe;
  HANDLE peer;  /* the other end's process: PROCESS_DUP_HANDLE and query */
  HANDLE rd_ev; /* manual-reset events for ReadFile / WriteFile */
  HANDLE wr_ev;
} shmap__chan_os;

/* A pipe name and the instance waiting for the next client, kept ready so
 * that a client never finds the name missing between two accepts. */
typedef struct shmap__listener_os {
  wchar_t name[256];
  HANDLE pending; /* NULL when the next accept must create it */
} shmap__listener_os;

/* 1 when windows use placeholders (VirtualAlloc2 & co.), 0 for the
 * fallback path. Probed once; SHMAP_WIN32_WINDOW=fallback forces 0. */
int shmap__win_placeholders(void);

#endif
