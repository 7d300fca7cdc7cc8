/* libFuzzer target: the requesting side. The library makes requests on one
 * end of a socketpair (front end: add/remove regions, SET_MEM_TABLE,
 * GET_MAX_MEM_SLOTS, the handshake, SET_BACKEND_REQ_FD, foreign calls;
 * back end on the back-end request socket: SHMEM_MAP, SHMEM_UNMAP,
 * EXTERNAL_MAP) while the fuzzer's bytes are the peer's answers, written to
 * the other end beforehand (replies, wrong replies, foreign messages,
 * truncated frames, descriptors of every kind). The peer's write side is
 * shut before the first request, so every wait ends (or, on a non-blocking
 * socket, left open: a wait then ends with SHMAP_EAGAIN).
 *
 * Invariants: no crash, no descriptor left open, every failure with its
 * own message, and no success the peer's bytes cannot justify (a request
 * that waits for a reply returns 0 only if the peer sent such a reply: for
 * an acknowledgement, one carrying 0). */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_peer.h"
#include "shmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- what the peer sent, and which of its replies successes used ---- */

static uint8_t peer[1 << 16];
static size_t npeer;

static uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

/* How many headers in the peer's bytes are replies (REPLY flag) to `code`,
 * of payload size 8 with value 0 when `zero`. An upper bound on what a
 * reading library could have taken from them. */
static unsigned replies_sent(uint32_t code, int zero) {
  unsigned n = 0;
  for (size_t i = 0; i + SHMAP_WIRE_HEADER_SIZE <= npeer; i++) {
    const uint8_t *p = peer + i;
    if (le32(p) != code || !(le32(p + 4) & SHMAP_WIRE_REPLY))
      continue;
    if (zero) {
      if (le32(p + 8) != 8 || i + SHMAP_WIRE_HEADER_SIZE + 8 > npeer)
        continue;
      uint64_t v = 0;
      for (int k = 0; k < 8; k++)
        v |= (uint64_t)p[12 + k] << 8 * k;
      if (v != 0)
        continue;
    }
    n++;
  }
  return n;
}

/* Replies successes have relied on so far in this input, per code: those
 * that had to carry 0 (acknowledgements) and all of them. */
typedef struct use {
  uint32_t code;
  unsigned zero, all;
} use;
static use used[32];
static size_t nused;

/* A success relied on one more reply to `code` (carrying 0 when `zero`):
 * abort unless the peer sent that many. */
static void need_reply(uint32_t code, int zero) {
  size_t i = 0;
  while (i < nused && used[i].code != code)
    i++;
  if (i == nused) {
    if (nused == sizeof used / sizeof used[0])
      abort(); /* more codes than the op budget allows */
    used[nused++] = (use){code, 0, 0};
  }
  used[i].zero += zero != 0;
  used[i].all++;
  if (used[i].all > replies_sent(code, 0) ||
      used[i].zero > replies_sent(code, 1))
    abort(); /* a success the peer's bytes cannot justify */
}

/* ---- the library's side ---- */

/* Memory the requests share: a created (sealed, mode 0400) mappable of
 * 128 KiB, an adopted unsealed memfd of 64 KiB, a read-only mappable (an
 * O_RDONLY reopen), and a 4 KiB one. Made once, before the first count. */
static shmap_mappable *pool[4];
static _Alignas(65536) uint8_t hostbuf[0x40000];

static void make_pool(void) {
  if (shmap_mappable_create(0x20000, 0, &pool[0]) != 0)
    abort();
  int fd = memfd_create("fz-unsealed", MFD_CLOEXEC);
  if (fd < 0 || ftruncate(fd, 0x10000) != 0 ||
      shmap_mappable_adopt(fd, &pool[1]) != 0)
    abort();
  shmap_native_t ro;
  if (shmap_mappable_share_readonly(pool[0], &ro) != 0 ||
      shmap_mappable_adopt(ro, &pool[2]) != 0)
    abort();
  if (shmap_mappable_create(0x1000, 0, &pool[3]) != 0)
    abort();
}

