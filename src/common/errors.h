/* shmap — recording errors: the thread's last error (code, message and,
 * when an OS call failed, the OS's error and text) that shmap_last_error()
 * and shmap_last_message() read. common/error.c records; each platform's
 * oserror.c translates its OS errors and gives their text. */
#ifndef SHMAP_ERRORS_H
#define SHMAP_ERRORS_H

#include <stdarg.h>
#include <stddef.h>

#include "compiler.h"
#include "shmap/error.h"

/* Record `code` with a formatted message and no OS cause; returns `code`. */
SHMAP__COLD int shmap__err(int code, const char *fmt, ...) SHMAP__PRINTF(2, 3);
/* Record `code` with the OS error `os_error` and its text (strerror_r,
 * FormatMessageA) appended to the message. Per platform (oserror.c). */
SHMAP__COLD int shmap__err_os(int code, int os_error, const char *fmt, ...)
    SHMAP__PRINTF(3, 4);
/* The one translation of an OS error (errno on POSIX, GetLastError() on
 * Windows) to a code, per platform (unix/oserror.c, win32/oserror.c): the same
 * condition gives the same code on both (busy address SHMAP_EBUSY, refused
 * SHMAP_ECONNREFUSED, denied SHMAP_EACCES, out of memory SHMAP_ENOMEM, would
 * block SHMAP_EAGAIN, timed out SHMAP_ETIMEDOUT, too many open descriptors or
 * handles SHMAP_ELIMIT, closed peer SHMAP_ECLOSED, bad descriptor
 * SHMAP_EBADF); any other error gives `fallback` (normally SHMAP_EOS). */
SHMAP__COLD int shmap__os_translate(int os_error, int fallback);
/* shmap__err_os() with the code from shmap__os_translate(os_error,
 * fallback); returns that code (oserror.c). */
SHMAP__COLD int shmap__err_sys(int fallback, int os_error, const char *fmt, ...)
    SHMAP__PRINTF(3, 4);
/* The thread's record of a failure: the message from fmt and ap, then the
 * code's name and, when os_error is not 0, "OS error N: text" (common/error.c,
 * needing no platform file). */
void shmap__err_record(int code, int os_error, const char *os_text,
                       const char *fmt, va_list ap);
/* The OS's text for `os_error` into buf (NUL-terminated, no trailing line
 * break); an empty string when the OS has none. Per platform (oserror.c). */
SHMAP__COLD void shmap__os_error_text(int os_error, char *buf, size_t n);

#endif /* SHMAP_ERRORS_H */
