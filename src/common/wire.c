/* shmap — the vhost-user memory-message codec (docs/wire.md).
 *
 * Field by field, little-endian, never a struct cast onto a buffer: the
 * layout is the wire's, not the compiler's. */
#include <inttypes.h>
#include <string.h>

#include "codec.h"
#include "compiler.h"
#include "errors.h"
#include "shmap.h"

#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__)
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "vhost-user speaks host order; shmap supports little-endian "
               "hosts only");
#endif

/* Wire offsets and sizes (docs/wire.md), checked where they combine. */
/* clang-format off: one line per group of fields */
enum {
  HDR_REQUEST = 0,
  HDR_FLAGS = 4,
  HDR_SIZE = 8,
  REG_GPA = 0,
  REG_SIZE = 8,
  REG_UADDR = 16,
  REG_MMAP_OFFSET = 24,
  TABLE_NUM = 0,
  TABLE_PAD = 4,
  TABLE_REGIONS = 8,
  ADD_PAD = 0,
  ADD_REGION = 8,
  ADD_LEN = ADD_REGION + SHMAP_WIRE_REGION_SIZE,
  MMAP_SHMID = 0,
  MMAP_PAD = 1,
  MMAP_FD_OFFSET = 8,
  MMAP_SHM_OFFSET = 16,
  MMAP_LEN = 24,
  MMAP_FLAGS = 32,
  MMAP_SIZE = 40,
  EXT_SHMID = 0,
  EXT_PAD = 1,
  EXT_SHM_OFFSET = 8,
  EXT_LEN = 16,
  EXT_PTR = 24,
  EXT_SIZE = 32,
  REPLY_SIZE = 8
};
/* clang-format on */
_Static_assert(HDR_SIZE + 4 == SHMAP_WIRE_HEADER_SIZE, "header is 12 bytes");
_Static_assert(REG_MMAP_OFFSET + 8 == SHMAP_WIRE_REGION_SIZE, "region is 32");
_Static_assert(ADD_LEN == 40, "ADD_MEM_REG payload is 40 bytes");
_Static_assert(TABLE_REGIONS +
                       SHMAP_WIRE_MAX_REGIONS * SHMAP_WIRE_REGION_SIZE ==
                   SHMAP_WIRE_MAX_PAYLOAD,
               "SET_MEM_TABLE with 8 regions is the largest payload");
_Static_assert(MMAP_FLAGS + 8 == MMAP_SIZE && MMAP_SIZE == 40, "MMap is 40");
_Static_assert(EXT_PTR + 8 == EXT_SIZE && EXT_SIZE == 32, "external is 32");

static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p) {
  return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v) {
  put32(p, (uint32_t)v);
  put32(p + 4, (uint32_t)(v >> 32));
}

static int all_zero(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != 0)
      return 0;
  return 1;
}

/* The message table: one row per request code vhost-user defines, per
 * space (QEMU's docs/interop/vhost-user.rst). `decoded` rows are the
 * memory requests shmap decodes and applies (their size and descriptor
 * rules are below, keyed by code: the decoded codes of the two spaces do
 * not collide); every other row is a foreign request a channel carries
 * whole. `answered`: the receiver replies even without NEED_REPLY. */
typedef struct msg_info {
  const char *name;
  unsigned char decoded;
  unsigned char answered;
} msg_info;

