/* Wire codec: byte-exact layouts pinned against hand-written vectors, round
 * trips for every message, and one malformed vector per receiver rule. */
#include <string.h>

#include "support.h"

static size_t build_hdr(uint8_t *b, uint32_t req, uint32_t flags,
                        uint32_t size) {
  le32(b, req);
  le32(b + 4, flags);
  le32(b + 8, size);
  return 12;
}

/* Decode a whole frame as received by a receiver of direction `inbound`. */
static int decode(const uint8_t *b, size_t len, int inbound,
                  shmap_wire_msg *m) {
  shmap_wire_header h;
  int rc = shmap_wire_header_decode(b, inbound, &h);
  if (rc != 0)
    return rc;
  return shmap_wire_decode_in(inbound, &h, b + 12, len - 12, m);
}

SHMAP_TEST(wire, add_mem_reg_layout) {
  shmap_wire_msg m;
  memset(&m, 0, sizeof m);
  m.hdr.request = SHMAP_REQ_ADD_MEM_REG;
  m.hdr.flags = SHMAP_WIRE_VERSION | SHMAP_WIRE_NEED_REPLY;
  m.u.region = (shmap_wire_region){0x100000, 0x200000, 0x7f0000001000, 0x3000};
  uint8_t buf[SHMAP_WIRE_MAX_MESSAGE];
  size_t len;
  ASSERT_OK(shmap_wire_encode(&m, buf, sizeof buf, &len));
  static const uint8_t want[52] = {
      37,   0,    0,    0,    0x09, 0,    0, 0, 40, 0, 0, 0, /* header */
      0,    0,    0,    0,    0,    0,    0, 0,              /* padding u64 */
      0x00, 0x00, 0x10, 0,    0,    0,    0, 0,  /* guest_phys_addr */
      0x00, 0x00, 0x20, 0,    0,    0,    0, 0,  /* memory_size */
      0x00, 0x10, 0x00, 0x00, 0x00, 0x7f, 0, 0,  /* userspace_addr */
      0x00, 0x30, 0,    0,    0,    0,    0, 0}; /* mmap_offset */
  cr_assert_eq(len, sizeof want);
  cr_assert_eq(memcmp(buf, want, sizeof want), 0);
  shmap_wire_msg back;
  ASSERT_OK(decode(buf, len, SHMAP_WIRE_TO_BACKEND, &back));
  cr_assert_eq(memcmp(&back.u.region, &m.u.region, sizeof m.u.region), 0);
  cr_assert_eq(back.hdr.flags, 0x9);
}

SHMAP_TEST(wire, shmem_map_and_external_layout) {
  shmap_wire_msg m;
  memset(&m, 0, sizeof m);
  m.hdr.request = SHMAP_REQ_SHMEM_MAP;
  m.hdr.flags = SHMAP_WIRE_VERSION;
  m.u.mmap = (shmap_wire_mmap){3, 0x1000, 0x20000, 0x4000, SHMAP_WIRE_MAP_RW};
  uint8_t buf[SHMAP_WIRE_MAX_MESSAGE];
  size_t len;
  ASSERT_OK(shmap_wire_encode(&m, buf, sizeof buf, &len));
  cr_assert_eq(len, 52);
  cr_assert_eq(buf[0], 9);
  cr_assert_eq(buf[8], 40);
  cr_assert_eq(buf[12], 3, "shmid @0");
  for (int i = 13; i < 20; i++)
    cr_assert_eq(buf[i], 0, "padding @%d", i - 12);
  cr_assert_eq(buf[12 + 9], 0x10, "fd_offset @8");
  cr_assert_eq(buf[12 + 18], 0x02, "shm_offset @16");
  cr_assert_eq(buf[12 + 25], 0x40, "len @24");
  cr_assert_eq(buf[12 + 32], 1, "flags @32");

  memset(&m, 0, sizeof m);
  m.hdr.request = SHMAP_REQ_EXTERNAL_MAP;
  m.hdr.flags = SHMAP_WIRE_VERSION | SHMAP_WIRE_NEED_REPLY;
  m.u.external = (shmap_wire_external){1, 0x10000, 0x1000, 0x7fff00001000};
  ASSERT_OK(shmap_wire_encode(&m, buf, sizeof buf, &len));
  cr_assert_eq(len, 44);
  cr_assert_eq(buf[0] | buf[1] << 8, 1007);
  cr_assert_eq(buf[12 + 10], 0x01, "shm_offset @8");
  cr_assert_eq(buf[12 + 17], 0x10, "len @16");
  cr_assert_eq(buf[12 + 29], 0x7f, "ptr @24");
  shmap_wire_msg back;
  ASSERT_OK(decode(buf, len, SHMAP_WIRE_TO_FRONTEND, &back));
  cr_assert_eq(back.u.external.ptr, 0x7fff00001000);
}

