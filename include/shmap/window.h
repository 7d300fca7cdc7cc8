/* shmap — window: a reserved range of address space that mappings go into.
 *
 * A window reserves `size` bytes of virtual address space once. Mappables,
 * anonymous memory and external pointer ranges are then placed at offsets
 * inside it and removed again; the reservation is never given back in
 * between, so no other thread or library can be handed those addresses.
 * The window keeps an ordered table of its mappings: overlaps are rejected,
 * offsets translate to host pointers in O(log n).
 *
 * Thread safety: every function may be called from any thread at any time;
 * changes are serialised and lookups run in parallel. A pointer returned by
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

typedef struct shmap_window shmap_window;

/* What a mapping of the window is backed by. */
enum shmap_mapping_kind {
  SHMAP_MAPPING_MAPPABLE = 1, /* a range of a mappable, shared */
  SHMAP_MAPPING_ANON = 2,     /* private zero-filled memory */
  SHMAP_MAPPING_EXTERNAL = 3  /* a pointer range owned by someone else */
};

/* A description of one mapping, as given to shmap_window_foreach(). */
typedef struct shmap_mapping_info {
  uint64_t offset;            /* start, relative to the window base */
  uint64_t len;               /* length in bytes */
  void *host;                 /* host address of the first byte */
  unsigned kind;              /* enum shmap_mapping_kind */
  unsigned prot;              /* enum shmap_prot currently applied */
  shmap_mappable *mappable;   /* borrowed; NULL unless kind is MAPPABLE */
  uint64_t file_offset;       /* offset into the mappable; 0 otherwise */
} shmap_mapping_info;

/* Reserve `size` bytes of address space (> 0, a multiple of the mapping
 * granularity) whose base is a multiple of `align` (0 means the granularity;
 * otherwise a power of two >= the granularity). Nothing is committed: a
 * 1 TiB window costs only address space. On success *out owns the window.
 * Errors: EINVAL, EALIGN, EOVERFLOW, ENOMEM, EOS. */
SHMAP_API int shmap_window_reserve(uint64_t size, uint64_t align,
                                   shmap_window **out);

/* Unmap everything (dropping the mappables' references) and give the
 * address space back. NULL is ignored. No other thread may use the window
 * during or after this call. */
SHMAP_API void shmap_window_release(shmap_window *w);

SHMAP_API void *shmap_window_base(const shmap_window *w);
SHMAP_API uint64_t shmap_window_size(const shmap_window *w);

/* Number of live mappings. */
SHMAP_API size_t shmap_window_count(shmap_window *w);

/* Map [file_offset, file_offset+len) of `m` at window offset `offset` with
 * `prot` (READ or RW; RW needs a writable mappable). The window takes its
 * own reference on `m`; the caller keeps its own. The backing is checked
 * with the OS first (shmap_mappable_check_range).
 * Errors: EINVAL (NULL, bad prot), EEMPTY, EALIGN (offset, file_offset or
 * len not granularity-aligned), EOVERFLOW, ERANGE (past the window end),
 * EOVERLAP, EBACKING, EACCES (RW on a read-only mappable), EOS. On error the
 * window is unchanged. */
SHMAP_API int shmap_window_map(shmap_window *w, uint64_t offset,
                               shmap_mappable *m, uint64_t file_offset,
                               uint64_t len, unsigned prot);

/* Map private zero-filled memory at `offset`. Errors as shmap_window_map. */
SHMAP_API int shmap_window_map_anon(shmap_window *w, uint64_t offset,
                                    uint64_t len, unsigned prot);

/* Record that [offset, offset+len) of the window stands for the host range
 * [ptr, ptr+len) owned by someone else (EXTERNAL_MAP). Nothing is mapped:
 * the window range stays reserved and inaccessible, and translate() returns
 * pointers into `ptr`'s range. `ptr` must stay valid until the record is
 * unmapped. Errors: EINVAL (NULL ptr), EEMPTY, EALIGN, EOVERFLOW (also
 * ptr+len), ERANGE, EOVERLAP. */
SHMAP_API int shmap_window_map_external(shmap_window *w, uint64_t offset,
                                        uint64_t len, void *ptr);

/* Remove the mapping that is exactly [offset, offset+len). The range becomes
 * inaccessible reserved address space again (never returned to the OS); a
 * mappable's reference is dropped. Errors: EINVAL, EEMPTY, EOVERFLOW,
 * ERANGE, ENOENT (nothing mapped there), EPARTIAL (the range is not exactly
 * one whole mapping), EOS. */
SHMAP_API int shmap_window_unmap(shmap_window *w, uint64_t offset,
                                 uint64_t len);

/* Change the protection of the whole mapping that is exactly
 * [offset, offset+len) to `prot` (NONE, READ or RW). Errors: as unmap, plus
 * EACCES (RW on a read-only mappable) and ENOTSUP (external records). */
SHMAP_API int shmap_window_protect(shmap_window *w, uint64_t offset,
                                   uint64_t len, unsigned prot);

/* Host pointer for window range [offset, offset+len), or NULL when that
 * range is not entirely inside one mapping (or len is 0, or it overflows).
 * O(log n) in the number of mappings. Sets no error state: NULL is the
 * answer, not a failure. */
SHMAP_API void *shmap_window_translate(shmap_window *w, uint64_t offset,
                                       uint64_t len);

/* Describe the mapping that contains `offset`. Errors: EINVAL, ENOENT. */
SHMAP_API int shmap_window_lookup(shmap_window *w, uint64_t offset,
                                  shmap_mapping_info *info);

/* Call `cb` for every mapping in offset order while holding the window's
 * read lock: `cb` must not change the window. A non-zero return from `cb`
 * stops the walk and is returned. */
typedef int (*shmap_mapping_cb)(const shmap_mapping_info *info, void *arg);
SHMAP_API int shmap_window_foreach(shmap_window *w, shmap_mapping_cb cb,
                                   void *arg);

/* Fault-safe access. These copy between a caller buffer and window range
 * [offset, offset+len), which must lie inside one mapping whose protection
 * allows the access. If the memory behind the mapping is gone (a peer
 * truncated an unsealed file, SIGBUS; or an access violation on Windows)
 * the call returns SHMAP_EFAULT and, when `fault_offset` is not NULL, the
 * window offset of the first byte that faulted, instead of killing the
 * process. Bytes before that offset may have been copied. Faults anywhere
 * else still reach the handler the program had installed before.
 * Errors: EINVAL, EEMPTY, EOVERFLOW, ENOENT, EPARTIAL, EACCES, EFAULT. */
SHMAP_API int shmap_window_read(shmap_window *w, uint64_t offset, void *dst,
                                size_t len, uint64_t *fault_offset);
SHMAP_API int shmap_window_write(shmap_window *w, uint64_t offset,
                                 const void *src, size_t len,
                                 uint64_t *fault_offset);
/* Atomically replace the 8-byte value at `offset` (8-aligned, mapping RW)
 * with `desired` if it equals *expected. Returns 0 when swapped; SHMAP_EBUSY
 * when not, with *expected updated to the value found; EFAULT as above. */
SHMAP_API int shmap_window_cmpxchg64(shmap_window *w, uint64_t offset,
                                     uint64_t *expected, uint64_t desired,
                                     uint64_t *fault_offset);

#ifdef __cplusplus
}
#endif
#endif /* SHMAP_WINDOW_H */
