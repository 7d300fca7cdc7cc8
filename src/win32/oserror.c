/* shmap — Windows errors: the one translation of GetLastError() values to
 * a code, and their text (FormatMessageA) in the thread's message. */
#include <stdarg.h>

#include "internal.h"

int shmap__os_translate(int os_error, int fallback) {
  switch ((DWORD)os_error) {
  case ERROR_PIPE_BUSY:
  case ERROR_BUSY: return SHMAP_EBUSY;
  case ERROR_ACCESS_DENIED:
  case ERROR_PRIVILEGE_NOT_HELD: return SHMAP_EACCES;
  case ERROR_NOT_ENOUGH_MEMORY:
  case ERROR_OUTOFMEMORY:
  case ERROR_COMMITMENT_LIMIT:
  case ERROR_NO_SYSTEM_RESOURCES: return SHMAP_ENOMEM;
  case ERROR_TIMEOUT:
  case ERROR_SEM_TIMEOUT:
  case WAIT_TIMEOUT: return SHMAP_ETIMEDOUT;
  case ERROR_TOO_MANY_OPEN_FILES: return SHMAP_ELIMIT;
  case ERROR_BROKEN_PIPE:
  case ERROR_NO_DATA:
  case ERROR_PIPE_NOT_CONNECTED: return SHMAP_ECLOSED;
  case ERROR_INVALID_HANDLE: return SHMAP_EBADF;
  default: return fallback;
  }
}

void shmap__os_error_text(int os_error, char *buf, size_t n) {
  if (n == 0)
    return;
  buf[0] = 0;
  DWORD len = FormatMessageA(
      FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS |
          FORMAT_MESSAGE_MAX_WIDTH_MASK,
      NULL, (DWORD)os_error, MAKELANGID(LANG_NEUTRAL, SUBLANG_DEFAULT), buf,
      n > 0xffff ? 0xffff : (DWORD)n, NULL);
  if (len == 0 || len >= n) {
    buf[0] = 0;
    return;
  }
  /* Trim the line break (and the blank MAX_WIDTH leaves) and a final dot. */
  while (len > 0 && (buf[len - 1] == '\r' || buf[len - 1] == '\n' ||
                     buf[len - 1] == ' ' || buf[len - 1] == '.'))
    buf[--len] = 0;
}
