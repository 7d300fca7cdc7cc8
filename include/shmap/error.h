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
 * The error table: XX(name, value, description) per code, the same codes
 * with the same values as #shmap_errno, which documents each. shmap_strerror()
 * and shmap_err_name() are expanded from it; callers can expand it too, e.g.
 * to map the codes to their own. tests/test_error.c checks at compile time
 * that the table and the enum list the same codes with the same values.
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
  XX(ETIMEDOUT, -35, "operation timed out")                                    \
  XX(ECONNREFUSED, -36, "nobody listens at the address")

/**
 * What a fallible call returns: #SHMAP_OK or one of the negative codes
 * below. The codes from -1 to -15 concern memory, descriptors and the OS;
 * those from -20 on, the protocol and the peer. Each function's comment
 * lists the codes it returns and when. shmap_strerror() gives a code's
 * one-line description and shmap_err_name() its name.
 */
typedef enum shmap_errno {
  /** Success. */
  SHMAP_OK = 0,
  /** Invalid argument: a NULL handle or out pointer, an unknown flag or
   * role, a value outside what the call accepts. */
  SHMAP_EINVAL = -1,
  /** Out of memory: the library could not allocate its own bookkeeping, or
   * the OS could not commit the memory asked for. */
  SHMAP_ENOMEM = -2,
  /** An OS call failed for a reason no other code names;
   * shmap_last_os_error() keeps its errno or GetLastError(), and
   * shmap_last_message() gives the OS's text for it. */
  SHMAP_EOS = -3,
  /** An offset or a length is not a multiple of the mapping granularity
   * (shmap_map_granularity(): the page size on POSIX, 64 KiB on Windows). */
  SHMAP_EALIGN = -4,
  /** A length is zero where a range must hold at least one byte. */
  SHMAP_EEMPTY = -5,
  /** An offset plus a length does not fit in 64 bits. */
  SHMAP_EOVERFLOW = -6,
  /** A range lies, at least in part, outside the window or the memory
   * object it refers to. */
  SHMAP_ERANGE = -7,
  /** A range overlaps a mapping already in the window, or a region already
   * on the endpoint. */
  SHMAP_EOVERLAP = -8,
  /** Nothing is mapped, or no region is registered, at that place. */
  SHMAP_ENOENT = -9,
  /** A range covers only part of a mapping or region: unmapping and
   * removal take whole ones. */
  SHMAP_EPARTIAL = -10,
  /** The memory object behind a mapping is smaller than the range asked
   * for, or could shrink under it (a memfd without F_SEAL_SHRINK where a
   * seal is required). */
  SHMAP_EBACKING = -11,
  /** Access denied: a read-write mapping or grant of memory that is only
   * readable, or the OS refused access to an object. */
  SHMAP_EACCES = -12,
  /** A descriptor or handle is not open, or is of the wrong kind (not a
   * memory object, not a connected socket or pipe). */
  SHMAP_EBADF = -13,
  /** This platform, or this build of the OS, cannot do what was asked. */
  SHMAP_ENOTSUP = -14,
  /** The resource is in use: a channel address another listener holds, a
   * compare-and-swap that found another value, or the program's own signal
   * handler where the fault guard needs its own. */
  SHMAP_EBUSY = -15,
  /** The peer broke the protocol: a message that is not the expected one,
   * or one that makes no sense in this state. */
  SHMAP_EPROTO = -20,
  /** A message header carries a protocol version other than 1. */
  SHMAP_EVERSION = -21,
  /** A message header or payload sets reserved or unknown flag bits. */
  SHMAP_EFLAGS = -22,
  /** A message's payload size is wrong for its request. */
  SHMAP_ESIZE = -23,
  /** A message's padding or reserved field is not zero. */
  SHMAP_EPADDING = -24,
  /** A message came with more or fewer descriptors (handles) than its
   * request carries. */
  SHMAP_EFDCOUNT = -25,
  /** A request code that is unknown, of the other direction, or not one
   * this end sent (for a reply). */
  SHMAP_EREQUEST = -26,
  /** A shared-memory request names a shmid for which no window was
   * registered. */
  SHMAP_ENOWINDOW = -27,
  /** Not permitted: a call or request that this end of the channel, by its
   * role or kind, does not make; a peer of another user where
   * SHMAP_CHANNEL_SAME_USER is required; EXTERNAL_MAP across processes; a
   * change the OS refuses on the object (a mode, a seal). */
  SHMAP_EPERM = -28,
  /** The peer closed the connection. */
  SHMAP_ECLOSED = -29,
  /** A message came with more descriptors than fit in the control buffer;
   * the OS dropped the rest (MSG_CTRUNC). */
  SHMAP_ETRUNC = -30,
  /** A fault-safe access (shmap_window_read() and the like) faulted: the
   * memory behind the mapping is gone, e.g. its object was truncated. */
  SHMAP_EFAULT = -31,
  /** A limit would be exceeded: the endpoint's memory slots, the regions a
   * request may carry, the OS's count of mappings per process, or the
   * process's (or system's) open descriptors or handles (EMFILE, ENFILE,
   * ERROR_TOO_MANY_OPEN_FILES). */
  SHMAP_ELIMIT = -32,
  /** The peer answered with a failure, or with a reply shmap cannot read
   * (a non-shmap peer's non-zero value). */
  SHMAP_EREPLY = -33,
  /** A non-blocking call has nothing to do yet: call it again when the
   * channel is readable or writable. */
  SHMAP_EAGAIN = -34,
  /** The channel's timeout (shmap_channel_set_timeout()) passed before the
   * peer answered or the message was complete; also a connect on Windows
   * that found every instance of the pipe busy for 10 s, and an OS call
   * that timed out (ETIMEDOUT, ERROR_TIMEOUT). */
  SHMAP_ETIMEDOUT = -35,
  /** Nobody listens at a channel address: no socket or pipe of that name,
   * or a socket file no server is bound to (connection refused). */
  SHMAP_ECONNREFUSED = -36
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
 * 0x1000 (SHMAP_EALIGN)"), and for an OS cause its number and the OS's text
 * ("connect to /run/x.sock (SHMAP_ECONNREFUSED, OS error 2: No such file or
 * directory)"). Empty when no call has failed in this thread.
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
