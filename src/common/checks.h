/* shmap — checks of caller arguments every layer shares: ranges against a
 * size and an alignment, size-first options structs, seal policies
 * (common/range.c). Each records its error. */
#ifndef SHMAP_CHECKS_H
#define SHMAP_CHECKS_H

#include <stddef.h>
#include <stdint.h>

static inline int shmap__is_pow2(uint64_t v) { return v && !(v & (v - 1)); }

/* Validate a [offset, offset+len) range against `limit` and alignment
 * `gran`; `what` names the caller in the message. Returns 0 or EEMPTY,
 * EOVERFLOW, EALIGN, ERANGE. */
int shmap__check_range(const char *what, uint64_t offset, uint64_t len,
                       uint64_t limit, uint64_t gran);

/* Read a caller's options struct of the size-first convention (its first
 * field a size_t `size`): copy the first min(size, known) bytes of `opts`
 * over `dst`, which holds the defaults (zero) and is `known` bytes long.
 * NULL opts leaves `dst` as it is. Refuses a size smaller than the size
 * field (SHMAP_EINVAL) and bytes past `known` that are not zero
 * (SHMAP_ENOTSUP: fields of a newer version, asked for). */
int shmap__options_read(const void *opts, void *dst, size_t known,
                        const char *what);
/* The endpoints' seal policy (enum shmap_seal_policy) as the allow_unsealed
 * of shmap__mappable_adopt_peer(); SHMAP_EINVAL for an unknown one. */
int shmap__seal_policy(unsigned policy, const char *what, int *allow_unsealed);

#endif /* SHMAP_CHECKS_H */