#define ROW(code, name, decoded, answered) [code] = {name, decoded, answered}
/* clang-format off: one row a line */
static const msg_info frontend_space[] = {
    ROW(1, "GET_FEATURES", 0, 1),
    ROW(2, "SET_FEATURES", 0, 0),
    ROW(3, "SET_OWNER", 0, 0),
    ROW(4, "RESET_OWNER", 0, 0),
    ROW(5, "SET_MEM_TABLE", 1, 0),
    ROW(6, "SET_LOG_BASE", 0, 1),
    ROW(7, "SET_LOG_FD", 0, 0),
    ROW(8, "SET_VRING_NUM", 0, 0),
    ROW(9, "SET_VRING_ADDR", 0, 0),
    ROW(10, "SET_VRING_BASE", 0, 0),
    ROW(11, "GET_VRING_BASE", 0, 1),
    ROW(12, "SET_VRING_KICK", 0, 0),
    ROW(13, "SET_VRING_CALL", 0, 0),
    ROW(14, "SET_VRING_ERR", 0, 0),
    ROW(15, "GET_PROTOCOL_FEATURES", 0, 1),
    ROW(16, "SET_PROTOCOL_FEATURES", 0, 0),
    ROW(17, "GET_QUEUE_NUM", 0, 1),
    ROW(18, "SET_VRING_ENABLE", 0, 0),
    ROW(19, "SEND_RARP", 0, 0),
    ROW(20, "NET_SET_MTU", 0, 0),
    ROW(21, "SET_BACKEND_REQ_FD", 0, 0),
    ROW(22, "IOTLB_MSG", 0, 0),
    ROW(23, "SET_VRING_ENDIAN", 0, 0),
    ROW(24, "GET_CONFIG", 0, 1),
    ROW(25, "SET_CONFIG", 0, 0),
    ROW(26, "CREATE_CRYPTO_SESSION", 0, 1),
    ROW(27, "CLOSE_CRYPTO_SESSION", 0, 0),
    ROW(28, "POSTCOPY_ADVISE", 0, 1),
    ROW(29, "POSTCOPY_LISTEN", 0, 0),
    ROW(30, "POSTCOPY_END", 0, 0),
    ROW(31, "GET_INFLIGHT_FD", 0, 1),
    ROW(32, "SET_INFLIGHT_FD", 0, 0),
    ROW(33, "GPU_SET_SOCKET", 0, 0),
    ROW(34, "RESET_DEVICE", 0, 0),
    ROW(35, "VRING_KICK", 0, 0),
    ROW(36, "GET_MAX_MEM_SLOTS", 1, 1),
    ROW(37, "ADD_MEM_REG", 1, 0),
    ROW(38, "REM_MEM_REG", 1, 0),
    ROW(39, "SET_STATUS", 0, 0),
    ROW(40, "GET_STATUS", 0, 1),
    ROW(41, "GET_SHARED_OBJECT", 0, 1),
    ROW(42, "SET_DEVICE_STATE_FD", 0, 1),
    ROW(43, "CHECK_DEVICE_STATE", 0, 1),
    ROW(44, "GET_SHMEM_CONFIG", 0, 1),
};
static const msg_info backend_space[] = {
    ROW(1, "IOTLB_MSG", 0, 0),
    ROW(2, "CONFIG_CHANGE_MSG", 0, 0),
    ROW(3, "VRING_HOST_NOTIFIER_MSG", 0, 0),
    ROW(4, "VRING_CALL", 0, 0),
    ROW(5, "VRING_ERR", 0, 0),
    ROW(6, "SHARED_OBJECT_ADD", 0, 0),
    ROW(7, "SHARED_OBJECT_REMOVE", 0, 0),
    ROW(8, "SHARED_OBJECT_LOOKUP", 0, 0),
    ROW(9, "SHMEM_MAP", 1, 0),
    ROW(10, "SHMEM_UNMAP", 1, 0),
};
/* shmap's own back-end request, far from vhost-user's codes. */
static const msg_info external_map = {"EXTERNAL_MAP", 1, 1};
/* clang-format on */
#undef ROW

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const msg_info *info_of(int space, uint32_t code) {
  const msg_info *r = NULL;
  if (space == SHMAP_WIRE_TO_BACKEND && code < COUNT(frontend_space))
    r = &frontend_space[code];
  else if (space == SHMAP_WIRE_TO_FRONTEND && code < COUNT(backend_space))
    r = &backend_space[code];
  else if (space == SHMAP_WIRE_TO_FRONTEND && code == SHMAP_REQ_EXTERNAL_MAP)
    r = &external_map;
  return r != NULL && r->name != NULL ? r : NULL;
}

int shmap__wire_decoded(int space, uint32_t code) {
  const msg_info *r = info_of(space, code);
  return r != NULL && r->decoded;
}

const char *shmap_wire_request_name_in(int direction, uint32_t request) {
  const msg_info *r = info_of(direction, request);
  return r != NULL ? r->name : "UNKNOWN";
}

