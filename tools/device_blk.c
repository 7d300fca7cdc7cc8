/* shmap serve --device blk — just enough of a vhost-user-blk device for a
 * front end (QEMU's vhost-user-blk-pci, or `shmap send --negotiate`) to go
 * through its whole conversation: the library answers the handshake and
 * the memory messages; this answers the rest (config space, vring state),
 * closes every descriptor it is handed, and prints one JSON line for each
 * message. It never processes a virtqueue. */
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "tool.h"

/* struct virtio_blk_config: capacity u64 @0, ..., blk_size u32 @20, ...,
 * num_queues u16 @34; 60 bytes, rounded up. */
#define BLK_CONFIG_SIZE 64
/* GET_CONFIG / SET_CONFIG: offset u32, size u32, flags u32, then bytes. */
#define CONFIG_HDR 12
/* SET_VRING_KICK/CALL/ERR: bits 0-7 the index, bit 8 "no descriptor". */
#define VRING_INDEX_MASK 0xffu
#define VRING_NOFD 0x100u

/* The fields a handler adds to its message's line, printed once the result
 * is known. */
typedef struct line {
  char buf[512];
  size_t n;
  const char *why; /* a failure found here, not by the library */
} line;

/* A payload of the wrong size for its request. */
static int bad_size(line *l) {
  l->why = "payload size wrong for this request";
  return SHMAP_ESIZE;
}

/* mingw's own printf (ANSI stdio) is what vsnprintf is there. */
#if defined(__MINGW_PRINTF_FORMAT)
__attribute__((format(__MINGW_PRINTF_FORMAT, 2, 3)))
#elif defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void
add(line *l, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  /* clang-tidy 14's analyzer loses va_start when it inlines a variadic
   * static function into its caller: a false positive. */
  // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized)
  int k = vsnprintf(l->buf + l->n, sizeof l->buf - l->n, fmt, ap);
  va_end(ap);
  if (k > 0)
    l->n +=
        (size_t)k < sizeof l->buf - l->n ? (size_t)k : sizeof l->buf - l->n - 1;
}

static void blk_config(const tool_blk *d, uint8_t *cfg) {
  memset(cfg, 0, BLK_CONFIG_SIZE);
  tool_put_le64(cfg, d->capacity);
  tool_put_le32(cfg + 20, 512); /* blk_size */
  cfg[34] = 1;                  /* num_queues */
}

/* GET_CONFIG: answer with the same header and the requested bytes. */
static int get_config(const tool_blk *d, shmap_channel *ch, const shmap_msg *m,
                      line *l, int *replied) {
  if (m->hdr.size < CONFIG_HDR)
    return bad_size(l);
  uint32_t off = tool_le32(m->payload), len = tool_le32(m->payload + 4);
  add(l, ",\"offset\":%" PRIu32 ",\"size\":%" PRIu32, off, len);
  if (len > SHMAP_MSG_MAX_PAYLOAD - CONFIG_HDR ||
      m->hdr.size != CONFIG_HDR + len)
    return bad_size(l);
  uint8_t cfg[BLK_CONFIG_SIZE], out[SHMAP_MSG_MAX_PAYLOAD];
  blk_config(d, cfg);
  memcpy(out, m->payload, CONFIG_HDR);
  for (uint32_t i = 0; i < len; i++)
    out[CONFIG_HDR + i] =
        (uint64_t)off + i < BLK_CONFIG_SIZE ? cfg[(uint64_t)off + i] : 0;
  add(l, ",\"capacity\":%" PRIu64, d->capacity);
  *replied = 1;
  return shmap_channel_send_msg(ch, m->hdr.request, SHMAP_WIRE_REPLY, out,
                                CONFIG_HDR + (size_t)len, NULL, 0);
}

/* SET_VRING_ADDR: index u32, flags u32, desc, used, avail, log (u64 each),
 * in the front end's address space: show whether each is in guest RAM. */
static int vring_addr(const tool_blk *d, const shmap_msg *m, line *l) {
  if (m->hdr.size != 40)
    return bad_size(l);
  static const char *const names[] = {"desc", "used", "avail"};
  add(l, ",\"index\":%" PRIu32, tool_le32(m->payload));
  for (int i = 0; i < 3; i++) {
    uint64_t a = tool_le64(m->payload + 8 + 8 * (size_t)i);
    add(l, ",\"%s\":\"0x%" PRIx64 "\",\"%s_host\":%s", names[i], a, names[i],
        shmap_backend_translate_uaddr(d->be, a, 16) != NULL ? "true" : "false");
  }
  return 0;
}