SHMAP_TEST(wire, round_trip_every_message) {
  shmap_wire_msg ms[8];
  memset(ms, 0, sizeof ms);
  ms[0].hdr.request = SHMAP_REQ_SET_MEM_TABLE;
  ms[0].u.mem_table.num_regions = 8;
  for (uint32_t i = 0; i < 8; i++)
    ms[0].u.mem_table.regions[i] = (shmap_wire_region){
        i * 0x100000ull, 0x100000, 0x1000 * i, 0x100000ull * i};
  ms[1].hdr.request = SHMAP_REQ_GET_MAX_MEM_SLOTS;
  ms[2].hdr.request = SHMAP_REQ_ADD_MEM_REG;
  ms[2].u.region = (shmap_wire_region){1, 2, 3, 4};
  ms[3].hdr.request = SHMAP_REQ_REM_MEM_REG;
  ms[3].u.region = (shmap_wire_region){1, 2, 3, 4};
  ms[4].hdr.request = SHMAP_REQ_SHMEM_MAP;
  ms[4].u.mmap = (shmap_wire_mmap){255, 1, 2, 3, 0};
  ms[5].hdr.request = SHMAP_REQ_SHMEM_UNMAP;
  ms[5].u.mmap = (shmap_wire_mmap){7, 0, 2, 3, 0};
  ms[6].hdr.request = SHMAP_REQ_EXTERNAL_MAP;
  ms[6].u.external = (shmap_wire_external){0, 1, 2, 3};
  shmap_wire_reply_init(&ms[7], SHMAP_REQ_ADD_MEM_REG,
                        shmap_wire_reply_value(SHMAP_EOVERLAP));
  for (int i = 0; i < 8; i++) {
    if (i < 7)
      ms[i].hdr.flags =
          SHMAP_WIRE_VERSION | (i % 2 ? SHMAP_WIRE_NEED_REPLY : 0);
    uint8_t buf[SHMAP_WIRE_MAX_MESSAGE], again[SHMAP_WIRE_MAX_MESSAGE];
    size_t len, len2;
    ASSERT_OK(shmap_wire_encode(&ms[i], buf, sizeof buf, &len));
    int dir = shmap_wire_direction(ms[i].hdr.request);
    if (ms[i].hdr.flags & SHMAP_WIRE_REPLY)
      dir = 3 - dir;
    shmap_wire_msg back;
    ASSERT_OK(decode(buf, len, dir, &back));
    cr_assert_eq(back.hdr.size, len - 12);
    ASSERT_OK(shmap_wire_encode(&back, again, sizeof again, &len2));
    cr_assert_eq(len, len2);
    cr_assert_eq(memcmp(buf, again, len), 0, "message %d round trips", i);
  }
  cr_assert_eq(shmap_wire_reply_result(ms[7].u.u64), SHMAP_EOVERLAP);
  cr_assert_eq(shmap_wire_reply_result(1), SHMAP_EREPLY,
               "QEMU's failure value");
  cr_assert_eq(shmap_wire_reply_result((uint64_t)-5000), SHMAP_EREPLY);
  cr_assert_eq(shmap_wire_reply_result(shmap_wire_reply_value(SHMAP_EPERM)),
               SHMAP_EPERM);
  cr_assert_eq(shmap_wire_reply_result(0), 0);
  cr_assert_str_eq(shmap_wire_request_name(1007), "EXTERNAL_MAP");
  cr_assert_str_eq(shmap_wire_request_name(99), "UNKNOWN");
}

/* One malformed frame per rule. Frames start from a valid message of the
 * request and change one thing. */
struct bad {
  const char *what;
  uint32_t req, flags, size;
  int inbound;
  int err;
  size_t at;      /* payload byte to change (or (size_t)-1) */
  uint64_t value; /* the u64 (or byte, for shmid/padding) written there */
  int width;      /* 1 or 8 */
};

