/**
 * @file shmap/mappable.h
 * Mappable: a reference-counted owner of one OS memory object.
 *
 * On POSIX the object is a file descriptor (memfd, shm object or regular
 * file); on Windows it is a section handle (CreateFileMapping), never a file
 * handle. Sharing a mappable inside a process bumps its count; only handing
 * the object to another process duplicates the descriptor or handle.
 *
 * Thread safety: every function here may be called from any thread; the
 * count is atomic and nothing else in a mappable changes after creation.
 */
#ifndef SHMAP_MAPPABLE_H
#define SHMAP_MAPPABLE_H

#include <stdint.h>

#include "shmap/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @typedef shmap_native_t
 * The native object: an int fd on POSIX, a HANDLE (void *) on Windows. This
 * is the only platform-dependent type in the public API; <windows.h> is not
 * needed to use it.
 *
 * @def SHMAP_NATIVE_INVALID
 * "No object": -1 on POSIX, NULL on Windows (what CreateFileMapping returns
 * on failure, unlike INVALID_HANDLE_VALUE).
 */
#ifdef _WIN32
typedef void *shmap_native_t;
#  define SHMAP_NATIVE_INVALID ((shmap_native_t)0)
#else
typedef int shmap_native_t;
#  define SHMAP_NATIVE_INVALID (-1)
#endif

/** Access rights, used both for mappables and for mappings. */
enum shmap_prot {
  SHMAP_PROT_NONE = 0,  /**< No access: reserved but inaccessible. */
  SHMAP_PROT_READ = 1,  /**< Read only. */
  SHMAP_PROT_WRITE = 2, /**< The write bit; only ever used as part of RW. */
  SHMAP_PROT_RW = 3     /**< Read and write. */
};

/** Flags for shmap_mappable_create(). */
enum shmap_create_flags {
  /** POSIX: also apply F_SEAL_SEAL so no further seal can ever be added or
   * removed. Ignored on Windows (sections cannot be resized anyway). */
  SHMAP_CREATE_SEAL_SEAL = 1u << 0
};

/** Opaque; made by shmap_mappable_create(), _adopt() or _dup(). */
typedef struct shmap_mappable shmap_mappable;

/**
 * Create anonymous shared memory of `size` bytes (> 0), zero-filled, readable
 * and writable. POSIX: a memfd sealed against shrinking and growing, so that
 * no holder can truncate it under a live mapping (or, when memfd is
 * unavailable, an unlinked shm_open object), file mode 0400 so that no
 * holder of a read-only descriptor can reopen it for writing (the
 * descriptor returned stays read-write). Windows: a pagefile-backed
 * SEC_COMMIT section. The size is rounded up to the mapping granularity.
 *
 * Ownership: on success `*out` holds one reference owned by the caller;
 * drop it with shmap_mappable_unref(). Thread-safe.
 *
 * Errors: SHMAP_EEMPTY (size 0, "zero length"), SHMAP_EINVAL (NULL out,
 * unknown flags), SHMAP_EOVERFLOW (rounding overflows), SHMAP_ENOMEM (also
 * the OS out of memory for the object), SHMAP_ELIMIT (the process's
 * descriptors or handles are used up), SHMAP_EOS.
 */
SHMAP_API int shmap_mappable_create(uint64_t size, unsigned flags,
                                    shmap_mappable **out);

/**
 * Wrap an existing native object, taking it over. The access rights are read
 * from the object (an fd opened O_RDONLY or write-sealed, or a section
 * handle without SECTION_MAP_WRITE, gives a read-only mappable), and so is
 * the size.
 *
 * Ownership: on success the mappable owns `native` and closes it with its
 * last reference, and `*out` holds one reference for the caller. On failure
 * the caller still owns `native` (so it can report or close it).
 * Thread-safe.
 *
 * Errors: SHMAP_EINVAL (NULL out), SHMAP_EBADF (closed, or not a mappable
 * kind: pipe, socket, directory...), SHMAP_ENOTSUP (the OS cannot say what
 * the object is), SHMAP_ENOMEM, SHMAP_EOS.
 */
SHMAP_API int shmap_mappable_adopt(shmap_native_t native, shmap_mappable **out);
/**
 * As shmap_mappable_adopt(), but the mappable gets its own duplicate and the
 * caller keeps `native` whatever the outcome (and closes it). Errors: those
 * of shmap_mappable_adopt(), and SHMAP_ELIMIT when the process's descriptors
 * or handles are used up.
 */
SHMAP_API int shmap_mappable_dup(shmap_native_t native, shmap_mappable **out);

/**
 * Take one more reference for a new owner; returns `m` (NULL stays NULL).
 * Each reference is dropped with its own shmap_mappable_unref(). Atomic,
 * thread-safe.
 */
SHMAP_API shmap_mappable *shmap_mappable_ref(shmap_mappable *m);

