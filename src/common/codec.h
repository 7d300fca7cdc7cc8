/* shmap — the wire codec's internals that channels use (common/wire.c);
 * the public codec is shmap/wire.h. */
#ifndef SHMAP_CODEC_H
#define SHMAP_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "shmap/wire.h"

/* shmap_wire_header_decode()'s checks of a header already read (a channel
 * records the raw fields first, to name what failed): `rx` is the space
 * of the requests this receiver gets, `tx` the space of those it sent
 * (which replies answer). */
int shmap__wire_header_check(const shmap_wire_header *h, int rx, int tx);
/* 1 when shmap decodes request `code` of `space`. */
int shmap__wire_decoded(int space, uint32_t code);
/* Decode / encode a memory message whose code is in `space`. */
int shmap__wire_decode_in(int space, const shmap_wire_header *h,
                          const uint8_t *payload, size_t len,
                          shmap_wire_msg *out);
int shmap__wire_encode_in(int space, const shmap_wire_msg *msg, uint8_t *buf,
                          size_t cap, size_t *out_len);
/* Header and payload bytes of any message, as given (no checks). */
void shmap__wire_frame(uint8_t *buf, uint32_t request, uint32_t flags,
                       const void *payload, uint32_t size);

/* The 20 bytes of a reply to `request` carrying `value`: what
 * shmap_wire_encode() makes of shmap_wire_reply_init()'s message, without
 * building one. */
#define SHMAP__REPLY_BYTES (SHMAP_WIRE_HEADER_SIZE + 8)
void shmap__wire_reply_bytes(uint8_t *buf, uint32_t request, uint64_t value);

static inline uint32_t shmap__le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

#endif /* SHMAP_CODEC_H */
