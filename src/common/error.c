/* shmap — error codes, names and the per-thread record of the last failure. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "shmap.h"

/* The message buffer is thread-local so concurrent failures in different
 * threads never garble each other's text. */
static _Thread_local char last_message[384];
static _Thread_local int last_os_error;

const char *shmap_strerror(int err) {
  switch (err) {
  case SHMAP_OK: return "success";
#define XX(name, value, desc)                                                  \
  case SHMAP_##name: return desc;
    SHMAP_ERRNO_MAP(XX)
#undef XX
  default: return "unknown error";
  }
}

const char *shmap_err_name(int err) {
  switch (err) {
  case SHMAP_OK: return "SHMAP_OK";
#define XX(name, value, desc)                                                  \
  case SHMAP_##name: return "SHMAP_" #name;
    SHMAP_ERRNO_MAP(XX)
#undef XX
  default: return "SHMAP_E?";
  }
}

int shmap_last_os_error(void) { return last_os_error; }

const char *shmap_last_message(void) { return last_message; }

void shmap__err_record(int code, int os_error, const char *os_text,
                       const char *fmt, va_list ap) {
  /* The analyzer cannot follow a va_list begun by our callers. */
  int n = vsnprintf(last_message, sizeof last_message, fmt, // NOLINT
                    ap);
  size_t used = n < 0 ? 0 : (size_t)n;
  if (used >= sizeof last_message)
    used = sizeof last_message - 1;
  if (os_error != 0)
    snprintf(last_message + used, sizeof last_message - used,
             " (%s, OS error %d%s%s)", shmap_err_name(code), os_error,
             os_text != NULL && os_text[0] != 0 ? ": " : "",
             os_text != NULL ? os_text : "");
  else
    snprintf(last_message + used, sizeof last_message - used, " (%s)",
             shmap_err_name(code));
  last_os_error = os_error;
}

int shmap__err(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  shmap__err_record(code, 0, NULL, fmt, ap);
  va_end(ap);
  return code;
}