/* A region from one byte: mappable (bits 0-1), guest address (bits 2-4,
 * in 64 KiB steps), size 64 or 128 KiB (bit 5), file offset 0 or 64 KiB
 * (bit 6), no host address (bit 7 with bits 0-1 all set: rare). */
static shmap_region region_of(uint8_t b) {
  shmap_region r = {.mappable = pool[b & 3]};
  r.guest_address = (uint64_t)((b >> 2) & 7) * 0x10000;
  r.size = b & 0x20 ? 0x20000 : 0x10000;
  r.file_offset = b & 0x40 ? 0x10000 : 0;
  r.host = (b & 0x83) == 0x83 ? NULL : hostbuf + r.guest_address % 0x20000;
  return r;
}

typedef struct script {
  const uint8_t *p;
  size_t n, i;
} script;

static uint8_t next(script *s) { return s->i < s->n ? s->p[s->i++] : 0; }

enum op {
  OP_ADD,
  OP_REMOVE,
  OP_TABLE,
  OP_SLOTS,
  OP_NEGOTIATE,
  OP_CALL,
  OP_RECV_REPLY,
  OP_OPEN_BACKEND_CHANNEL,
  OP_SHMEM_MAP,
  OP_SHMEM_UNMAP,
  OP_EXTERNAL_MAP,
  OP_SET_FEATURES,
  OP_COUNT
};