int shmap_wire_always_answered(int direction, uint32_t request) {
  const msg_info *r = info_of(direction, request);
  return r != NULL && r->answered;
}

int shmap_wire_direction(uint32_t request) {
  if (shmap__wire_decoded(SHMAP_WIRE_TO_BACKEND, request))
    return SHMAP_WIRE_TO_BACKEND;
  if (shmap__wire_decoded(SHMAP_WIRE_TO_FRONTEND, request))
    return SHMAP_WIRE_TO_FRONTEND;
  return 0;
}

const char *shmap_wire_request_name(uint32_t request) {
  int dir = shmap_wire_direction(request);
  return dir != 0 ? shmap_wire_request_name_in(dir, request) : "UNKNOWN";
}

/* Is `size` a payload size request `code` allows? */
static int size_allowed(uint32_t code, uint32_t size) {
  switch (code) {
  case SHMAP_REQ_SET_MEM_TABLE:
    return size > TABLE_REGIONS && size <= SHMAP_WIRE_MAX_PAYLOAD &&
           (size - TABLE_REGIONS) % SHMAP_WIRE_REGION_SIZE == 0;
  case SHMAP_REQ_GET_MAX_MEM_SLOTS: return size == 0;
  case SHMAP_REQ_ADD_MEM_REG:
  case SHMAP_REQ_REM_MEM_REG: return size == ADD_LEN;
  case SHMAP_REQ_SHMEM_MAP:
  case SHMAP_REQ_SHMEM_UNMAP: return size == MMAP_SIZE;
  default: return size == EXT_SIZE; /* EXTERNAL_MAP */
  }
}

int shmap__wire_header_check(const shmap_wire_header *h, int rx, int tx) {
  if ((h->flags & SHMAP_WIRE_VERSION_MASK) != SHMAP_WIRE_VERSION)
    return shmap__err(SHMAP_EVERSION,
                      "header: request %" PRIu32 " with version %u, not 1",
                      h->request, h->flags & SHMAP_WIRE_VERSION_MASK);
  if (h->flags & ~(uint32_t)(SHMAP_WIRE_VERSION_MASK | SHMAP_WIRE_REPLY |
                             SHMAP_WIRE_NEED_REPLY))
    return shmap__err(SHMAP_EFLAGS,
                      "header: request %" PRIu32
                      " with reserved flag bits 0x%x",
                      h->request, h->flags & ~0xfu);
  if (h->flags & SHMAP_WIRE_REPLY) {
    /* A reply answers a request this receiver sent: its code is in the
     * space this end sends in. */
    if (h->flags != (SHMAP_WIRE_VERSION | SHMAP_WIRE_REPLY))
      return shmap__err(SHMAP_EFLAGS,
                        "header: reply to %s with flags 0x%x, not 0x5",
                        shmap_wire_request_name_in(tx, h->request), h->flags);
    if (shmap__wire_decoded(tx, h->request) ? h->size != REPLY_SIZE
                                            : h->size > SHMAP_MSG_MAX_PAYLOAD)
      return shmap__err(SHMAP_ESIZE,
                        "header: reply to %s with %" PRIu32 " payload bytes",
                        shmap_wire_request_name_in(tx, h->request), h->size);
  } else if (shmap__wire_decoded(rx, h->request)
                 ? !size_allowed(h->request, h->size)
                 : h->size > SHMAP_MSG_MAX_PAYLOAD) {
    return shmap__err(SHMAP_ESIZE, "header: %s with %" PRIu32 " payload bytes",
                      shmap_wire_request_name_in(rx, h->request), h->size);
  }
  return 0;
}

static int other_space(int space) {
  return space == SHMAP_WIRE_TO_BACKEND ? SHMAP_WIRE_TO_FRONTEND
                                        : SHMAP_WIRE_TO_BACKEND;
}

