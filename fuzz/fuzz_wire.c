/* libFuzzer target: arbitrary bytes as a received frame, for both
 * directions. Whatever decodes must encode back to the same bytes, and
 * whatever fails must fail with a message. */
#include <stdlib.h>
#include <string.h>

#include "shmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < SHMAP_WIRE_HEADER_SIZE)
    return 0;
  for (int dir = SHMAP_WIRE_TO_BACKEND; dir <= SHMAP_WIRE_TO_FRONTEND; dir++) {
    shmap_wire_header h;
    if (shmap_wire_header_decode(data, dir, &h) != 0) {
      if (shmap_last_message()[0] == '\0')
        abort();
      continue;
    }
    if (h.size > SHMAP_MSG_MAX_PAYLOAD)
      abort(); /* header_decode must bound every size (foreign ones too) */
    size_t avail = size - SHMAP_WIRE_HEADER_SIZE;
    shmap_wire_msg m;
    if (shmap_wire_decode_in(dir, &h, data + SHMAP_WIRE_HEADER_SIZE,
                             avail < h.size ? avail : h.size, &m) != 0)
      continue;
    uint8_t out[SHMAP_WIRE_MAX_MESSAGE];
    size_t len;
    if (shmap_wire_encode(&m, out, sizeof out, &len) != 0 ||
        len != SHMAP_WIRE_HEADER_SIZE + h.size || memcmp(out, data, len) != 0)
      abort();
    size_t lo, hi;
    shmap_wire_fd_range(&m, &lo, &hi);
    if (lo > hi || hi > SHMAP_WIRE_MAX_FDS)
      abort();
  }
  return 0;
}
