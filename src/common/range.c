/* shmap — range validation shared by every layer. */
#include <inttypes.h>
#include <string.h>

#include "checks.h"
#include "errors.h"
#include "os_contract.h"

int shmap__check_range(const char *what, uint64_t offset, uint64_t len,
                       uint64_t limit, uint64_t gran) {
  if (len == 0)
    return shmap__err(SHMAP_EEMPTY, "%s: zero length at offset 0x%" PRIx64,
                      what, offset);
  if (offset > UINT64_MAX - len)
    return shmap__err(SHMAP_EOVERFLOW,
                      "%s: offset 0x%" PRIx64 " + length 0x%" PRIx64
                      " overflows",
                      what, offset, len);
  /* Name the one that is off (both when both are). */
  int off_bad = gran > 1 && (offset & (gran - 1)) != 0;
  int len_bad = gran > 1 && (len & (gran - 1)) != 0;
  if (off_bad && len_bad)
    return shmap__err(SHMAP_EALIGN,
                      "%s: offset 0x%" PRIx64 " and length 0x%" PRIx64
                      " not aligned to the granularity 0x%" PRIx64,
                      what, offset, len, gran);
  if (off_bad || len_bad)
    return shmap__err(
        SHMAP_EALIGN,
        "%s: %s 0x%" PRIx64 " not aligned to the granularity 0x%" PRIx64, what,
        off_bad ? "offset" : "length", off_bad ? offset : len, gran);
  if (offset + len > limit)
    return shmap__err(SHMAP_ERANGE,
                      "%s: range 0x%" PRIx64 "+0x%" PRIx64
                      " ends past 0x%" PRIx64,
                      what, offset, len, limit);
  return 0;
}

uint64_t shmap_page_size(void) { return shmap__os_page_size(); }

uint64_t shmap_map_granularity(void) { return shmap__os_granularity(); }

void shmap_platform(shmap_platform_info *out) {
  if (out == NULL)
    return;
  memset(out, 0, sizeof *out);
  out->page_size = shmap__os_page_size();
  out->granularity = shmap__os_granularity();
  shmap__os_platform(out);
}

int shmap__options_read(const void *opts, void *dst, size_t known,
                        const char *what) {
  if (opts == NULL)
    return 0;
  size_t size;
  memcpy(&size, opts, sizeof size);
  if (size < sizeof size)
    return shmap__err(SHMAP_EINVAL,
                      "%s: options size %zu (set it to sizeof the options "
                      "struct)",
                      what, size);
  const unsigned char *p = opts;
  for (size_t i = known; i < size; i++)
    if (p[i] != 0)
      return shmap__err(SHMAP_ENOTSUP,
                        "%s: options of %zu bytes set a field this version "
                        "(%zu bytes) does not know, at byte %zu",
                        what, size, known, i);
  memcpy(dst, opts, size < known ? size : known);
  return 0;
}

int shmap__seal_policy(unsigned policy, const char *what, int *allow_unsealed) {
  switch (policy) {
  case SHMAP_SEALS_DEFAULT: *allow_unsealed = 0; return 0;
  case SHMAP_SEALS_REQUIRED: *allow_unsealed = -1; return 0;
  case SHMAP_SEALS_OPTIONAL: *allow_unsealed = 1; return 0;
  default:
    return shmap__err(SHMAP_EINVAL, "%s: unknown seal_policy %u", what, policy);
  }
}