int shmap_wire_header_decode(const uint8_t *buf, int inbound,
                             shmap_wire_header *out) {
  if (buf == NULL || out == NULL ||
      (inbound != SHMAP_WIRE_TO_BACKEND && inbound != SHMAP_WIRE_TO_FRONTEND))
    return shmap__err(SHMAP_EINVAL, "header decode: bad arguments");
  shmap_wire_header h = {get32(buf + HDR_REQUEST), get32(buf + HDR_FLAGS),
                         get32(buf + HDR_SIZE)};
  int rc = shmap__wire_header_check(&h, inbound, other_space(inbound));
  if (rc == 0)
    *out = h;
  return rc;
}

/* Validators take the request code and name it only when they fail: the
 * name lookup is not free and almost every message is valid. */
static int check_span(uint32_t code, const char *a, uint64_t base,
                      uint64_t len) {
  if (base > UINT64_MAX - len)
    return shmap__err(SHMAP_EOVERFLOW,
                      "%s: %s 0x%" PRIx64 " + 0x%" PRIx64 " overflows",
                      shmap_wire_request_name(code), a, base, len);
  return 0;
}

/* The checks of each payload, on its decoded form: the decoder runs them
 * after reading the bytes and the encoder before writing them, so that
 * both apply exactly the same rules. Padding, which the decoded form has
 * no room for, is checked on the bytes by the decoder alone (the encoder
 * writes zeros). */
static int check_region(uint32_t code, const shmap_wire_region *r) {
  if (r->memory_size == 0)
    return shmap__err(SHMAP_EEMPTY,
                      "%s: region at 0x%" PRIx64 " with memory_size 0",
                      shmap_wire_request_name(code), r->guest_phys_addr);
  int rc =
      check_span(code, "guest_phys_addr", r->guest_phys_addr, r->memory_size);
  return rc != 0
             ? rc
             : check_span(code, "mmap_offset", r->mmap_offset, r->memory_size);
}

/* The regions of a table whose count the header's size already checked. */
static int check_table(const shmap_wire_msg *m) {
  const shmap_wire_region *r = m->u.mem_table.regions;
  for (uint32_t i = 0; i < m->u.mem_table.num_regions; i++) {
    int rc = check_region(SHMAP_REQ_SET_MEM_TABLE, &r[i]);
    if (rc != 0)
      return rc;
    for (uint32_t j = 0; j < i; j++)
      if (r[i].guest_phys_addr < r[j].guest_phys_addr + r[j].memory_size &&
          r[j].guest_phys_addr < r[i].guest_phys_addr + r[i].memory_size)
        return shmap__err(SHMAP_EOVERLAP,
                          "SET_MEM_TABLE: regions %" PRIu32 " and %" PRIu32
                          " overlap in guest memory",
                          j, i);
  }
  return 0;
}

static int check_mmap(uint32_t code, const shmap_wire_mmap *m) {
  const char *what =
      code == SHMAP_REQ_SHMEM_UNMAP ? "SHMEM_UNMAP" : "SHMEM_MAP";
  if (code == SHMAP_REQ_SHMEM_UNMAP) {
    if (m->flags != 0)
      return shmap__err(SHMAP_EFLAGS, "%s: flags 0x%" PRIx64 " must be 0", what,
                        m->flags);
    if (m->fd_offset != 0)
      return shmap__err(SHMAP_EPADDING, "%s: fd_offset 0x%" PRIx64 " must be 0",
                        what, m->fd_offset);
  } else if (m->flags & ~(uint64_t)SHMAP_WIRE_MAP_RW) {
    return shmap__err(SHMAP_EFLAGS, "%s: unknown flag bits 0x%" PRIx64, what,
                      m->flags & ~(uint64_t)SHMAP_WIRE_MAP_RW);
  }
  if (m->len == 0)
    return shmap__err(SHMAP_EEMPTY, "%s: len 0", what);
  int rc = check_span(code, "fd_offset", m->fd_offset, m->len);
  return rc != 0 ? rc : check_span(code, "shm_offset", m->shm_offset, m->len);
}

static int check_external(const shmap_wire_external *e) {
  if (e->len == 0)
    return shmap__err(SHMAP_EEMPTY, "EXTERNAL_MAP: len 0");
  int rc =
      check_span(SHMAP_REQ_EXTERNAL_MAP, "shm_offset", e->shm_offset, e->len);
  return rc != 0 ? rc
                 : check_span(SHMAP_REQ_EXTERNAL_MAP, "ptr", e->ptr, e->len);
}