static void valid_payload(uint32_t req, uint8_t *p, uint32_t size) {
  memset(p, 0, size);
  switch (req) {
  case SHMAP_REQ_SET_MEM_TABLE:
    le32(p, (size - 8) / 32);
    for (uint32_t i = 0; i < (size - 8) / 32; i++) {
      le64(p + 8 + 32 * i, 0x100000ull * (i + 1));
      le64(p + 8 + 32 * i + 8, 0x1000);
    }
    break;
  case SHMAP_REQ_ADD_MEM_REG:
  case SHMAP_REQ_REM_MEM_REG: le64(p + 16, 0x1000); break;
  case SHMAP_REQ_SHMEM_MAP:
  case SHMAP_REQ_SHMEM_UNMAP:
  case SHMAP_REQ_EXTERNAL_MAP:
    le64(p + (req == SHMAP_REQ_EXTERNAL_MAP ? 16 : 24), 0x1000);
    break;
  default: break;
  }
}

#define TB SHMAP_WIRE_TO_BACKEND
#define TF SHMAP_WIRE_TO_FRONTEND
#define V 1u
#define NONE ((size_t)-1)

/* clang-format off: a table reads best as one row per case */
static const struct bad bads[] = {
    {"version 0", 37, 0, 40, TB, SHMAP_EVERSION, NONE, 0, 0},
    {"version 2", 37, 2, 40, TB, SHMAP_EVERSION, NONE, 0, 0},
    {"version 3", 9, 3, 40, TF, SHMAP_EVERSION, NONE, 0, 0},
    {"reserved flag bit 4", 37, V | 0x10, 40, TB, SHMAP_EFLAGS, NONE, 0, 0},
    {"reserved flag bit 31", 9, V | 0x80000000u, 40, TF, SHMAP_EFLAGS, NONE, 0,
     0},
    {"reply with NEED_REPLY", 37, V | 4 | 8, 8, TF, SHMAP_EFLAGS, NONE, 0, 0},
    {"reply of wrong size", 37, V | 4, 16, TF, SHMAP_ESIZE, NONE, 0, 0},
    /* Foreign codes are well framed (the header passes) but not decoded. */
    {"reply to a code shmap does not decode", 4242, V | 4, 8, TF,
     SHMAP_EREQUEST, NONE, 0, 0},
    {"unknown request", 99, V, 0, TB, SHMAP_EREQUEST, NONE, 0, 0},
    {"foreign request of 4097 bytes", 4242, V, 4097, TB, SHMAP_ESIZE, NONE, 0,
     0},
    {"foreign reply of 4097 bytes", 4242, V | 4, 4097, TF, SHMAP_ESIZE, NONE, 0,
     0},
    {"GET_FEATURES of 4097 bytes", 1, V, 4097, TB, SHMAP_ESIZE, NONE, 0, 0},
    {"ADD_MEM_REG size 32", 37, V, 32, TB, SHMAP_ESIZE, NONE, 0, 0},
    {"REM_MEM_REG size 48", 38, V, 48, TB, SHMAP_ESIZE, NONE, 0, 0},
    {"SET_MEM_TABLE size 8", 5, V, 8, TB, SHMAP_ESIZE, NONE, 0, 0},
    {"SET_MEM_TABLE size 41", 5, V, 41, TB, SHMAP_ESIZE, NONE, 0, 0},
    {"SET_MEM_TABLE 9 regions", 5, V, 8 + 32 * 9, TB, SHMAP_ESIZE, NONE, 0, 0},
    {"SET_MEM_TABLE count mismatch", 5, V, 72, TB, SHMAP_ESIZE, 0, 1, 1},
    {"SET_MEM_TABLE count 0", 5, V, 40, TB, SHMAP_ESIZE, 0, 0, 1},
    {"GET_MAX_MEM_SLOTS with payload", 36, V, 8, TB, SHMAP_ESIZE, NONE, 0, 0},
    {"SHMEM_MAP size 32", 9, V, 32, TF, SHMAP_ESIZE, NONE, 0, 0},
    {"EXTERNAL_MAP size 40", 1007, V, 40, TF, SHMAP_ESIZE, NONE, 0, 0},
    {"SET_MEM_TABLE padding", 5, V, 40, TB, SHMAP_EPADDING, 4, 1, 1},
    {"ADD_MEM_REG padding", 37, V, 40, TB, SHMAP_EPADDING, 0, 1, 8},
    {"REM_MEM_REG padding", 38, V, 40, TB, SHMAP_EPADDING, 7, 1, 1},
    {"SHMEM_MAP padding", 9, V, 40, TF, SHMAP_EPADDING, 1, 1, 1},
    {"SHMEM_MAP padding byte 7", 9, V, 40, TF, SHMAP_EPADDING, 7, 0xff, 1},
    {"EXTERNAL_MAP padding", 1007, V | 8, 32, TF, SHMAP_EPADDING, 3, 1, 1},
    {"SHMEM_UNMAP fd_offset", 10, V, 40, TF, SHMAP_EPADDING, 8, 0x1000, 8},
    {"SHMEM_MAP unknown flag", 9, V, 40, TF, SHMAP_EFLAGS, 32, 2, 8},
    {"SHMEM_UNMAP flags", 10, V, 40, TF, SHMAP_EFLAGS, 32, 1, 8},
    {"ADD_MEM_REG memory_size 0", 37, V, 40, TB, SHMAP_EEMPTY, 16, 0, 8},
    {"SET_MEM_TABLE memory_size 0", 5, V, 40, TB, SHMAP_EEMPTY, 16, 0, 8},
    {"SHMEM_MAP len 0", 9, V, 40, TF, SHMAP_EEMPTY, 24, 0, 8},
    {"SHMEM_UNMAP len 0", 10, V, 40, TF, SHMAP_EEMPTY, 24, 0, 8},
    {"EXTERNAL_MAP len 0", 1007, V, 32, TF, SHMAP_EEMPTY, 16, 0, 8},
    {"gpa+size overflows", 37, V, 40, TB, SHMAP_EOVERFLOW, 8,
     UINT64_MAX - 0x800, 8},
    {"mmap_offset+size overflows", 37, V, 40, TB, SHMAP_EOVERFLOW, 32,
     UINT64_MAX, 8},
    {"table gpa+size overflows", 5, V, 40, TB, SHMAP_EOVERFLOW, 8, UINT64_MAX,
     8},
    {"fd_offset+len overflows", 9, V, 40, TF, SHMAP_EOVERFLOW, 8,
     UINT64_MAX - 1, 8},
    {"shm_offset+len overflows", 9, V, 40, TF, SHMAP_EOVERFLOW, 16, UINT64_MAX,
     8},
    {"unmap shm_offset+len overflows", 10, V, 40, TF, SHMAP_EOVERFLOW, 16,
     UINT64_MAX, 8},
    {"external shm_offset+len overflows", 1007, V, 32, TF, SHMAP_EOVERFLOW, 8,
     UINT64_MAX, 8},
    {"external ptr+len overflows", 1007, V, 32, TF, SHMAP_EOVERFLOW, 24,
     UINT64_MAX - 10, 8},
    {"table regions overlap", 5, V, 72, TB, SHMAP_EOVERLAP, 8 + 32, 0x100800,
     8},
};
/* clang-format on */

