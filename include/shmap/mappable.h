/* shmap — mappable: a reference-counted owner of one OS memory object.
 *
 * On POSIX the object is a file descriptor (memfd, shm object or regular
 * file); on Windows it is a section handle (CreateFileMapping), never a file
 * handle. Sharing a mappable inside a process bumps its count; only handing
 * the object to another process duplicates the descriptor or handle.
 */
#ifndef SHMAP_MAPPABLE_H
#define SHMAP_MAPPABLE_H

#include <stdint.h>

#include "shmap/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The native object: an int fd on POSIX, a HANDLE (void *) on Windows. This
 * is the only platform-dependent type in the public API; <windows.h> is not
 * needed to use it. */
#ifdef _WIN32
typedef void *shmap_native_t;
#define SHMAP_NATIVE_INVALID ((shmap_native_t)0)
#else
typedef int shmap_native_t;
#define SHMAP_NATIVE_INVALID (-1)
#endif

/* Access rights, used both for mappables and for mappings. */
enum shmap_prot {
  SHMAP_PROT_NONE = 0,
  SHMAP_PROT_READ = 1,
  SHMAP_PROT_WRITE = 2,
  SHMAP_PROT_RW = 3
};

/* Flags for shmap_mappable_create(). */
enum shmap_create_flags {
  /* POSIX: also apply F_SEAL_SEAL so no further seal can ever be added or
   * removed. Ignored on Windows (sections cannot be resized anyway). */
  SHMAP_CREATE_SEAL_SEAL = 1u << 0
};

typedef struct shmap_mappable shmap_mappable;

/* Facts about the platform the library runs on (for logs and tools). */
typedef struct shmap_platform_info {
  const char *os;          /* "linux", "windows", ... */
  uint64_t page_size;
  uint64_t granularity;    /* shmap_map_granularity() */
  int memfd;               /* 1: mappables are memfds (else shm objects) */
  int seals;               /* 1: mappables are sealed against resizing */
  const char *window_path; /* how windows map: "mmap", "placeholder",
                              "fallback" */
} shmap_platform_info;

SHMAP_API void shmap_platform(shmap_platform_info *out);

/* A monotonic clock in nanoseconds (clock_gettime(CLOCK_MONOTONIC) /
 * QueryPerformanceCounter), for latency reports. */
SHMAP_API uint64_t shmap_time_ns(void);

/* The page size, and the granularity that offsets into a mappable and into a
 * window must be aligned to (the page size on POSIX, the 64 KiB allocation
 * granularity on Windows). Thread-safe. */
SHMAP_API uint64_t shmap_page_size(void);
SHMAP_API uint64_t shmap_map_granularity(void);

/* Create anonymous shared memory of `size` bytes (> 0), zero-filled, readable
 * and writable. POSIX: a memfd sealed against shrinking and growing (or, when
 * memfd is unavailable, an unlinked shm_open object). Windows: a
 * pagefile-backed SEC_COMMIT section. The size is rounded up to the mapping
 * granularity. On success *out holds one reference owned by the caller.
 * Errors: EINVAL (size 0, NULL out, unknown flags), EOVERFLOW (rounding
 * overflows), ENOMEM, EOS. Thread-safe. */
SHMAP_API int shmap_mappable_create(uint64_t size, unsigned flags,
                                    shmap_mappable **out);

/* Wrap an existing native object. adopt takes ownership of `native` only on
 * success (on failure the caller still owns it); dup duplicates it and the
 * caller keeps `native`. The access rights are read from the object (an fd
 * opened O_RDONLY or write-sealed, or a section handle without
 * SECTION_MAP_WRITE, gives a read-only mappable), and so is the size.
 * Errors: EINVAL, EBADF (closed, or not a mappable kind: pipe, socket,
 * directory...), EOS. Thread-safe. */
SHMAP_API int shmap_mappable_adopt(shmap_native_t native, shmap_mappable **out);
SHMAP_API int shmap_mappable_dup(shmap_native_t native, shmap_mappable **out);

/* Take one more reference; returns `m`. Atomic, thread-safe. */
SHMAP_API shmap_mappable *shmap_mappable_ref(shmap_mappable *m);

/* Drop one reference; the OS object is closed when the last one goes
 * (windows hold references for every mapping they have of it). NULL is
 * ignored. Atomic, thread-safe. */
SHMAP_API void shmap_mappable_unref(shmap_mappable *m);

/* Size in bytes as known when the mappable was made. Thread-safe. */
SHMAP_API uint64_t shmap_mappable_size(const shmap_mappable *m);

/* SHMAP_PROT_RW or SHMAP_PROT_READ: what mappings of it may allow. */
SHMAP_API unsigned shmap_mappable_access(const shmap_mappable *m);

/* The native object, borrowed: it stays owned by the mappable and is valid
 * while the caller holds a reference. Never close it. */
SHMAP_API shmap_native_t shmap_mappable_native(const shmap_mappable *m);

/* A new native object giving read-only access to the same memory, for a peer
 * that must not write. The caller owns it (close it with shmap_native_close
 * or hand it to a channel). POSIX: a reopen O_RDONLY of the memory object;
 * Windows: a duplicate with only SECTION_MAP_READ|SECTION_QUERY.
 * Errors: EINVAL, EOS, ENOTSUP (no /proc). Thread-safe. */
SHMAP_API int shmap_mappable_share_readonly(const shmap_mappable *m,
                                            shmap_native_t *out);

/* Check with the OS, now, that the object really backs [offset, offset+len):
 * its current size (fstat / NtQuerySection) is at least offset+len and, on
 * Windows, the section is SEC_COMMIT. Errors: EINVAL, EEMPTY (len 0),
 * EOVERFLOW, EBACKING, EOS. Thread-safe. */
SHMAP_API int shmap_mappable_check_range(const shmap_mappable *m,
                                         uint64_t offset, uint64_t len);

/* Close a native object the caller owns (close() / CloseHandle()).
 * SHMAP_NATIVE_INVALID is ignored. */
SHMAP_API void shmap_native_close(shmap_native_t native);

#ifdef __cplusplus
}
#endif
#endif /* SHMAP_MAPPABLE_H */
