/* shmap — POSIX errors: the one translation of errno to a code, and its
 * text (strerror_r) in the thread's message. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

int shmap__os_translate(int err, int fallback) {
  switch (err) {
  case EADDRINUSE:
  case EBUSY: return SHMAP_EBUSY;
  case ECONNREFUSED: return SHMAP_ECONNREFUSED;
  case EACCES:
  case EPERM: return SHMAP_EACCES;
  case ENOMEM: return SHMAP_ENOMEM;
#if EWOULDBLOCK != EAGAIN
  case EWOULDBLOCK:
#endif
  case EAGAIN: return SHMAP_EAGAIN;
  case ETIMEDOUT: return SHMAP_ETIMEDOUT;
  case EMFILE:
  case ENFILE: return SHMAP_ELIMIT;
  case EPIPE:
  case ECONNRESET: return SHMAP_ECLOSED;
  case EBADF: return SHMAP_EBADF;
  default: return fallback;
  }
}

/* strerror_r is the XSI one (int) or the GNU one (char *) depending on the
 * feature macros; these two overloads by type take either result. */
static inline const char *xsi_or_gnu(int rc, const char *buf) {
  return rc == 0 ? buf : "";
}
static inline const char *gnu_or_xsi(const char *rc, const char *buf) {
  (void)buf;
  return rc != NULL ? rc : "";
}

void shmap__os_error_text(int err, char *buf, size_t n) {
  if (n == 0)
    return;
  buf[0] = 0;
  char tmp[128] = "";
  const char *text =
      _Generic(strerror_r(err, tmp, sizeof tmp), int
               : xsi_or_gnu, default
               : gnu_or_xsi)(strerror_r(err, tmp, sizeof tmp), tmp);
  snprintf(buf, n, "%s", text);
}