SHMAP_TEST(wire, every_rule_has_its_error) {
  for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
    const struct bad *b = &bads[i];
    uint8_t buf[12 + SHMAP_MSG_MAX_PAYLOAD + 1];
    build_hdr(buf, b->req, b->flags, b->size);
    valid_payload(b->req, buf + 12, b->size);
    if (b->at != NONE) {
      if (b->width == 1)
        buf[12 + b->at] = (uint8_t)b->value;
      else
        le64(buf + 12 + b->at, b->value);
    }
    shmap_wire_msg m;
    int rc = decode(buf, 12 + b->size, b->inbound, &m);
    cr_assert_eq(rc, b->err, "%s: got %s, want %s (%s)", b->what,
                 shmap_err_name(rc), shmap_err_name(b->err),
                 shmap_last_message());
    cr_assert_neq(shmap_last_message()[0], '\0');
  }
}

SHMAP_TEST(wire, payload_length_must_match_header) {
  uint8_t buf[12 + 40];
  build_hdr(buf, 37, V, 40);
  valid_payload(37, buf + 12, 40);
  shmap_wire_header h;
  ASSERT_OK(shmap_wire_header_decode(buf, TB, &h));
  shmap_wire_msg m;
  ASSERT_ERR(shmap_wire_decode(&h, buf + 12, 39, &m), SHMAP_ESIZE);
  ASSERT_ERR(shmap_wire_header_decode(NULL, TB, &h), SHMAP_EINVAL);
  ASSERT_ERR(shmap_wire_header_decode(buf, 0, &h), SHMAP_EINVAL);
}