/**
 * Drop one reference; the OS object is closed and the mappable freed when
 * the last one goes. Windows hold a reference for every mapping they have of
 * it, so dropping the caller's while mapped is safe. NULL is ignored.
 * Atomic, thread-safe; cannot fail.
 */
SHMAP_API void shmap_mappable_unref(shmap_mappable *m);

/**
 * Size in bytes as known when the mappable was made (0 for NULL); not
 * asked of the OS again, see shmap_mappable_check_range(). Thread-safe.
 */
SHMAP_API uint64_t shmap_mappable_size(const shmap_mappable *m);

/**
 * What mappings of it may allow: SHMAP_PROT_RW or SHMAP_PROT_READ
 * (SHMAP_PROT_NONE for NULL). Thread-safe.
 */
SHMAP_API unsigned shmap_mappable_access(const shmap_mappable *m);

/**
 * The native object, borrowed: it stays owned by the mappable and is valid
 * while the caller holds a reference. Never close it; duplicate it (or use
 * shmap_mappable_share_readonly()) to give it away. SHMAP_NATIVE_INVALID for
 * NULL. Thread-safe.
 */
SHMAP_API shmap_native_t shmap_mappable_native(const shmap_mappable *m);

/**
 * A new native object giving read-only access to the same memory, for a peer
 * that must not write. POSIX: a reopen O_RDONLY of the memory object through
 * /proc; if the object's file mode still allows writing (an adopted memfd is
 * born 0777), its write bits are removed, since a receiver could otherwise
 * reopen the grant O_RDWR through its own /proc/self/fd (descriptors already
 * open keep their access). That holds against peers of another, non-root
 * uid. The object's own uid can chmod it back and reopen it for writing
 * unless the memory was sealed first (shmap_mappable_seal_writes()); root
 * is not stopped (docs/guide.md). Windows: a duplicate with only
 * SECTION_MAP_READ|SECTION_QUERY.
 *
 * Ownership: `*out` is the caller's; close it with shmap_native_close() or
 * hand it to shmap_channel_send() (which borrows it) and close it after.
 * Thread-safe.
 *
 * Errors: SHMAP_EINVAL, SHMAP_ENOTSUP (no /proc), SHMAP_EPERM (the mode
 * allows writing and this process cannot change it), SHMAP_EACCES (the OS
 * refused the read-only reopen), SHMAP_ELIMIT (the process's descriptors or
 * handles are used up), SHMAP_EOS.
 */
SHMAP_API int shmap_mappable_share_readonly(const shmap_mappable *m,
                                            shmap_native_t *out);

/**
 * Make the memory read-only for every new mapping and every descriptor,
 * this process's included, while mappings already writable keep working:
 * map what must stay writable first, then seal, then grant. After it a
 * read-only grant (shmap_mappable_share_readonly()) holds against peers of
 * the owner's own uid as well, which could otherwise chmod the object back
 * and reopen it for writing. Not stopped: root, and a same-uid process
 * allowed to ptrace the owner (docs/guide.md). A read-write shmap_window_map()
 * of `m` then fails with SHMAP_EACCES, and shmap_mappable_access() says
 * SHMAP_PROT_READ. Cannot be undone. POSIX: F_SEAL_FUTURE_WRITE (Linux 5.1) on
 * the memfd.
 *
 * Errors: SHMAP_EINVAL (NULL), SHMAP_ENOTSUP (not a memfd that allows more
 * seals: an adopted or shm_open object, one created with
 * SHMAP_CREATE_SEAL_SEAL, an older kernel; Windows, whose read-only grants
 * are handles without SECTION_MAP_WRITE), SHMAP_EOS.
 */
SHMAP_API int shmap_mappable_seal_writes(shmap_mappable *m);

/**
 * Check with the OS, now, that the object really backs [offset, offset+len):
 * its current size (fstat / NtQuerySection) is at least offset+len and, on
 * Windows, the section is SEC_COMMIT. Done before every map, because a peer
 * may have shrunk an unsealed object since it was adopted. Changes nothing.
 * Thread-safe.
 *
 * Errors: SHMAP_EINVAL, SHMAP_EEMPTY (len 0), SHMAP_EOVERFLOW,
 * SHMAP_EBACKING, SHMAP_EOS.
 */
SHMAP_API int shmap_mappable_check_range(const shmap_mappable *m,
                                         uint64_t offset, uint64_t len);

/**
 * Close a native object the caller owns (close() / CloseHandle()); for
 * objects from shmap_mappable_share_readonly() and shmap_channel_recv().
 * SHMAP_NATIVE_INVALID is ignored. Thread-safe; cannot fail.
 */
SHMAP_API void shmap_native_close(shmap_native_t native);

#ifdef __cplusplus
}
#endif
#endif /* SHMAP_MAPPABLE_H */