/* The payload checks of a request whose header passed. */
static int check_payload(const shmap_wire_msg *m) {
  switch (m->hdr.request) {
  case SHMAP_REQ_SET_MEM_TABLE: return check_table(m);
  case SHMAP_REQ_ADD_MEM_REG:
  case SHMAP_REQ_REM_MEM_REG: return check_region(m->hdr.request, &m->u.region);
  case SHMAP_REQ_SHMEM_MAP:
  case SHMAP_REQ_SHMEM_UNMAP: return check_mmap(m->hdr.request, &m->u.mmap);
  case SHMAP_REQ_EXTERNAL_MAP: return check_external(&m->u.external);
  default: return 0; /* GET_MAX_MEM_SLOTS */
  }
}

static void read_region(const uint8_t *p, shmap_wire_region *r) {
  r->guest_phys_addr = get64(p + REG_GPA);
  r->memory_size = get64(p + REG_SIZE);
  r->userspace_addr = get64(p + REG_UADDR);
  r->mmap_offset = get64(p + REG_MMAP_OFFSET);
}

/* Read the payload of request h->request (its size checked) into the union
 * member it uses, all of it, checking what only the bytes show. */
static int read_payload(const shmap_wire_header *h, const uint8_t *p,
                        size_t len, shmap_wire_msg *out) {
  switch (h->request) {
  case SHMAP_REQ_SET_MEM_TABLE: {
    uint32_t n = get32(p + TABLE_NUM);
    if (get32(p + TABLE_PAD) != 0)
      return shmap__err(SHMAP_EPADDING, "SET_MEM_TABLE: non-zero padding");
    if (n < 1 || n > SHMAP_WIRE_MAX_REGIONS ||
        len != TABLE_REGIONS + (size_t)n * SHMAP_WIRE_REGION_SIZE)
      return shmap__err(SHMAP_ESIZE,
                        "SET_MEM_TABLE: %" PRIu32 " regions in %zu bytes", n,
                        len);
    memset(&out->u.mem_table, 0, sizeof out->u.mem_table);
    out->u.mem_table.num_regions = n;
    for (uint32_t i = 0; i < n; i++)
      read_region(p + TABLE_REGIONS + (size_t)i * SHMAP_WIRE_REGION_SIZE,
                  &out->u.mem_table.regions[i]);
    return 0;
  }
  case SHMAP_REQ_GET_MAX_MEM_SLOTS: out->u.u64 = 0; return 0;
  case SHMAP_REQ_ADD_MEM_REG:
  case SHMAP_REQ_REM_MEM_REG:
    if (get64(p + ADD_PAD) != 0)
      return shmap__err(SHMAP_EPADDING, "%s: non-zero padding",
                        shmap_wire_request_name(h->request));
    read_region(p + ADD_REGION, &out->u.region);
    return 0;
  case SHMAP_REQ_SHMEM_MAP:
  case SHMAP_REQ_SHMEM_UNMAP:
    if (!all_zero(p + MMAP_PAD, MMAP_FD_OFFSET - MMAP_PAD))
      return shmap__err(SHMAP_EPADDING, "%s: non-zero padding",
                        shmap_wire_request_name(h->request));
    out->u.mmap.shmid = p[MMAP_SHMID];
    out->u.mmap.fd_offset = get64(p + MMAP_FD_OFFSET);
    out->u.mmap.shm_offset = get64(p + MMAP_SHM_OFFSET);
    out->u.mmap.len = get64(p + MMAP_LEN);
    out->u.mmap.flags = get64(p + MMAP_FLAGS);
    return 0;
  default: /* EXTERNAL_MAP */
    if (!all_zero(p + EXT_PAD, EXT_SHM_OFFSET - EXT_PAD))
      return shmap__err(SHMAP_EPADDING, "EXTERNAL_MAP: non-zero padding");
    out->u.external.shmid = p[EXT_SHMID];
    out->u.external.shm_offset = get64(p + EXT_SHM_OFFSET);
    out->u.external.len = get64(p + EXT_LEN);
    out->u.external.ptr = get64(p + EXT_PTR);
    return 0;
  }
}