SHMAP_TEST(wire, encoder_refuses_invalid_messages) {
  uint8_t buf[SHMAP_WIRE_MAX_MESSAGE];
  size_t len;
  shmap_wire_msg m;
  memset(&m, 0, sizeof m);
  m.hdr.request = SHMAP_REQ_ADD_MEM_REG;
  m.hdr.flags = V;
  ASSERT_ERR(shmap_wire_encode(&m, buf, sizeof buf, &len), SHMAP_EEMPTY);
  m.u.region.memory_size = 0x1000;
  ASSERT_ERR(shmap_wire_encode(&m, buf, 20, &len), SHMAP_ESIZE);
  m.hdr.flags = 0;
  ASSERT_ERR(shmap_wire_encode(&m, buf, sizeof buf, &len), SHMAP_EVERSION);
  m.hdr.flags = V;
  m.hdr.request = 77;
  ASSERT_ERR(shmap_wire_encode(&m, buf, sizeof buf, &len), SHMAP_EREQUEST);
  m.hdr.request = SHMAP_REQ_SET_MEM_TABLE;
  m.u.mem_table.num_regions = 9;
  ASSERT_ERR(shmap_wire_encode(&m, buf, sizeof buf, &len), SHMAP_ESIZE);
  m.u.mem_table.num_regions = 0;
  ASSERT_ERR(shmap_wire_encode(&m, buf, sizeof buf, &len), SHMAP_ESIZE);
  m.u.mem_table.num_regions = 2;
  m.u.mem_table.regions[0] = (shmap_wire_region){0x1000, 0x2000, 0, 0};
  m.u.mem_table.regions[1] = (shmap_wire_region){0x2000, 0x1000, 0, 0};
  ASSERT_ERR(shmap_wire_encode(&m, buf, sizeof buf, &len), SHMAP_EOVERLAP);
  m.hdr.request = SHMAP_REQ_REM_MEM_REG;
  m.u.region = (shmap_wire_region){UINT64_MAX - 0xfff, 0x2000, 0, 0};
  ASSERT_ERR(shmap_wire_encode(&m, buf, sizeof buf, &len), SHMAP_EOVERFLOW);
  m.hdr.request = SHMAP_REQ_SHMEM_MAP;
  m.u.mmap = (shmap_wire_mmap){0, 0, 0, 0x1000, 4};
  ASSERT_ERR(shmap_wire_encode(&m, buf, sizeof buf, &len), SHMAP_EFLAGS);
  m.hdr.request = SHMAP_REQ_SHMEM_UNMAP;
  m.u.mmap = (shmap_wire_mmap){0, 0x1000, 0, 0x1000, 0};
  ASSERT_ERR(shmap_wire_encode(&m, buf, sizeof buf, &len), SHMAP_EPADDING);
  m.hdr.request = SHMAP_REQ_EXTERNAL_MAP;
  m.u.external = (shmap_wire_external){0, 0, 0, 0x10000};
  ASSERT_ERR(shmap_wire_encode(&m, buf, sizeof buf, &len), SHMAP_EEMPTY);
  shmap_wire_reply_init(&m, 77, 0);
  ASSERT_ERR(shmap_wire_encode(&m, buf, sizeof buf, &len), SHMAP_EREQUEST);
  m.hdr.flags |= SHMAP_WIRE_NEED_REPLY;
  m.hdr.request = SHMAP_REQ_ADD_MEM_REG;
  ASSERT_ERR(shmap_wire_encode(&m, buf, sizeof buf, &len), SHMAP_EFLAGS);
}

/* A refused message writes nothing: the checks run on the message before
 * any byte is written, by the same rules the decoder applies after reading
 * them (every_rule_has_its_error). */
SHMAP_TEST(wire, refused_encode_leaves_the_buffer) {
  uint8_t buf[SHMAP_WIRE_MAX_MESSAGE], was[sizeof buf];
  memset(buf, 0xa5, sizeof buf);
  memcpy(was, buf, sizeof buf);
  size_t len = 7;
  shmap_wire_msg m;
  memset(&m, 0, sizeof m);
  m.hdr.request = SHMAP_REQ_ADD_MEM_REG;
  m.hdr.flags = V;
  m.u.region = (shmap_wire_region){0x1000, 0, 0, 0};
  ASSERT_ERR(shmap_wire_encode(&m, buf, sizeof buf, &len), SHMAP_EEMPTY);
  cr_assert_eq(memcmp(buf, was, sizeof buf), 0);
  cr_assert_eq(len, 7);
}

