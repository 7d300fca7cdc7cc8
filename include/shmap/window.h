/**
 * @file shmap/window.h
 * Window: a reserved range of address space that mappings go into.
 *
 * A window reserves `size` bytes of virtual address space once. Mappables,
 * anonymous memory and external pointer ranges are then placed at offsets
 * inside it and removed again; the reservation is never given back in
 * between, so no other thread or library can be handed those addresses.
 * The window keeps an ordered table of its mappings: overlaps are rejected,
 * offsets translate to host pointers through a page-indexed radix table
 * (a few loads whatever the number of mappings; docs/guide.md).
 *
 * Thread safety: every function but shmap_window_release() may be called
 * from any thread at any time; changes are serialised and lookups run in
 * parallel. A pointer returned by
 * shmap_window_translate() stays valid only until that mapping is unmapped:
 * callers that unmap concurrently with access must order the two themselves.
 */
#ifndef SHMAP_WINDOW_H
#define SHMAP_WINDOW_H

#include <stddef.h>
#include <stdint.h>

#include "shmap/mappable.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque; made by shmap_window_reserve(). */
typedef struct shmap_window shmap_window;

/** What a mapping of the window is backed by. */
enum shmap_mapping_kind {
  SHMAP_MAPPING_MAPPABLE = 1, /**< a range of a mappable, shared */
  SHMAP_MAPPING_ANON = 2,     /**< private zero-filled memory */
  SHMAP_MAPPING_EXTERNAL = 3  /**< a pointer range owned by someone else */
};

/**
 * A description of one mapping, from shmap_window_lookup() and
 * shmap_window_foreach(). A snapshot: its pointers are valid only while the
 * mapping stays mapped.
 */
typedef struct shmap_mapping_info {
  uint64_t offset;          /**< start, relative to the window base */
  uint64_t len;             /**< length in bytes */
  void *host;               /**< host address of the first byte */
  unsigned kind;            /**< enum shmap_mapping_kind */
  unsigned prot;            /**< enum shmap_prot currently applied */
  shmap_mappable *mappable; /**< borrowed (take a reference to keep it);
                                 NULL unless kind is MAPPABLE */
  uint64_t file_offset;     /**< offset into the mappable; 0 otherwise */
  uint64_t reserved[4];     /**< zeroed by the library: room to grow */
} shmap_mapping_info;

/**
 * Reserve `size` bytes of address space (> 0, a multiple of the mapping
 * granularity) whose base is a multiple of `align` (0 means the granularity;
 * otherwise a power of two >= the granularity). Nothing is committed: a
 * 1 TiB window costs only address space.
 *
 * Ownership: on success `*out` is the caller's; end it with
 * shmap_window_release(). Thread-safe.
 *
 * Errors: SHMAP_EINVAL (NULL out), SHMAP_EEMPTY (size 0), SHMAP_EALIGN,
 * SHMAP_EOVERFLOW, SHMAP_ENOMEM, SHMAP_EOS.
 */
SHMAP_API int shmap_window_reserve(uint64_t size, uint64_t align,
                                   shmap_window **out);

/**
 * Unmap everything (dropping the window's references on mappables, which
 * closes those nobody else holds) and give the address space back. External
 * ranges are forgotten, not touched. NULL is ignored; cannot fail.
 *
 * Not thread-safe: no other thread may use the window during or after this
 * call, and every pointer it gave out dies here.
 */
SHMAP_API void shmap_window_release(shmap_window *w);

/**
 * The address of offset 0 (NULL for NULL). Fixed for the window's life;
 * only mapped ranges of it may be touched. Thread-safe.
 */
SHMAP_API void *shmap_window_base(const shmap_window *w);
/** The size reserved (0 for NULL). Thread-safe. */
SHMAP_API uint64_t shmap_window_size(const shmap_window *w);

/**
 * Number of live mappings (0 for NULL); stale as soon as another thread
 * maps or unmaps. Thread-safe.
 */
SHMAP_API size_t shmap_window_count(const shmap_window *w);

/**
 * Map [file_offset, file_offset+len) of `m` at window offset `offset` with
 * `prot` (READ or RW; RW needs a writable mappable). The backing is checked
 * with the OS first (shmap_mappable_check_range()), so a short object fails
 * here rather than with SIGBUS later.
 *
 * Ownership: the window takes its own reference on `m` and drops it at
 * unmap; the caller keeps (and eventually drops) its own. Thread-safe.
 *
 * Errors: SHMAP_EINVAL (NULL, bad prot), SHMAP_EEMPTY, SHMAP_EALIGN (offset,
 * file_offset or len not granularity-aligned), SHMAP_EOVERFLOW,
 * SHMAP_ERANGE (past the window end), SHMAP_EOVERLAP, SHMAP_EBACKING,
 * SHMAP_EACCES (RW on a read-only mappable, adopted or created, whether or
 * not shmap_mappable_access() was asked first: the same code and message),
 * SHMAP_ELIMIT (Linux: near the vm.max_map_count limit), SHMAP_ENOMEM,
 * SHMAP_EOS. The message names the call ("window map: ...") and, for an
 * overlap, the existing mapping's offset and length. On error the window is
 * unchanged.
 */