/* Fill the union member `h` names, all of it (so a message decodes the
 * same into any memory, without clearing the whole union first: that was
 * the largest single cost of a decode). */
static int decode_payload(int space, const shmap_wire_header *h,
                          const uint8_t *payload, size_t len,
                          shmap_wire_msg *out) {
  if (!shmap__wire_decoded(space, h->request))
    return shmap__err(
        SHMAP_EREQUEST,
        "decode: %s (request %" PRIu32 ") is not one shmap decodes",
        shmap_wire_request_name_in(space, h->request), h->request);
  if (h->flags & SHMAP_WIRE_REPLY) {
    if (len != REPLY_SIZE)
      return shmap__err(SHMAP_ESIZE, "reply to %s: %zu bytes",
                        shmap_wire_request_name(h->request), len);
    out->u.u64 = get64(payload);
    return 0;
  }
  if (!size_allowed(h->request, h->size))
    return shmap__err(SHMAP_ESIZE, "decode: %s with %zu payload bytes",
                      shmap_wire_request_name(h->request), len);
  int rc = read_payload(h, payload, len, out);
  return rc != 0 ? rc : check_payload(out);
}

SHMAP__NOINLINE int shmap__wire_decode_in(int space, const shmap_wire_header *h,
                                          const uint8_t *payload, size_t len,
                                          shmap_wire_msg *out) {
  if (h == NULL || out == NULL || (len > 0 && payload == NULL))
    return shmap__err(SHMAP_EINVAL, "decode: NULL argument");
  if (len != h->size)
    return shmap__err(SHMAP_ESIZE,
                      "decode: %zu payload bytes, header says %" PRIu32, len,
                      h->size);
  out->hdr = *h;
  memset(out->reserved, 0, sizeof out->reserved);
  int rc = decode_payload(space, h, payload, len, out);
  if (rc != 0)
    memset(&out->u, 0, sizeof out->u); /* nothing half-decoded is left */
  return rc;
}

int shmap_wire_decode_in(int inbound, const shmap_wire_header *h,
                         const uint8_t *payload, size_t len,
                         shmap_wire_msg *out) {
  if (inbound != SHMAP_WIRE_TO_BACKEND && inbound != SHMAP_WIRE_TO_FRONTEND)
    return shmap__err(SHMAP_EINVAL, "decode: bad direction %d", inbound);
  int space = h != NULL && (h->flags & SHMAP_WIRE_REPLY) ? other_space(inbound)
                                                         : inbound;
  return shmap__wire_decode_in(space, h, payload, len, out);
}

int shmap_wire_decode(const shmap_wire_header *h, const uint8_t *payload,
                      size_t len, shmap_wire_msg *out) {
  /* The decoded codes of the two spaces do not collide: the code names its
   * space here. */
  return shmap__wire_decode_in(h != NULL ? shmap_wire_direction(h->request) : 0,
                               h, payload, len, out);
}

static void encode_region(uint8_t *p, const shmap_wire_region *r) {
  put64(p + REG_GPA, r->guest_phys_addr);
  put64(p + REG_SIZE, r->memory_size);
  put64(p + REG_UADDR, r->userspace_addr);
  put64(p + REG_MMAP_OFFSET, r->mmap_offset);
}

/* Payload bytes for `m`, or 0 with an error for a message that cannot be
 * encoded at all. */
static uint32_t payload_size(const shmap_wire_msg *m) {
  if (m->hdr.flags & SHMAP_WIRE_REPLY)
    return REPLY_SIZE;
  switch (m->hdr.request) {
  case SHMAP_REQ_SET_MEM_TABLE: {
    uint32_t n = m->u.mem_table.num_regions;
    return n > SHMAP_WIRE_MAX_REGIONS
               ? UINT32_MAX
               : TABLE_REGIONS + n * SHMAP_WIRE_REGION_SIZE;
  }
  case SHMAP_REQ_GET_MAX_MEM_SLOTS: return 0;
  case SHMAP_REQ_ADD_MEM_REG:
  case SHMAP_REQ_REM_MEM_REG: return ADD_LEN;
  case SHMAP_REQ_SHMEM_MAP:
  case SHMAP_REQ_SHMEM_UNMAP: return MMAP_SIZE;
  case SHMAP_REQ_EXTERNAL_MAP: return EXT_SIZE;
  default: return UINT32_MAX;
  }
}