SHMAP_TEST(wire, descriptor_counts) {
  shmap_wire_msg m;
  memset(&m, 0, sizeof m);
  m.hdr.flags = V;
  m.hdr.request = SHMAP_REQ_SET_MEM_TABLE;
  m.u.mem_table.num_regions = 3;
  ASSERT_OK(shmap_wire_check_fds(&m, 3));
  ASSERT_ERR(shmap_wire_check_fds(&m, 2), SHMAP_EFDCOUNT);
  ASSERT_ERR(shmap_wire_check_fds(&m, 4), SHMAP_EFDCOUNT);
  m.hdr.request = SHMAP_REQ_ADD_MEM_REG;
  ASSERT_OK(shmap_wire_check_fds(&m, 1));
  ASSERT_ERR(shmap_wire_check_fds(&m, 0), SHMAP_EFDCOUNT);
  ASSERT_ERR(shmap_wire_check_fds(&m, 2), SHMAP_EFDCOUNT);
  m.hdr.request = SHMAP_REQ_REM_MEM_REG;
  ASSERT_OK(shmap_wire_check_fds(&m, 0));
  ASSERT_OK(shmap_wire_check_fds(&m, 1));
  ASSERT_ERR(shmap_wire_check_fds(&m, 2), SHMAP_EFDCOUNT);
  m.hdr.request = SHMAP_REQ_SHMEM_MAP;
  ASSERT_ERR(shmap_wire_check_fds(&m, 0), SHMAP_EFDCOUNT);
  m.hdr.request = SHMAP_REQ_SHMEM_UNMAP;
  ASSERT_ERR(shmap_wire_check_fds(&m, 1), SHMAP_EFDCOUNT);
  m.hdr.request = SHMAP_REQ_EXTERNAL_MAP;
  ASSERT_ERR(shmap_wire_check_fds(&m, 1), SHMAP_EFDCOUNT);
  m.hdr.request = SHMAP_REQ_GET_MAX_MEM_SLOTS;
  ASSERT_ERR(shmap_wire_check_fds(&m, 1), SHMAP_EFDCOUNT);
  shmap_wire_reply_init(&m, SHMAP_REQ_ADD_MEM_REG, 0);
  ASSERT_ERR(shmap_wire_check_fds(&m, 1), SHMAP_EFDCOUNT);
}

SHMAP_TEST(wire, decode_fills_the_member_or_zeroes_the_union) {
  /* Whatever the output held before: a good message sets hdr and its
   * union member whole; a bad one leaves hdr set and the union zero. */
  shmap_wire_msg m;
  memset(&m, 0, sizeof m);
  m.hdr.request = SHMAP_REQ_EXTERNAL_MAP;
  m.hdr.flags = SHMAP_WIRE_VERSION;
  m.u.external = (shmap_wire_external){2, 0x3000, 0x1000, 0x7f0000004000};
  uint8_t buf[SHMAP_WIRE_MAX_MESSAGE];
  size_t len;
  ASSERT_OK(shmap_wire_encode(&m, buf, sizeof buf, &len));
  shmap_wire_msg back;
  memset(&back, 0xa5, sizeof back);
  ASSERT_OK(decode(buf, len, SHMAP_WIRE_TO_FRONTEND, &back));
  cr_assert_eq(back.hdr.request, SHMAP_REQ_EXTERNAL_MAP);
  cr_assert_eq(back.u.external.shmid, 2);
  cr_assert_eq(back.u.external.shm_offset, 0x3000);
  cr_assert_eq(back.u.external.len, 0x1000);
  cr_assert_eq(back.u.external.ptr, 0x7f0000004000);
  le64(buf + 12 + 16, 0); /* len 0 */
  memset(&back, 0xa5, sizeof back);
  ASSERT_ERR(decode(buf, len, SHMAP_WIRE_TO_FRONTEND, &back), SHMAP_EEMPTY);
  cr_assert_eq(back.hdr.request, SHMAP_REQ_EXTERNAL_MAP);
  const uint8_t *u = (const uint8_t *)&back.u;
  for (size_t i = 0; i < sizeof back.u; i++)
    cr_assert_eq(u[i], 0, "union byte %zu", i);
  /* GET_MAX_MEM_SLOTS has no payload; its u64 reads as 0. */
  uint8_t get[12];
  build_hdr(get, SHMAP_REQ_GET_MAX_MEM_SLOTS, SHMAP_WIRE_VERSION, 0);
  memset(&back, 0xa5, sizeof back);
  ASSERT_OK(decode(get, sizeof get, SHMAP_WIRE_TO_BACKEND, &back));
  cr_assert_eq(back.u.u64, 0);
}

