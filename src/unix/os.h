/* shmap — POSIX pieces of the internal interface that common code needs as
 * types (see src/common/internal.h). */
#ifndef SHMAP_UNIX_OS_H
#define SHMAP_UNIX_OS_H

#include <pthread.h>

typedef pthread_rwlock_t shmap__rwlock;

/* mmap(MAP_FIXED) over a mapping replaces it in one step: no reader of the
 * range ever meets a hole (common/window.c shmap__window_replace). */
#define SHMAP__OS_MAP_REPLACES 1

/* A window's platform state: none. mmap keeps the reservation itself
 * (MAP_FIXED over PROT_NONE), so there is nothing to remember; C wants a
 * member all the same. */
typedef struct shmap__window_os {
  char unused;
} shmap__window_os;

/* A connected Unix stream socket. */
typedef struct shmap__chan_os {
  int fd;
} shmap__chan_os;

/* A listening Unix socket and the path it is bound to. */
typedef struct shmap__listener_os {
  int fd;
  char path[108];
} shmap__listener_os;

#endif
