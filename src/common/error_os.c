/* shmap — errors from the OS: the one place that turns an errno or a
 * GetLastError value into a recorded shmap error, with the OS's own text.
 * What the value means (shmap__os_translate) and its text
 * (shmap__os_error_text) are the platform's (unix/oserror.c,
 * win32/oserror.c). Apart from error.c, which test_table links alone. */
#include <stdarg.h>

#include "errors.h"
#include "shmap.h"

static int record(int code, int os_error, const char *fmt, va_list ap) {
  char text[128];
  shmap__os_error_text(os_error, text, sizeof text);
  shmap__err_record(code, os_error, text, fmt, ap);
  return code;
}

int shmap__err_os(int code, int os_error, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  code = record(code, os_error, fmt, ap);
  va_end(ap);
  return code;
}

int shmap__err_sys(int fallback, int os_error, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int code = record(shmap__os_translate(os_error, fallback), os_error, fmt, ap);
  va_end(ap);
  return code;
}