/* The two code spaces name the same numbers differently. */
SHMAP_TEST(wire, request_names_in_both_spaces) {
  cr_assert_str_eq(shmap_wire_request_name_in(TB, 1), "GET_FEATURES");
  cr_assert_str_eq(shmap_wire_request_name_in(TF, 1), "IOTLB_MSG");
  cr_assert_str_eq(shmap_wire_request_name_in(TB, 9), "SET_VRING_ADDR");
  cr_assert_str_eq(shmap_wire_request_name_in(TF, 9), "SHMEM_MAP");
  cr_assert_str_eq(shmap_wire_request_name_in(TB, 10), "SET_VRING_BASE");
  cr_assert_str_eq(shmap_wire_request_name_in(TF, 10), "SHMEM_UNMAP");
  cr_assert_str_eq(shmap_wire_request_name_in(TB, 21), "SET_BACKEND_REQ_FD");
  cr_assert_str_eq(shmap_wire_request_name_in(TB, 37), "ADD_MEM_REG");
  cr_assert_str_eq(shmap_wire_request_name_in(TF, 1007), "EXTERNAL_MAP");
  cr_assert_str_eq(shmap_wire_request_name_in(TB, 1007), "UNKNOWN");
  cr_assert_str_eq(shmap_wire_request_name_in(TF, 37), "UNKNOWN");
  cr_assert_str_eq(shmap_wire_request_name_in(TB, 0), "UNKNOWN");
  cr_assert_str_eq(shmap_wire_request_name_in(TB, 4242), "UNKNOWN");
  cr_assert_str_eq(shmap_wire_request_name_in(TB, UINT32_MAX), "UNKNOWN");
  cr_assert_str_eq(shmap_wire_request_name_in(0, 1), "UNKNOWN");
  cr_assert_str_eq(shmap_wire_request_name_in(3, 9), "UNKNOWN");
  /* The decoded codes alone: direction and the space-free name. */
  cr_assert_eq(shmap_wire_direction(SHMAP_REQ_ADD_MEM_REG), TB);
  cr_assert_eq(shmap_wire_direction(SHMAP_REQ_SHMEM_MAP), TF);
  cr_assert_eq(shmap_wire_direction(SHMAP_REQ_GET_FEATURES), 0);
  cr_assert_str_eq(shmap_wire_request_name(SHMAP_REQ_SHMEM_MAP), "SHMEM_MAP");
}

SHMAP_TEST(wire, always_answered) {
  static const uint32_t yes[] = {
      SHMAP_REQ_GET_FEATURES,     SHMAP_REQ_GET_PROTOCOL_FEATURES,
      SHMAP_REQ_GET_VRING_BASE,   SHMAP_REQ_GET_QUEUE_NUM,
      SHMAP_REQ_GET_CONFIG,       SHMAP_REQ_GET_STATUS,
      SHMAP_REQ_GET_MAX_MEM_SLOTS};
  static const uint32_t no[] = {
      SHMAP_REQ_SET_FEATURES,       SHMAP_REQ_SET_OWNER,
      SHMAP_REQ_SET_MEM_TABLE,      SHMAP_REQ_ADD_MEM_REG,
      SHMAP_REQ_REM_MEM_REG,        SHMAP_REQ_SET_VRING_ADDR,
      SHMAP_REQ_SET_VRING_KICK,     SHMAP_REQ_SET_PROTOCOL_FEATURES,
      SHMAP_REQ_SET_BACKEND_REQ_FD, 4242};
  for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
    cr_assert_eq(shmap_wire_always_answered(TB, yes[i]), 1, "%s",
                 shmap_wire_request_name_in(TB, yes[i]));
  for (size_t i = 0; i < sizeof no / sizeof *no; i++)
    cr_assert_eq(shmap_wire_always_answered(TB, no[i]), 0, "%s",
                 shmap_wire_request_name_in(TB, no[i]));
  cr_assert_eq(shmap_wire_always_answered(TF, SHMAP_REQ_EXTERNAL_MAP), 1);
  cr_assert_eq(shmap_wire_always_answered(TF, SHMAP_REQ_SHMEM_MAP), 0);
  cr_assert_eq(shmap_wire_always_answered(TF, SHMAP_REQ_SHMEM_UNMAP), 0);
  /* Code 1 is GET_FEATURES to the back end, IOTLB_MSG to the front end. */
  cr_assert_eq(shmap_wire_always_answered(TF, 1), 0);
  cr_assert_eq(shmap_wire_always_answered(TB, SHMAP_REQ_EXTERNAL_MAP), 0);
  cr_assert_eq(shmap_wire_always_answered(0, 1), 0);
}

