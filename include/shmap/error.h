/**
 * @file shmap/error.h
 * Error codes and the per-thread report of the last failure.
 *
 * Every fallible shmap call returns 0 on success or one of the negative
 * SHMAP_E* codes of #SHMAP_ERRNO_MAP. The numbers are part of the ABI and
 * never change, so they may cross process boundaries (replies carry them).
 * A code says what kind of thing went wrong; shmap_last_message() says which
 * value was wrong, and shmap_last_os_error() keeps the errno (POSIX) or
 * GetLastError() (Windows) of an OS call that failed. Both are per thread:
 * read them in the thread that saw the failure, before its next failure.
 */
#ifndef SHMAP_ERROR_H
#define SHMAP_ERROR_H

#include "shmap/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * The error table: XX(name, value, description) per code, expanded into
 * #shmap_errno, shmap_strerror() and shmap_err_name(). Protocol-layer codes
 * start at -20. Callers can expand it too, e.g. to map codes to their own.
 */
#define SHMAP_ERRNO_MAP(XX)                                                    \
  XX(EINVAL, -1, "invalid argument")                                           \
  XX(ENOMEM, -2, "out of memory")                                              \
  XX(EOS, -3, "operating system call failed")                                  \
  XX(EALIGN, -4, "offset or length not aligned to the mapping granularity")    \
  XX(EEMPTY, -5, "zero length")                                                \
  XX(EOVERFLOW, -6, "offset plus length overflows 64 bits")                    \
  XX(ERANGE, -7, "range lies outside the window or object")                    \
  XX(EOVERLAP, -8, "range overlaps an existing mapping or region")             \
  XX(ENOENT, -9, "no mapping or region at that place")                         \
  XX(EPARTIAL, -10, "range covers only part of a mapping")                     \
  XX(EBACKING, -11, "backing object does not cover the range")                 \
  XX(EACCES, -12, "access denied: write through a read-only grant")            \
  XX(EBADF, -13, "invalid descriptor or handle, or one of the wrong kind")     \
  XX(ENOTSUP, -14, "not supported on this platform")                           \
  XX(EBUSY, -15, "resource busy")                                              \
  XX(EPROTO, -20, "protocol error")                                            \
  XX(EVERSION, -21, "wrong protocol version in header")                        \
  XX(EFLAGS, -22, "reserved or unknown flag bits set")                         \
  XX(ESIZE, -23, "payload size wrong for this request")                        \
  XX(EPADDING, -24, "non-zero padding")                                        \
  XX(EFDCOUNT, -25, "wrong number of descriptors or handles")                  \
  XX(EREQUEST, -26, "unknown request code")                                    \
  XX(ENOWINDOW, -27, "shmid names no shared-memory window")                    \
  XX(EPERM, -28, "not permitted on this channel")                              \
  XX(ECLOSED, -29, "peer closed the connection")                               \
  XX(ETRUNC, -30, "control data truncated: too many descriptors")              \
  XX(EFAULT, -31, "memory behind the mapping is gone")                         \
  XX(ELIMIT, -32, "configured limit exceeded")                                 \
  XX(EREPLY, -33, "peer answered with a failure or a malformed reply")         \
  XX(EAGAIN, -34, "operation would block")                                     \
  XX(ETIMEDOUT, -35, "operation timed out")

/**
 * Return values: SHMAP_OK, or SHMAP_ followed by a name of #SHMAP_ERRNO_MAP
 * with its value there (SHMAP_EINVAL is -1, ...).
 */
typedef enum shmap_errno {
  /** Success. */
  SHMAP_OK = 0,
/// @cond SHMAP_INTERNAL
#define SHMAP__ERR_ENUM(name, value, desc) SHMAP_##name = (value),
  SHMAP_ERRNO_MAP(SHMAP__ERR_ENUM)
#undef SHMAP__ERR_ENUM
  /// @endcond
} shmap_errno;

/**
 * The description of an error code ("invalid argument"); "success" for 0 and
 * "unknown error" for a code not in the table.
 *
 * Returns a static string: never NULL, never freed. Thread-safe; sets no
 * error state.
 */
SHMAP_API const char *shmap_strerror(int err);

/**
 * The symbolic name of an error code ("SHMAP_EINVAL"); "SHMAP_OK" for 0 and
 * "SHMAP_E?" for a code not in the table.
 *
 * Returns a static string: never NULL, never freed. Thread-safe; sets no
 * error state.
 */
SHMAP_API const char *shmap_err_name(int err);

/**
 * The OS error (errno / GetLastError()) behind the calling thread's most
 * recent failure, or 0 when that failure had no OS cause.
 *
 * Per thread, so safe from any thread. A successful call does not reset it:
 * read it only right after a call returned an error.
 */
SHMAP_API int shmap_last_os_error(void);

/**
 * A sentence describing the calling thread's most recent failure: what was
 * wrong and with which values ("window map: offset 0x1234 not aligned to
 * 0x1000 (SHMAP_EALIGN)"). Empty when no call has failed in this thread.
 *
 * The buffer belongs to the library and to the calling thread: never free
 * it; it is overwritten by the thread's next failing call (copy it to keep
 * it). Thread-safe: each thread has its own.
 */
SHMAP_API const char *shmap_last_message(void);

#ifdef __cplusplus
}
#endif
#endif /* SHMAP_ERROR_H */