/* Run one op; abort on a broken invariant. */
static void run_op(shmap_channel *ch, script *s) {
  uint8_t op = next(s) % OP_COUNT;
  uint64_t proto = shmap_channel_protocol_features(ch);
  int ack = (proto & SHMAP_PROTOCOL_F_REPLY_ACK) != 0;
  int slots = (proto & SHMAP_PROTOCOL_F_CONFIGURE_MEM_SLOTS) != 0;
  int tx = shmap_channel_tx_direction(ch);
  int rc = 0;
  fz_prime();
  switch (op) {
  case OP_ADD: {
    shmap_region r = region_of(next(s));
    rc = shmap_frontend_add_region(ch, &r);
    if (rc == 0 && ack)
      need_reply(slots ? SHMAP_REQ_ADD_MEM_REG : SHMAP_REQ_SET_MEM_TABLE, 1);
    break;
  }
  case OP_REMOVE: {
    shmap_region r = region_of(next(s));
    rc = shmap_frontend_remove_region(ch, &r);
    if (rc == 0 && ack)
      need_reply(slots ? SHMAP_REQ_REM_MEM_REG : SHMAP_REQ_SET_MEM_TABLE, 1);
    break;
  }
  case OP_TABLE: {
    shmap_region r[SHMAP_WIRE_MAX_REGIONS + 1];
    size_t n = next(s) % (SHMAP_WIRE_MAX_REGIONS + 2);
    for (size_t k = 0; k < n; k++)
      r[k] = region_of(next(s));
    rc = shmap_frontend_set_mem_table(ch, r, n);
    if (rc == 0 && ack)
      need_reply(SHMAP_REQ_SET_MEM_TABLE, 1);
    break;
  }
  case OP_SLOTS: {
    uint64_t v;
    rc = shmap_frontend_get_max_mem_slots(ch, &v);
    if (rc == 0)
      need_reply(SHMAP_REQ_GET_MAX_MEM_SLOTS, 0);
    break;
  }
  case OP_NEGOTIATE: {
    uint64_t want = (uint64_t)next(s) << 24 | (uint64_t)next(s) << 32;
    uint64_t want_proto = (uint64_t)next(s) | (uint64_t)next(s) << 8;
    shmap_negotiation got;
    rc = shmap_frontend_negotiate(ch, want, want_proto, &got);
    if (rc == 0) {
      uint64_t agreed = shmap_channel_protocol_features(ch);
      need_reply(SHMAP_REQ_GET_FEATURES, 0);
      if (got.offered_features & SHMAP_VHOST_F_PROTOCOL_FEATURES)
        need_reply(SHMAP_REQ_GET_PROTOCOL_FEATURES, 0);
      else if (agreed != 0 || got.offered_protocol != 0)
        abort(); /* protocol features from a peer that has none */
      if (agreed != got.protocol_features ||
          (agreed & ~got.offered_protocol) != 0 ||
          (got.features & ~got.offered_features) != 0)
        abort(); /* agreed to something the peer did not offer */
      if (agreed & SHMAP_PROTOCOL_F_REPLY_ACK) {
        need_reply(SHMAP_REQ_SET_OWNER, 1);
        need_reply(SHMAP_REQ_SET_FEATURES, 1);
      }
    }
    break;
  }
  case OP_CALL: {
    /* Any request code (mostly foreign ones), a payload from the script,
     * perhaps a descriptor, a reply buffer or none. */
    uint8_t c = next(s), f = next(s);
    uint32_t code = f & 0x80 ? SHMAP_REQ_EXTERNAL_MAP : c;
    uint8_t payload[64];
    size_t len = f & 0x3f;
    for (size_t k = 0; k < len; k++)
      payload[k] = next(s);
    shmap_native_t fd = shmap_mappable_native(pool[0]);
    static shmap_msg reply;
    int answered = shmap_wire_always_answered(tx, code);
    rc = shmap_channel_call(ch, code, payload, len, &fd, f & 0x40 ? 1 : 0,
                            c & 1 ? &reply : NULL);
    /* On success the reply is the caller's; on failure the call has closed
     * whatever came with it (the leak check after the input holds it to
     * that: fuzz/README.md, "Findings"). */
    if (c & 1 && rc == 0)
      shmap_msg_release(&reply);
    if (rc == 0 && (answered || ack))
      need_reply(code, !answered);
    break;
  }
  case OP_RECV_REPLY: {
    /* A caller's own loop waiting for a reply it asked for. */
    uint8_t c = next(s);
    uint32_t code = c & 0x80 ? SHMAP_REQ_EXTERNAL_MAP : c & 0x3f;
    uint64_t v;
    rc = shmap_channel_recv_reply(ch, code, c & 0x40 ? &v : NULL);
    if (rc == 0)
      need_reply(code, !(c & 0x40));
    break;
  }
  case OP_OPEN_BACKEND_CHANNEL: {
    shmap_channel *req = NULL;
    rc = shmap_frontend_open_backend_channel(
        ch, next(s) & 1 ? SHMAP_CHANNEL_SAME_USER : 0, &req);
    if (rc == 0) {
      if (ack)
        need_reply(SHMAP_REQ_SET_BACKEND_REQ_FD, 1);
      shmap_channel_close(req);
    }
    break;
  }
  case OP_SHMEM_MAP:
  case OP_SHMEM_UNMAP:
  case OP_EXTERNAL_MAP: {
    uint8_t a = next(s), b = next(s);
    uint8_t shmid = a & 3;
    uint64_t file_offset = (a & 4) ? 0x10000 : 0;
    uint64_t shm_offset = (uint64_t)((a >> 3) & 7) * 0x10000;
    uint64_t len = (a & 0x40) ? 0x20000 : b & 0x80 ? 0x1000 : 0x10000;
    unsigned prot = (a & 0x80) ? SHMAP_PROT_RW : SHMAP_PROT_READ;
    if (op == OP_SHMEM_MAP) {
      rc = shmap_backend_shmem_map(ch, shmid, pool[b & 3], file_offset,
                                   shm_offset, len, prot);
      if (rc == 0 && ack)
        need_reply(SHMAP_REQ_SHMEM_MAP, 1);
    } else if (op == OP_SHMEM_UNMAP) {
      rc = shmap_backend_shmem_unmap(ch, shmid, shm_offset, len);
      if (rc == 0 && ack)
        need_reply(SHMAP_REQ_SHMEM_UNMAP, 1);
    } else {
      rc = shmap_backend_external_map(ch, shmid, shm_offset, len,
                                      b & 0x40 ? hostbuf : hostbuf + 0x1000);
      if (rc == 0) /* always answered */
        need_reply(SHMAP_REQ_EXTERNAL_MAP, 1);
    }
    break;
  }
  case OP_SET_FEATURES: {
    /* What the caller records mid-conversation (a handshake of its own). */
    uint8_t b = next(s);
    shmap_channel_set_protocol_features(
        ch, (b & 1 ? SHMAP_PROTOCOL_F_REPLY_ACK : 0) |
                (b & 2 ? SHMAP_PROTOCOL_F_CONFIGURE_MEM_SLOTS : 0) |
                (b & 4 ? SHMAP_PROTOCOL_F_BACKEND_REQ : 0));
    return;
  }
  }
  fz_check_result(rc);
  /* FZ_VERBOSE=1 shows each op's outcome, to check what a seed does. */
  static int verbose = -1;
  if (verbose < 0)
    verbose = getenv("FZ_VERBOSE") != NULL;
  if (verbose)
    fprintf(stderr, "op %d: %d %s\n", op, rc,
            rc != 0 ? shmap_last_message() : "");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (pool[0] == NULL)
    make_pool();
  if (size < 2)
    return 0;
  long before = fz_open_fds();
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    abort();
  /* Byte 0 is control:
   *   bit 0  the back end on the back-end request socket (SHMEM_MAP & co.);
   *          else the front end on the main socket (regions, handshake);
   *   bit 1  REPLY_ACK recorded on the channel;
   *   bit 2  CONFIGURE_MEM_SLOTS recorded (ADD/REM_MEM_REG, else tables);
   *   bit 3  cross-process channel (no SHMAP_CHANNEL_INPROCESS);
   *   bit 4  SHMAP_CHANNEL_REM_FD (REM_MEM_REG carries the descriptor);
   *   bit 5  BACKEND_REQ recorded (SET_BACKEND_REQ_FD may be sent);
   *   bit 6  the library's socket is non-blocking and the peer's write
   *          side stays open (the end of its bytes is SHMAP_EAGAIN; half a
   *          reply is kept for the next receive);
   *   bit 7  SHMAP_CHANNEL_SAME_USER.
   * Byte 1 is the length of the request script that follows (ops of
   * run_op(), at most 24); the rest is the peer's chunks
   * (fz_send_chunks()). */
  unsigned ctl = data[0];
  size_t slen = data[1];
  if (slen > size - 2)
    slen = size - 2;
  script s = {data + 2, slen, 0};
  const uint8_t *pb = data + 2 + slen;
  size_t pn = size - 2 - slen;
  npeer = 0;
  nused = 0;
  /* Record the peer's bytes (chunk payloads, in order) for need_reply(). */
  for (size_t i = 0; i + 2 <= pn;) {
    size_t len = pb[i + 1];
    i += 2;
    if (len > pn - i)
      len = pn - i;
    if (len == 0)
      break;
    if (npeer + len <= sizeof peer) {
      memcpy(peer + npeer, pb + i, len);
      npeer += len;
    }
    i += len;
  }
  fz_send_chunks(sv[0], pb, pn);
  fz_shrink();
  if (!(ctl & 0x40))
    shutdown(sv[0], SHUT_WR);
  if ((ctl & 0x40) &&
      fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) | O_NONBLOCK) != 0)
    abort();
  unsigned role = ctl & 1 ? SHMAP_ROLE_BACKEND : SHMAP_ROLE_FRONTEND;
  unsigned flags = (ctl & 1 ? SHMAP_CHANNEL_BACKEND_REQ : 0) |
                   (ctl & 8 ? 0 : SHMAP_CHANNEL_INPROCESS) |
                   (ctl & 0x10 ? SHMAP_CHANNEL_REM_FD : 0) |
                   (ctl & 0x80 ? SHMAP_CHANNEL_SAME_USER : 0);
  shmap_channel *ch;
  if (shmap_channel_adopt(sv[1], role, flags, &ch) != 0)
    abort();
  shmap_channel_set_protocol_features(
      ch, (ctl & 2 ? SHMAP_PROTOCOL_F_REPLY_ACK : 0) |
              (ctl & 4 ? SHMAP_PROTOCOL_F_CONFIGURE_MEM_SLOTS : 0) |
              (ctl & 0x20 ? SHMAP_PROTOCOL_F_BACKEND_REQ : 0));
  for (int n = 0; n < 24 && s.i < s.n; n++)
    run_op(ch, &s);
  shmap_channel_close(ch);
  close(sv[0]);
  if (fz_open_fds() != before)
    abort(); /* a descriptor leaked */
  return 0;
}