/* A foreign request is well framed up to SHMAP_MSG_MAX_PAYLOAD bytes, in
 * either space, with or without NEED_REPLY; its reply too. */
SHMAP_TEST(wire, header_takes_foreign_codes_up_to_4096) {
  static const struct {
    uint32_t req, flags;
    int inbound;
  } ok[] = {{SHMAP_REQ_GET_FEATURES, V, TB},
            {SHMAP_REQ_SET_VRING_ADDR, V | 8, TB},
            {4242, V, TB},
            {1, V, TF},  /* IOTLB_MSG */
            {11, V, TF}, /* not a back-end request code vhost-user has */
            {SHMAP_REQ_GET_FEATURES, V | 4, TF}}; /* its reply */
  for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
    for (uint32_t size = 0; size <= 4097; size += size < 8 ? 8 : 4088 + 1) {
      uint8_t b[12];
      build_hdr(b, ok[i].req, ok[i].flags, size);
      shmap_wire_header h;
      memset(&h, 0xa5, sizeof h);
      int rc = shmap_wire_header_decode(b, ok[i].inbound, &h);
      if (size <= SHMAP_MSG_MAX_PAYLOAD) {
        cr_assert_eq(rc, 0, "code %u size %u: %s", ok[i].req, size,
                     shmap_last_message());
        cr_assert_eq(h.request, ok[i].req);
        cr_assert_eq(h.flags, ok[i].flags);
        cr_assert_eq(h.size, size);
      } else {
        cr_assert_eq(rc, SHMAP_ESIZE, "code %u size %u: got %s", ok[i].req,
                     size, shmap_err_name(rc));
        cr_assert_eq(h.request, 0xa5a5a5a5u, "refused: output untouched");
      }
    }
  }
  /* The bound is exact. */
  uint8_t b[12];
  shmap_wire_header h;
  build_hdr(b, SHMAP_REQ_GET_CONFIG, V, 4096);
  ASSERT_OK(shmap_wire_header_decode(b, TB, &h));
  build_hdr(b, SHMAP_REQ_GET_CONFIG, V, 4097);
  ASSERT_ERR(shmap_wire_header_decode(b, TB, &h), SHMAP_ESIZE);
  build_hdr(b, SHMAP_REQ_GET_CONFIG, V, UINT32_MAX);
  ASSERT_ERR(shmap_wire_header_decode(b, TB, &h), SHMAP_ESIZE);
  /* A foreign header still needs version 1 and known flag bits. */
  build_hdr(b, SHMAP_REQ_GET_FEATURES, 2, 0);
  ASSERT_ERR(shmap_wire_header_decode(b, TB, &h), SHMAP_EVERSION);
  build_hdr(b, SHMAP_REQ_GET_FEATURES, V | 0x20, 0);
  ASSERT_ERR(shmap_wire_header_decode(b, TB, &h), SHMAP_EFLAGS);
  build_hdr(b, SHMAP_REQ_GET_FEATURES, V | 4 | 8, 8);
  ASSERT_ERR(shmap_wire_header_decode(b, TF, &h), SHMAP_EFLAGS);
}

/* The decoder reads a code in the space its receiver gets requests in
 * (shmap_wire_decode_in): a front-end SET_VRING_ADDR (9) whose header passed
 * shmap_wire_header_decode(.., TO_BACKEND, ..) is not decoded as a
 * SHMEM_MAP, and a reply to SET_VRING_ADDR received by a back end (inbound
 * TO_FRONTEND) is not decoded as a SHMEM_MAP reply. */
SHMAP_TEST(wire, decode_knows_the_space) {
  uint8_t buf[12 + 40];
  build_hdr(buf, 9, V, 40);
  valid_payload(SHMAP_REQ_SHMEM_MAP, buf + 12, 40);
  shmap_wire_msg m;
  int rc = decode(buf, sizeof buf, TB, &m);
  cr_assert_eq(rc, SHMAP_EREQUEST,
               "SET_VRING_ADDR to the back end decoded as %s: got %s",
               shmap_wire_request_name(9), shmap_err_name(rc));
  build_hdr(buf, 9, V | 4, 8);
  memset(buf + 12, 0, 8);
  rc = decode(buf, 20, TF, &m);
  cr_assert_eq(rc, SHMAP_EREQUEST,
               "a reply to SET_VRING_ADDR decoded as a SHMEM_MAP reply: got "
               "%s",
               shmap_err_name(rc));
}