SHMAP_API int shmap_window_map(shmap_window *w, uint64_t offset,
                               shmap_mappable *m, uint64_t file_offset,
                               uint64_t len, unsigned prot);

/**
 * Map private zero-filled memory at `offset`, for guest RAM nobody else
 * needs to see. The window owns it; unmap frees it. Thread-safe.
 *
 * Errors: as shmap_window_map(), less those about a mappable.
 */
SHMAP_API int shmap_window_map_anon(shmap_window *w, uint64_t offset,
                                    uint64_t len, unsigned prot);

/**
 * Record that [offset, offset+len) of the window stands for the host range
 * [ptr, ptr+len) owned by someone else (EXTERNAL_MAP). Nothing is mapped:
 * the window range stays reserved and inaccessible, and
 * shmap_window_translate() returns pointers into `ptr`'s range.
 *
 * Ownership: `ptr` stays the producer's, who must keep it valid until the
 * record is unmapped. Thread-safe.
 *
 * Errors: SHMAP_EINVAL (NULL ptr), SHMAP_EEMPTY, SHMAP_EALIGN,
 * SHMAP_EOVERFLOW (also ptr+len), SHMAP_ERANGE, SHMAP_EOVERLAP,
 * SHMAP_ENOMEM.
 */
SHMAP_API int shmap_window_map_external(shmap_window *w, uint64_t offset,
                                        uint64_t len, void *ptr);

/**
 * Remove the mapping that is exactly [offset, offset+len). The range becomes
 * inaccessible reserved address space again, never returned to the OS, so
 * no other allocation can land in it.
 *
 * Ownership: the window's reference on a mappable is dropped (closing it if
 * that was the last). Pointers into the range die now: callers that access
 * it from other threads must stop them first. Thread-safe.
 *
 * Errors: SHMAP_EINVAL, SHMAP_EEMPTY, SHMAP_EOVERFLOW, SHMAP_ERANGE,
 * SHMAP_ENOENT (nothing mapped there), SHMAP_EPARTIAL (the range is not
 * exactly one whole mapping), SHMAP_EOS.
 */
SHMAP_API int shmap_window_unmap(shmap_window *w, uint64_t offset,
                                 uint64_t len);

/**
 * Change the protection of the whole mapping that is exactly
 * [offset, offset+len) to `prot` (NONE, READ or RW). Thread-safe.
 *
 * Errors: as shmap_window_unmap(), plus SHMAP_EACCES (RW on a read-only
 * mappable) and SHMAP_ENOTSUP (external records belong to their producer).
 */
SHMAP_API int shmap_window_protect(shmap_window *w, uint64_t offset,
                                   uint64_t len, unsigned prot);

/**
 * Host pointer for window range [offset, offset+len), or NULL when that
 * range is not entirely inside one mapping (or len is 0, or it overflows,
 * or `w` is NULL). A few loads and no lock, whatever the number of
 * mappings: a translate only reads, so any number run at once without
 * slowing each other; it waits only while a map or unmap of the same window
 * is changing the index (then it takes the window's read lock). In windows
 * whose small mappings are very sparse it searches the ordered table under
 * the read lock instead (O(log n)).
 *
 * The pointer is borrowed and valid until that mapping is unmapped; it does
 * not check the mapping's protection (writing through a READ mapping
 * faults). Thread-safe; sets no error state: NULL is the answer, not a
 * failure.
 */
SHMAP_API void *shmap_window_translate(const shmap_window *w, uint64_t offset,
                                       uint64_t len);

/**
 * Describe the mapping that contains `offset` in `*info` (see
 * #shmap_mapping_info for how long it holds). Thread-safe.
 *
 * Errors: SHMAP_EINVAL, SHMAP_ENOENT.
 */
SHMAP_API int shmap_window_lookup(const shmap_window *w, uint64_t offset,
                                  shmap_mapping_info *info);

/**
 * Callback of shmap_window_foreach(): return 0 to go on, anything else to
 * stop the walk with that value.
 */
typedef int (*shmap_mapping_cb)(const shmap_mapping_info *info, void *arg);
/**
 * Call `cb` with `arg` for every mapping in offset order while holding the
 * window's read lock: `cb` must not change the window (that deadlocks) and
 * should be quick, as changes from other threads wait for it.
 *
 * Returns 0 after the last mapping, the first non-zero value `cb` returned,
 * or SHMAP_EINVAL (NULL window or callback).
 */