/* Vring state (index u32, num u32): SET_VRING_NUM/BASE/ENABLE. */
static int vring_state(tool_blk *d, const shmap_msg *m, line *l) {
  if (m->hdr.size != 8)
    return bad_size(l);
  uint32_t index = tool_le32(m->payload), num = tool_le32(m->payload + 4);
  add(l, ",\"index\":%" PRIu32 ",\"num\":%" PRIu32, index, num);
  if (m->hdr.request == SHMAP_REQ_SET_VRING_BASE && index < TOOL_BLK_VRINGS)
    d->vring_base[index] = num;
  return 0;
}

/* GET_VRING_BASE: the ring stops; answer its state (index, last base). */
static int get_vring_base(const tool_blk *d, shmap_channel *ch,
                          const shmap_msg *m, line *l, int *replied) {
  if (m->hdr.size != 8)
    return bad_size(l);
  uint32_t index = tool_le32(m->payload);
  uint8_t out[8];
  tool_put_le32(out, index);
  tool_put_le32(out + 4, index < TOOL_BLK_VRINGS ? d->vring_base[index] : 0);
  add(l, ",\"index\":%" PRIu32 ",\"num\":%" PRIu32, index, tool_le32(out + 4));
  *replied = 1;
  return shmap_channel_send_msg(ch, m->hdr.request, SHMAP_WIRE_REPLY, out,
                                sizeof out, NULL, 0);
}

/* Handle one request; print its own fields; answer it when it needs a
 * payload (*replied 1) or set *value for a u64 answer. */
static int handle(tool_blk *d, shmap_channel *ch, const shmap_msg *m, line *l,
                  uint64_t *value, int *replied) {
  uint64_t v = 0;
  int rc = 0;
  switch (m->hdr.request) {
  case SHMAP_REQ_GET_CONFIG: return get_config(d, ch, m, l, replied);
  case SHMAP_REQ_SET_CONFIG: return m->hdr.size >= CONFIG_HDR ? 0 : bad_size(l);
  case SHMAP_REQ_GET_VRING_BASE: return get_vring_base(d, ch, m, l, replied);
  case SHMAP_REQ_SET_VRING_ADDR: return vring_addr(d, m, l);
  case SHMAP_REQ_SET_VRING_NUM:
  case SHMAP_REQ_SET_VRING_BASE:
  case SHMAP_REQ_SET_VRING_ENABLE: return vring_state(d, m, l);
  case SHMAP_REQ_GET_QUEUE_NUM: *value = 1; return 0;
  case SHMAP_REQ_GET_STATUS:
    *value = d->status;
    add(l, ",\"status\":%" PRIu64, d->status);
    return 0;
  case SHMAP_REQ_SET_STATUS:
  case SHMAP_REQ_SET_VRING_KICK:
  case SHMAP_REQ_SET_VRING_CALL:
  case SHMAP_REQ_SET_VRING_ERR:
    if ((rc = shmap_msg_u64(m, &v)) != 0)
      return rc;
    if (m->hdr.request == SHMAP_REQ_SET_STATUS) {
      d->status = v;
      add(l, ",\"status\":%" PRIu64, v);
    } else {
      add(l, ",\"index\":%" PRIu64 ",\"fd\":%s", v & VRING_INDEX_MASK,
          v & VRING_NOFD ? "false" : "true");
    }
    return 0;
  default: return 0; /* accepted and ignored */
  }
}

int tool_blk_foreign(void *ctx, shmap_channel *ch, shmap_msg *m) {
  tool_blk *d = ctx;
  uint32_t code = m->hdr.request;
  int is_reply = (m->hdr.flags & SHMAP_WIRE_REPLY) != 0;
  line l = {{0}, 0, NULL};
  if (is_reply)
    add(&l, ",\"reply\":true");
  if (m->nfds > 0)
    add(&l, ",\"fds\":%zu", m->nfds);
  shmap_msg_release(m); /* this device keeps no descriptor */
  uint64_t value = 0;
  int replied = 0, rc = 0, send_rc = 0;
  if (!is_reply)
    rc = handle(d, ch, m, &l, &value, &replied);
  if (rc < 0 && replied) {
    send_rc = rc; /* the answer itself failed to go out */
  } else if (!is_reply && !replied) {
    if (shmap_wire_always_answered(m->direction, code))
      send_rc = shmap_channel_reply_u64(
          ch, code, rc != 0 ? shmap_wire_reply_value(rc) : value);
    else if (m->hdr.flags & SHMAP_WIRE_NEED_REPLY)
      send_rc = shmap_channel_reply(ch, code, rc);
  }
  tool_line_begin(shmap_wire_request_name_in(m->direction, code), code, rc,
                  l.why);
  fputs(l.buf, stdout);
  tool_line_end(1, shmap_backend_count(d->be));
  /* A request it could not parse is answered and survived; only a broken
   * connection ends the serve loop. */
  return send_rc;
}