SHMAP__NOINLINE int shmap__wire_encode_in(int space, const shmap_wire_msg *msg,
                                          uint8_t *buf, size_t cap,
                                          size_t *out_len) {
  if (msg == NULL || buf == NULL || out_len == NULL)
    return shmap__err(SHMAP_EINVAL, "encode: NULL argument");
  for (size_t i = 0; i < sizeof msg->reserved / sizeof msg->reserved[0]; i++)
    if (msg->reserved[i] != 0)
      return shmap__err(SHMAP_EINVAL,
                        "encode: reserved[%zu] of the message is not zero", i);
  if (!shmap__wire_decoded(space, msg->hdr.request))
    return shmap__err(SHMAP_EREQUEST,
                      "encode: %s (request %" PRIu32
                      ") is not one shmap encodes (send it whole: "
                      "shmap_channel_send_msg())",
                      shmap_wire_request_name_in(space, msg->hdr.request),
                      msg->hdr.request);
  uint32_t size = payload_size(msg);
  if (size == UINT32_MAX)
    return shmap__err(
        SHMAP_ESIZE, "encode: cannot encode %s (request %" PRIu32 ")",
        shmap_wire_request_name(msg->hdr.request), msg->hdr.request);
  if (cap < SHMAP_WIRE_HEADER_SIZE + (size_t)size)
    return shmap__err(SHMAP_ESIZE, "encode: %s needs %u bytes, buffer has %zu",
                      shmap_wire_request_name(msg->hdr.request),
                      SHMAP_WIRE_HEADER_SIZE + size, cap);
  /* The receiver's rules, on the message itself: nothing invalid leaves.
   * A request is checked as its receiver does (space received in), a reply
   * as the requester does (space sent in): the same space either way. */
  shmap_wire_header h = {msg->hdr.request, msg->hdr.flags, size};
  int rc = shmap__wire_header_check(&h, space, space);
  if (rc == 0 && !(msg->hdr.flags & SHMAP_WIRE_REPLY))
    rc = check_payload(msg);
  if (rc != 0)
    return rc;
  memset(buf, 0, SHMAP_WIRE_HEADER_SIZE + (size_t)size);
  put32(buf + HDR_REQUEST, msg->hdr.request);
  put32(buf + HDR_FLAGS, msg->hdr.flags);
  put32(buf + HDR_SIZE, size);
  uint8_t *p = buf + SHMAP_WIRE_HEADER_SIZE;
  if (msg->hdr.flags & SHMAP_WIRE_REPLY) {
    put64(p, msg->u.u64);
  } else {
    switch (msg->hdr.request) {
    case SHMAP_REQ_SET_MEM_TABLE:
      put32(p + TABLE_NUM, msg->u.mem_table.num_regions);
      for (uint32_t i = 0; i < msg->u.mem_table.num_regions; i++)
        encode_region(p + TABLE_REGIONS + (size_t)i * SHMAP_WIRE_REGION_SIZE,
                      &msg->u.mem_table.regions[i]);
      break;
    case SHMAP_REQ_ADD_MEM_REG:
    case SHMAP_REQ_REM_MEM_REG:
      encode_region(p + ADD_REGION, &msg->u.region);
      break;
    case SHMAP_REQ_SHMEM_MAP:
    case SHMAP_REQ_SHMEM_UNMAP:
      p[MMAP_SHMID] = msg->u.mmap.shmid;
      put64(p + MMAP_FD_OFFSET, msg->u.mmap.fd_offset);
      put64(p + MMAP_SHM_OFFSET, msg->u.mmap.shm_offset);
      put64(p + MMAP_LEN, msg->u.mmap.len);
      put64(p + MMAP_FLAGS, msg->u.mmap.flags);
      break;
    case SHMAP_REQ_EXTERNAL_MAP:
      p[EXT_SHMID] = msg->u.external.shmid;
      put64(p + EXT_SHM_OFFSET, msg->u.external.shm_offset);
      put64(p + EXT_LEN, msg->u.external.len);
      put64(p + EXT_PTR, msg->u.external.ptr);
      break;
    default: break; /* GET_MAX_MEM_SLOTS: no payload */
    }
  }
  *out_len = SHMAP_WIRE_HEADER_SIZE + (size_t)size;
  return 0;
}

