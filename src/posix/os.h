/* shmap — POSIX pieces of the internal interface that common code needs as
 * types (see src/common/internal.h). */
#ifndef SHMAP_POSIX_OS_H
#define SHMAP_POSIX_OS_H

#include <pthread.h>

typedef pthread_rwlock_t shmap__rwlock;

#endif