SHMAP_API int shmap_window_foreach(const shmap_window *w, shmap_mapping_cb cb,
                                   void *arg);

/** One host-contiguous piece of a window range (shmap_window_segments()). */
typedef struct shmap_segment {
  uint64_t offset; /**< window offset of the piece's first byte */
  void *host;      /**< host address of that byte */
  uint64_t len;    /**< bytes in the piece */
} shmap_segment;

/**
 * The host memory behind window range [offset, offset+len): what a device
 * needs for each descriptor buffer. The range may cross any number of
 * adjacent mappings; since a window is one reservation, mappings of
 * mappables and anonymous memory that touch are one host-contiguous piece,
 * and only external ranges (shmap_window_map_external()) start a new one. So
 * `max` 1 is usually enough.
 *
 * All or nothing: on success `*n` pieces are in `segs` and cover the range
 * exactly; on failure `*n` is 0, `segs` may have been written, and nothing
 * else changed. Every mapping crossed must allow `prot` (SHMAP_PROT_READ
 * for a buffer the device reads, SHMAP_PROT_RW for one it writes).
 *
 * The pointers are borrowed as those of shmap_window_translate(): valid
 * until a mapping they point into is unmapped. Thread-safe.
 *
 * Errors: SHMAP_EINVAL (NULL argument, or `prot` not READ or RW),
 * SHMAP_EEMPTY (`len` 0), SHMAP_EOVERFLOW (`offset + len` wraps),
 * SHMAP_ERANGE (the range runs past the window), SHMAP_ENOENT (a hole: some
 * byte is not mapped), SHMAP_EACCES (a mapping lacks `prot`), SHMAP_ELIMIT
 * (more than `max` pieces).
 */
SHMAP_API int shmap_window_segments(const shmap_window *w, uint64_t offset,
                                    uint64_t len, unsigned prot,
                                    shmap_segment *segs, size_t max, size_t *n);

/**
 * Fault-safe read: copy window range [offset, offset+len) to `dst`. The range
 * must lie inside one mapping whose protection allows reading.
 *
 * If the memory behind the mapping is gone (a peer truncated an unsealed
 * file, SIGBUS; or an access violation on Windows) the call returns
 * SHMAP_EFAULT and, when `fault_offset` is not NULL, the window offset of
 * the first byte that faulted, instead of killing the process. Bytes before
 * that offset may have been copied. Faults anywhere else still reach the
 * handler the program had installed before.
 *
 * Thread-safe: the mapping cannot be unmapped during the copy (unmaps wait).
 *
 * Errors: SHMAP_EINVAL, SHMAP_EEMPTY, SHMAP_EOVERFLOW, SHMAP_ENOENT,
 * SHMAP_EPARTIAL (runs past its mapping), SHMAP_EACCES, SHMAP_EFAULT;
 * POSIX: SHMAP_EBUSY when the program installed its own SIGBUS handler
 * after the library's (which the first fault-safe call installs): nothing
 * is copied rather than a fault reaching a handler that does not expect it.
 * Install the program's handlers first; the library chains to them for
 * faults that are not its own. (A SIGSEGV handler installed later is not
 * detected: inside a copy only an external range unmapped by its producer
 * can raise SIGSEGV.)
 */
SHMAP_API int shmap_window_read(const shmap_window *w, uint64_t offset,
                                void *dst, size_t len, uint64_t *fault_offset);
/**
 * Fault-safe write: copy `src` to window range [offset, offset+len), which
 * must lie inside one mapping that allows writing. Faults, thread safety and
 * errors as shmap_window_read(). The window is not const here (nor for
 * shmap_window_cmpxchg64()): a `const shmap_window *` promises that nothing
 * is written through it, the guest memory included.
 */
SHMAP_API int shmap_window_write(shmap_window *w, uint64_t offset,
                                 const void *src, size_t len,
                                 uint64_t *fault_offset);
/**
 * Atomically replace the 8-byte value at `offset` (8-aligned, in an RW
 * mapping) with `desired` if it equals `*expected` — atomic also against the
 * peer process writing the same memory. Sequentially consistent.
 *
 * Returns 0 when swapped; SHMAP_EBUSY when not, with `*expected` updated to
 * the value found. Other errors: SHMAP_EALIGN, and those of
 * shmap_window_read(), SHMAP_EFAULT included.
 */
SHMAP_API int shmap_window_cmpxchg64(shmap_window *w, uint64_t offset,
                                     uint64_t *expected, uint64_t desired,
                                     uint64_t *fault_offset);

#ifdef __cplusplus
}
#endif
#endif /* SHMAP_WINDOW_H */