int shmap_wire_encode(const shmap_wire_msg *msg, uint8_t *buf, size_t cap,
                      size_t *out_len) {
  return shmap__wire_encode_in(
      msg != NULL ? shmap_wire_direction(msg->hdr.request) : 0, msg, buf, cap,
      out_len);
}

void shmap__wire_frame(uint8_t *buf, uint32_t request, uint32_t flags,
                       const void *payload, uint32_t size) {
  put32(buf + HDR_REQUEST, request);
  put32(buf + HDR_FLAGS, flags);
  put32(buf + HDR_SIZE, size);
  if (size > 0)
    memcpy(buf + SHMAP_WIRE_HEADER_SIZE, payload, size);
}

void shmap_wire_fd_range(const shmap_wire_msg *msg, size_t *min, size_t *max) {
  size_t lo = 0, hi = 0;
  if (msg != NULL && !(msg->hdr.flags & SHMAP_WIRE_REPLY)) {
    switch (msg->hdr.request) {
    case SHMAP_REQ_SET_MEM_TABLE: lo = hi = msg->u.mem_table.num_regions; break;
    case SHMAP_REQ_ADD_MEM_REG:
    case SHMAP_REQ_SHMEM_MAP: lo = hi = 1; break;
    case SHMAP_REQ_REM_MEM_REG:
      hi = 1; /* some front ends attach the region's fd: closed, ignored */
      break;
    default: break;
    }
  }
  *min = lo;
  *max = hi;
}

int shmap_wire_check_fds(const shmap_wire_msg *msg, size_t nfds) {
  if (msg == NULL)
    return shmap__err(SHMAP_EINVAL, "check fds: NULL message");
  size_t lo, hi;
  shmap_wire_fd_range(msg, &lo, &hi);
  if (nfds < lo || nfds > hi)
    return shmap__err(SHMAP_EFDCOUNT,
                      "%s%s carries %zu descriptors, needs %zu%s",
                      shmap_wire_request_name(msg->hdr.request),
                      msg->hdr.flags & SHMAP_WIRE_REPLY ? " reply" : "", nfds,
                      lo, hi > lo ? " or 1" : "");
  return 0;
}

uint64_t shmap_wire_reply_value(int err) {
  return err == 0 ? 0 : (uint64_t)(int64_t)(err < 0 ? err : -err);
}

int shmap_wire_reply_result(uint64_t value) {
  if (value == 0)
    return 0;
  int64_t v = (int64_t)value;
  /* Known shmap codes come back as themselves; anything else (QEMU's 1, an
   * errno from another peer) is a plain failure. */
  if (v < 0 && v >= -1000 && strcmp(shmap_err_name((int)v), "SHMAP_E?") != 0)
    return (int)v;
  return SHMAP_EREPLY;
}

void shmap__wire_reply_bytes(uint8_t *buf, uint32_t request, uint64_t value) {
  /* Any request may be answered (foreign ones included): nothing to check. */
  put32(buf + HDR_REQUEST, request);
  put32(buf + HDR_FLAGS, SHMAP_WIRE_VERSION | SHMAP_WIRE_REPLY);
  put32(buf + HDR_SIZE, REPLY_SIZE);
  put64(buf + SHMAP_WIRE_HEADER_SIZE, value);
}

void shmap_wire_reply_init(shmap_wire_msg *msg, uint32_t request,
                           uint64_t value) {
  memset(msg, 0, sizeof *msg);
  msg->hdr.request = request;
  msg->hdr.flags = SHMAP_WIRE_VERSION | SHMAP_WIRE_REPLY;
  msg->hdr.size = REPLY_SIZE;
  msg->u.u64 = value;
}
