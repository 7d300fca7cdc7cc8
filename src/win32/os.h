/* shmap — Windows pieces of the internal interface that common code needs
 * as types (see src/common/internal.h). */
#ifndef SHMAP_WIN32_OS_H
#define SHMAP_WIN32_OS_H

#ifndef WIN32_LEAN_AND_MEAN
#  define WIN32_LEAN_AND_MEAN
/* 1 when windows use placeholders (VirtualAlloc2 & co.), 0 for the
 * fallback path. Probed once; SHMAP_WIN32_WINDOW=fallback forces 0. */
int shmap__win_placeholders(void);

#endif
#include <windows.h>

typedef SRWLOCK shmap__rwlock;

/* A connected message-mode named pipe and the peer process that handles
 * are duplicated into. */
typedef struct shmap__chan_os {
  HANDLE pipe;
  HANDLE peer; /* PROCESS_DUP_HANDLE access to the other end's process */
} shmap__chan_os;

/* A pipe name that instances are created under. */
typedef struct shmap__listener_os {
  wchar_t name[256];
} shmap__listener_os;

/* 1 when windows use placeholders (VirtualAlloc2 & co.), 0 for the
 * fallback path. Probed once; SHMAP_WIN32_WINDOW=fallback forces 0. */
int shmap__win_placeholders(void);

#endif
