/* shmap — Windows pieces of the internal interface that common code needs
 * as types (see src/common/internal.h). */
#ifndef SHMAP_WIN32_OS_H
#define SHMAP_WIN32_OS_H

#ifndef WIN32_LEAN_AND_MEAN
#  define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

typedef SRWLOCK shmap__rwlock;

#endif
