/* shmap — error codes.
 *
 * Every fallible shmap call returns 0 on success or one of the negative
 * SHMAP_E* codes below. The numbers are part of the ABI and never change.
 * When an error was caused by an operating-system call, the OS error (errno on
 * POSIX, GetLastError() on Windows) is kept per thread and can be read with
 * shmap_last_os_error(); a human-readable sentence describing the last failure
 * of the calling thread is returned by shmap_last_message().
 */
#ifndef SHMAP_ERROR_H
#define SHMAP_ERROR_H

#include "shmap/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* XX(name, value, description). Protocol-layer codes start at -20. */
#define SHMAP_ERRNO_MAP(XX)                                                    \
  XX(EINVAL, -1, "invalid argument")                                          \
  XX(ENOMEM, -2, "out of memory")                                             \
  XX(EOS, -3, "operating system call failed")                                 \
  XX(EALIGN, -4, "offset or length not aligned to the mapping granularity")   \
  XX(EEMPTY, -5, "zero length")                                               \
  XX(EOVERFLOW, -6, "offset plus length overflows 64 bits")                   \
  XX(ERANGE, -7, "range lies outside the window or object")                   \
  XX(EOVERLAP, -8, "range overlaps an existing mapping or region")            \
  XX(ENOENT, -9, "no mapping or region at that place")                        \
  XX(EPARTIAL, -10, "range covers only part of a mapping")                    \
  XX(EBACKING, -11, "backing object does not cover the range")                \
  XX(EACCES, -12, "access denied: write through a read-only grant")           \
  XX(EBADF, -13, "invalid descriptor or handle, or one of the wrong kind")    \
  XX(ENOTSUP, -14, "not supported on this platform")                          \
  XX(EBUSY, -15, "resource busy")                                             \
  XX(EPROTO, -20, "protocol error")                                           \
  XX(EVERSION, -21, "wrong protocol version in header")                       \
  XX(EFLAGS, -22, "reserved or unknown flag bits set")                        \
  XX(ESIZE, -23, "payload size wrong for this request")                       \
  XX(EPADDING, -24, "non-zero padding")                                       \
  XX(EFDCOUNT, -25, "wrong number of descriptors or handles")                 \
  XX(EREQUEST, -26, "unknown request code")                                   \
  XX(ENOWINDOW, -27, "shmid names no shared-memory window")                   \
  XX(EPERM, -28, "not permitted on this channel")                             \
  XX(ECLOSED, -29, "peer closed the connection")                              \
  XX(ETRUNC, -30, "control data truncated: too many descriptors")             \
  XX(EFAULT, -31, "memory behind the mapping is gone")                        \
  XX(ELIMIT, -32, "configured limit exceeded")                                \
  XX(EREPLY, -33, "peer answered with a failure or a malformed reply")        \
  XX(EAGAIN, -34, "operation would block")                                    \
  XX(ETIMEDOUT, -35, "operation timed out")

typedef enum shmap_errno {
  SHMAP_OK = 0,
#define SHMAP__ERR_ENUM(name, value, desc) SHMAP_##name = (value),
  SHMAP_ERRNO_MAP(SHMAP__ERR_ENUM)
#undef SHMAP__ERR_ENUM
} shmap_errno;

/* Description of an error code ("invalid argument"). Never NULL; unknown codes
 * give "unknown error". The string is static. Thread-safe. */
SHMAP_API const char *shmap_strerror(int err);

/* Symbolic name of an error code ("SHMAP_EINVAL"). Never NULL; unknown codes
 * give "SHMAP_E?". The string is static. Thread-safe. */
SHMAP_API const char *shmap_err_name(int err);

/* The OS error (errno / GetLastError()) behind the calling thread's most
 * recent failure, or 0 when that failure had no OS cause. Per thread; a
 * successful call does not reset it. */
SHMAP_API int shmap_last_os_error(void);

/* A sentence describing the calling thread's most recent failure: what was
 * wrong and with which values ("window map: offset 0x1234 not aligned to
 * 0x1000"). Empty string when no call failed yet in this thread. The buffer
 * is thread-local and valid until the next failing shmap call in the thread. */
SHMAP_API const char *shmap_last_message(void);

#ifdef __cplusplus
}
#endif
#endif /* SHMAP_ERROR_H */
