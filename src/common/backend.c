/* shmap — the back-end endpoint: applies guest memory regions received from
 * the front end to a guest-memory window, and asks the front end to map
 * buffers into its shared-memory windows. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* What GET_MAX_MEM_SLOTS answers: how many regions one back end holds. */
#define MAX_SLOTS 256

typedef struct slot {
  uint64_t gpa;
  uint64_t size;
  uint64_t mmap_offset;
  uint64_t uaddr;    /* the front end's userspace_addr of the region */
  shmap_mappable *m; /* our own reference, kept for SET_MEM_TABLE rollback */
} slot;

struct shmap_backend {
  shmap_window *guest;
  uint64_t max_bytes;
  uint64_t mapped_bytes;
  /* The handshake, when the back end answers it itself. */
  int handshake;
  uint64_t device_features;
  uint64_t protocol_features;
  uint64_t acked_features;
  shmap_channel *req; /* from SET_BACKEND_REQ_FD; owned */
  shmap_foreign_fn foreign;
  void *foreign_ctx;
  size_t n;
  slot slots[MAX_SLOTS];
  int allow_unsealed; /* seal_policy: 1 accept unsealed, -1 refuse, 0 the
                         build's default */
};

int shmap_backend_create(shmap_window *guest, const shmap_backend_options *opts,
                         shmap_backend **out) {
  if (guest == NULL || out == NULL)
    return shmap__err(SHMAP_EINVAL, "backend create: NULL argument");
  shmap_backend_options o = {.size = sizeof o};
  int allow_unsealed;
  int rc = shmap__options_read(opts, &o, sizeof o, "backend create");
  if (rc == 0)
    rc = shmap__seal_policy(o.seal_policy, "backend create", &allow_unsealed);
  if (rc != 0)
    return rc;
  shmap_backend *be = calloc(1, sizeof *be);
  if (be == NULL)
    return shmap__err(SHMAP_ENOMEM, "backend create: out of memory");
  be->guest = guest;
  be->max_bytes = o.max_bytes;
  be->allow_unsealed = allow_unsealed;
  *out = be;
  return 0;
}

/* Forget slot i (its mapping already gone, or left to the window). */
static void forget_slot(shmap_backend *be, size_t i) {
  be->mapped_bytes -= be->slots[i].size;
  shmap_mappable_unref(be->slots[i].m);
  be->slots[i] = be->slots[--be->n];
}

/* Unmap slot i and forget it; when the unmap fails the region stays mapped
 * and the slot stays, so the failure is reported, never acknowledged. */
static int drop_slot(shmap_backend *be, size_t i) {
  int rc = shmap_window_unmap(be->guest, be->slots[i].gpa, be->slots[i].size);
  if (rc == 0)
    forget_slot(be, i);
  return rc;
}

void shmap_backend_destroy(shmap_backend *be) {
  if (be == NULL)
    return;
  /* A region whose unmap fails stays in the window (which holds its own
   * reference) until the window is released. */
  while (be->n > 0) {
    (void)shmap_window_unmap(be->guest, be->slots[be->n - 1].gpa,
                             be->slots[be->n - 1].size);
    forget_slot(be, be->n - 1);
  }
  shmap_channel_close(be->req);
  free(be);
}

void *shmap_backend_translate_uaddr(const shmap_backend *be, uint64_t uaddr,
                                    uint64_t len) {
  if (be == NULL)
    return NULL;
  uint64_t gpa, room;
  if (!shmap__backend_uaddr(be, uaddr, &gpa, &room) || len > room)
    return NULL;
  return shmap_window_translate(be->guest, gpa, len);
}

shmap_window *shmap__backend_guest(const shmap_backend *be) {
  return be->guest;
}

int shmap__backend_uaddr(const shmap_backend *be, uint64_t uaddr, uint64_t *gpa,
                         uint64_t *room) {
  for (size_t i = 0; i < be->n; i++) {
    const slot *s = &be->slots[i];
    if (uaddr >= s->uaddr && uaddr - s->uaddr < s->size) {
      *gpa = s->gpa + (uaddr - s->uaddr);
      *room = s->size - (uaddr - s->uaddr);
      return 1;
    }
  }
  return 0;
}

void shmap_backend_answer_handshake(shmap_backend *be, uint64_t device_features,
                                    uint64_t protocol_features) {
  if (be == NULL)
    return;
  be->handshake = 1;
  be->device_features = device_features | SHMAP_VHOST_F_PROTOCOL_FEATURES;
  be->protocol_features = protocol_features;
}

uint64_t shmap_backend_features(const shmap_backend *be) {
  return be != NULL ? be->acked_features : 0;
}

shmap_channel *shmap_backend_request_channel(const shmap_backend *be) {
  return be != NULL ? be->req : NULL;
}

void shmap_backend_on_foreign(shmap_backend *be, shmap_foreign_fn fn,
                              void *ctx) {
  if (be == NULL)
    return;
  be->foreign = fn;
  be->foreign_ctx = ctx;
}

size_t shmap_backend_count(const shmap_backend *be) {
  return be != NULL ? be->n : 0;
}

/* Map one region whose mappable is already adopted; on success the slot
 * owns `m`'s reference. */
static int add_slot(shmap_backend *be, const shmap_wire_region *r,
                    shmap_mappable *m) {
  if (be->n == MAX_SLOTS)
    return shmap__err(SHMAP_ELIMIT, "backend: all %d region slots in use",
                      MAX_SLOTS);
  if (be->max_bytes != 0 && r->memory_size > be->max_bytes - be->mapped_bytes)
    return shmap__err(SHMAP_ELIMIT,
                      "backend: region of 0x%" PRIx64 " bytes exceeds the "
                      "cap of 0x%" PRIx64 " (0x%" PRIx64 " mapped)",
                      r->memory_size, be->max_bytes, be->mapped_bytes);
  /* A back end writes guest memory (virtqueues, buffers): read-write. */
  int rc = shmap_window_map(be->guest, r->guest_phys_addr, m, r->mmap_offset,
                            r->memory_size, SHMAP_PROT_RW);
  if (rc != 0)
    return rc;
  be->slots[be->n++] = (slot){r->guest_phys_addr, r->memory_size,
                              r->mmap_offset, r->userspace_addr, m};
  be->mapped_bytes += r->memory_size;
  return 0;
}

/* Adopt every received descriptor, all or none. */
static int adopt_all(shmap_native_t *fds, size_t nfds, shmap_mappable **ms,
                     int allow_unsealed) {
  for (size_t i = 0; i < nfds; i++) {
    int rc = shmap__mappable_adopt_peer(fds[i], allow_unsealed, &ms[i]);
    if (rc != 0) {
      for (size_t j = 0; j < i; j++)
        shmap_mappable_unref(ms[j]);
      for (size_t j = i; j < nfds; j++)
        shmap_native_close(fds[j]);
      return rc;
    }
  }
  return 0;
}

static int add_region(shmap_backend *be, const shmap_wire_region *r,
                      shmap_native_t *fds, size_t nfds) {
  shmap_mappable *m = NULL;
  int rc = adopt_all(fds, nfds, &m, be->allow_unsealed);
  if (rc != 0)
    return rc;
  rc = add_slot(be, r, m);
  if (rc != 0)
    shmap_mappable_unref(m);
  return rc;
}

static int remove_region(shmap_backend *be, const shmap_wire_region *r) {
  for (size_t i = 0; i < be->n; i++) {
    if (be->slots[i].gpa != r->guest_phys_addr)
      continue;
    /* Matched on the guest address; the front end's address must agree too
     * (libvhost-user compares it as well), else it names another region. */
    if (be->slots[i].uaddr != r->userspace_addr)
      return shmap__err(SHMAP_ENOENT,
                        "REM_MEM_REG: region at 0x%" PRIx64
                        " has userspace_addr 0x%" PRIx64 ", not 0x%" PRIx64,
                        r->guest_phys_addr, be->slots[i].uaddr,
                        r->userspace_addr);
    if (be->slots[i].size != r->memory_size)
      return shmap__err(SHMAP_EPARTIAL,
                        "REM_MEM_REG: region at 0x%" PRIx64
                        " has size 0x%" PRIx64 ", not 0x%" PRIx64,
                        r->guest_phys_addr, be->slots[i].size, r->memory_size);
    return drop_slot(be, i);
  }
  return shmap__err(SHMAP_ENOENT, "REM_MEM_REG: no region at 0x%" PRIx64,
                    r->guest_phys_addr);
}

static int ranges_meet(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen) {
  return a < b + blen && b < a + alen;
}

/* Everything that could refuse a new table, asked before anything is
 * touched: each region inside the window, aligned, backed (the size asked
 * of the OS now) and writable; no two overlapping; within the cap; and
 * meeting no mapping of the window but old regions. */
struct table_check {
  shmap_backend *be;
  const shmap_wire_region *r;
  size_t n;
  int rc;
};

static int check_foreign(const shmap_mapping_info *info, void *arg) {
  struct table_check *c = arg;
  for (size_t j = 0; j < c->be->n; j++)
    if (c->be->slots[j].gpa == info->offset &&
        c->be->slots[j].size == info->len)
      return 0; /* an old region: the new table replaces it */
  for (size_t i = 0; i < c->n; i++)
    if (ranges_meet(c->r[i].guest_phys_addr, c->r[i].memory_size, info->offset,
                    info->len))
      return c->rc =
                 shmap__err(SHMAP_EOVERLAP,
                            "SET_MEM_TABLE: region 0x%" PRIx64 "+0x%" PRIx64
                            " overlaps a mapping that is not the back end's",
                            c->r[i].guest_phys_addr, c->r[i].memory_size);
  return 0;
}

static int check_table(shmap_backend *be, const shmap_wire_region *r,
                       shmap_mappable *const *ms, size_t n) {
  uint64_t gran = shmap__os_granularity(), total = 0;
  for (size_t i = 0; i < n; i++) {
    int rc = shmap__check_range("SET_MEM_TABLE", r[i].guest_phys_addr,
                                r[i].memory_size, shmap_window_size(be->guest),
                                gran);
    if (rc != 0)
      return rc;
    if (r[i].mmap_offset & (gran - 1))
      return shmap__err(SHMAP_EALIGN,
                        "SET_MEM_TABLE: mmap_offset 0x%" PRIx64
                        " not aligned to 0x%" PRIx64,
                        r[i].mmap_offset, gran);
    if ((rc = shmap_mappable_check_range(ms[i], r[i].mmap_offset,
                                         r[i].memory_size)) != 0)
      return rc;
    if (!(shmap_mappable_access(ms[i]) & SHMAP_PROT_WRITE))
      return shmap__err(SHMAP_EACCES,
                        "SET_MEM_TABLE: region at 0x%" PRIx64
                        " comes with a read-only descriptor",
                        r[i].guest_phys_addr);
    for (size_t j = 0; j < i; j++)
      if (ranges_meet(r[i].guest_phys_addr, r[i].memory_size,
                      r[j].guest_phys_addr, r[j].memory_size))
        return shmap__err(SHMAP_EOVERLAP,
                          "SET_MEM_TABLE: regions at 0x%" PRIx64
                          " and 0x%" PRIx64 " overlap",
                          r[j].guest_phys_addr, r[i].guest_phys_addr);
    total += r[i].memory_size; /* n <= 8 sizes checked above: no wrap */
  }
  if (n > MAX_SLOTS)
    return shmap__err(SHMAP_ELIMIT, "backend: all %d region slots in use",
                      MAX_SLOTS);
  if (be->max_bytes != 0 && total > be->max_bytes)
    return shmap__err(SHMAP_ELIMIT,
                      "SET_MEM_TABLE: 0x%" PRIx64 " bytes exceed the cap of "
                      "0x%" PRIx64,
                      total, be->max_bytes);
  struct table_check c = {be, r, n, 0};
  (void)shmap_window_foreach(be->guest, check_foreign, &c);
  return c.rc;
}

/* Replace the whole table. Everything that could refuse it is checked
 * first (check_table), so a refused table never touches the live one. Then:
 * old regions the new table drops are unmapped; a new region with exactly
 * an old one's guest range replaces it in one step (readers of the window
 * never see it missing, shmap__window_replace); the others are mapped. If
 * the OS fails a step, what was done is undone in reverse; an old region
 * that cannot be mapped again is forgotten (it is not mapped) and the
 * message says so. */
SHMAP__NOINLINE static int set_table(shmap_backend *be,
                                     const shmap_wire_msg *msg,
                                     shmap_native_t *fds, size_t nfds) {
  shmap_mappable *ms[SHMAP_WIRE_MAX_REGIONS];
  const shmap_wire_region *r = msg->u.mem_table.regions;
  int rc = adopt_all(fds, nfds, ms, be->allow_unsealed);
  if (rc != 0)
    return rc;
  if ((rc = check_table(be, r, ms, nfds)) != 0) {
    for (size_t i = 0; i < nfds; i++)
      shmap_mappable_unref(ms[i]);
    return rc;
  }
  size_t old_n = be->n;
  int same[SHMAP_WIRE_MAX_REGIONS]; /* old slot with the same range, or -1 */
  unsigned char kept[MAX_SLOTS], gone[MAX_SLOTS]; /* gone: 1 unmapped, 2 lost */
  memset(kept, 0, sizeof kept);
  memset(gone, 0, sizeof gone);
  for (size_t i = 0; i < nfds; i++) {
    same[i] = -1;
    for (size_t j = 0; j < old_n; j++)
      if (be->slots[j].gpa == r[i].guest_phys_addr &&
          be->slots[j].size == r[i].memory_size) {
        same[i] = (int)j;
        kept[j] = 1;
      }
  }
  size_t done = 0;
  /* 1: unmap the old regions that go. */
  for (size_t j = 0; j < old_n && rc == 0; j++)
    if (!kept[j] && (rc = shmap_window_unmap(be->guest, be->slots[j].gpa,
                                             be->slots[j].size)) == 0)
      gone[j] = 1;
  /* 2: map or replace the new ones. */
  for (; done < nfds && rc == 0; done++) {
    rc = same[done] >= 0
             ? shmap__window_replace(be->guest, r[done].guest_phys_addr,
                                     r[done].memory_size, ms[done],
                                     r[done].mmap_offset, SHMAP_PROT_RW)
             : shmap_window_map(be->guest, r[done].guest_phys_addr, ms[done],
                                r[done].mmap_offset, r[done].memory_size,
                                SHMAP_PROT_RW);
    if (rc != 0)
      break;
  }
  if (rc == 0) {
    for (size_t j = 0; j < old_n; j++)
      shmap_mappable_unref(be->slots[j].m);
    be->n = 0;
    be->mapped_bytes = 0;
    for (size_t i = 0; i < nfds; i++) {
      be->slots[be->n++] = (slot){r[i].guest_phys_addr, r[i].memory_size,
                                  r[i].mmap_offset, r[i].userspace_addr, ms[i]};
      be->mapped_bytes += r[i].memory_size;
    }
    return 0;
  }
  /* Undo, newest first. */
  int saved = rc;
  char why[256];
  snprintf(why, sizeof why, "%s", shmap_last_message());
  int lost = 0;
  while (done-- > 0) {
    const slot *o = same[done] >= 0 ? &be->slots[same[done]] : NULL;
    int u = o != NULL ? shmap__window_replace(be->guest, o->gpa, o->size, o->m,
                                              o->mmap_offset, SHMAP_PROT_RW)
                      : shmap_window_unmap(be->guest, r[done].guest_phys_addr,
                                           r[done].memory_size);
    if (u != 0 && o != NULL) /* the old one could not come back */
      gone[same[done]] = 2;
  }
  for (size_t j = 0; j < old_n; j++)
    if (gone[j] == 1 &&
        shmap_window_map(be->guest, be->slots[j].gpa, be->slots[j].m,
                         be->slots[j].mmap_offset, be->slots[j].size,
                         SHMAP_PROT_RW) != 0)
      gone[j] = 2;
  for (size_t j = old_n; j-- > 0;)
    if (gone[j] == 2) {
      (void)shmap_window_unmap(be->guest, be->slots[j].gpa, be->slots[j].size);
      forget_slot(be, j);
      lost++;
    }
  for (size_t i = 0; i < nfds; i++)
    shmap_mappable_unref(ms[i]);
  if (lost)
    return shmap__err(saved,
                      "SET_MEM_TABLE: %s; %d old region(s) could not be "
                      "mapped again and are gone",
                      why, lost);
  return shmap__err(saved, "SET_MEM_TABLE: %s", why);
}

static void close_all(shmap_native_t *fds, size_t nfds) {
  for (size_t i = 0; i < nfds; i++)
    shmap_native_close(fds[i]);
}

/* The handshake requests, when the back end answers them itself. */
static int apply_handshake(shmap_backend *be, shmap_channel *ch, shmap_msg *raw,
                           shmap_native_t *fds, size_t nfds,
                           shmap__outcome *out) {
  uint32_t code = raw->hdr.request;
  uint64_t v = 0;
  int rc = 0;
  switch (code) {
  case SHMAP_REQ_GET_FEATURES: out->value = be->device_features; break;
  case SHMAP_REQ_GET_PROTOCOL_FEATURES:
    out->value = be->protocol_features;
    break;
  case SHMAP_REQ_SET_FEATURES:
    if ((rc = shmap_msg_u64(raw, &v)) == 0)
      be->acked_features = v & be->device_features;
    break;
  case SHMAP_REQ_SET_PROTOCOL_FEATURES:
    /* Only what was offered counts, whatever the front end claims. */
    if ((rc = shmap_msg_u64(raw, &v)) == 0)
      shmap_channel_set_protocol_features(ch, v & be->protocol_features);
    break;
  case SHMAP_REQ_SET_OWNER:
  case SHMAP_REQ_RESET_OWNER: break;
  case SHMAP_REQ_SET_BACKEND_REQ_FD: {
    if (nfds != 1) {
      close_all(fds, nfds);
      return shmap__err(SHMAP_EFDCOUNT,
                        "SET_BACKEND_REQ_FD carries %zu descriptors, needs 1",
                        nfds);
    }
    shmap_channel *req;
    unsigned flags = SHMAP_CHANNEL_BACKEND_REQ |
                     (shmap_channel_flags(ch) & SHMAP_CHANNEL_INPROCESS);
    rc = shmap_channel_adopt(fds[0], SHMAP_ROLE_BACKEND, flags, &req);
    if (rc != 0) {
      shmap_native_close(fds[0]);
      return rc;
    }
    shmap_channel_set_protocol_features(req,
                                        shmap_channel_protocol_features(ch));
    shmap_channel_close(be->req);
    be->req = req;
    return 0;
  }
  default: return SHMAP__NOT_MINE;
  }
  close_all(fds, nfds); /* none of these carries one */
  return rc;
}

/* Apply one received request; fds are ours to adopt or close. */
static int apply(void *ctx, shmap_channel *ch, const shmap_wire_msg *m,
                 int known, shmap_msg *raw, shmap_native_t *fds, size_t nfds,
                 shmap__outcome *out) {
  shmap_backend *be = ctx;
  if (!known)
    return be->handshake && raw != NULL && !(raw->hdr.flags & SHMAP_WIRE_REPLY)
               ? apply_handshake(be, ch, raw, fds, nfds, out)
               : SHMAP__NOT_MINE;
  int rc = 0;
  uint64_t gpa = m->u.region.guest_phys_addr;
  switch (m->hdr.request) {
  case SHMAP_REQ_ADD_MEM_REG:
    rc = add_region(be, &m->u.region, fds, nfds);
    break;
  case SHMAP_REQ_REM_MEM_REG:
    /* A front end may attach the region's fd; it means nothing here. */
    close_all(fds, nfds);
    return remove_region(be, &m->u.region);
  case SHMAP_REQ_SET_MEM_TABLE:
    gpa = m->u.mem_table.regions[0].guest_phys_addr;
    rc = set_table(be, m, fds, nfds);
    break;
  default: /* GET_MAX_MEM_SLOTS */ out->value = MAX_SLOTS; return 0;
  }
  if (rc == 0)
    out->head = shmap_window_translate(be->guest, gpa, 16);
  return rc;
}

SHMAP__FLATTEN int shmap_backend_serve_one(shmap_backend *be, shmap_channel *ch,
                                           shmap_event *ev) {
  if (be == NULL || ch == NULL)
    return shmap__err(SHMAP_EINVAL, "backend serve: NULL argument");
  return shmap__serve_one(ch, ev, apply, be, be->foreign, be->foreign_ctx);
}

int shmap_backend_apply(shmap_backend *be, shmap_channel *ch, shmap_msg *m,
                        shmap_reply *reply, shmap_event *ev) {
  if (be == NULL || ch == NULL || m == NULL || reply == NULL)
    return shmap__err(SHMAP_EINVAL, "backend apply: NULL argument");
  return shmap__apply_msg(ch, m, reply, ev, apply, be);
}

/* ---- requests the back end sends ---- */

/* Send `m` with its descriptors, then wait for the reply when one is due. */
SHMAP__FLATTEN int shmap__request(shmap_channel *ch, shmap_wire_msg *m,
                                  const shmap_native_t *fds, size_t nfds,
                                  uint64_t *value) {
  uint32_t code = m->hdr.request;
  if (!shmap__wire_decoded(ch->tx, code))
    return shmap__err(
        SHMAP_EPERM, "%s: this channel's end (%s, %s) does not send it",
        shmap_wire_request_name(code),
        ch->role == SHMAP_ROLE_FRONTEND ? "front end" : "back end",
        ch->flags & SHMAP_CHANNEL_BACKEND_REQ ? "back-end request socket"
                                              : "main socket");
  int answered = shmap_wire_always_answered(ch->tx, code);
  int ack = !answered && (ch->proto & SHMAP_PROTOCOL_F_REPLY_ACK);
  m->hdr.flags = SHMAP_WIRE_VERSION | (ack ? SHMAP_WIRE_NEED_REPLY : 0);
  int rc = shmap_channel_send(ch, m, fds, nfds);
  if (rc != 0 || (!ack && !answered))
    return rc;
  return shmap_channel_recv_reply(ch, code, value);
}

int shmap_backend_shmem_map(shmap_channel *ch, uint8_t shmid, shmap_mappable *m,
                            uint64_t file_offset, uint64_t shm_offset,
                            uint64_t len, unsigned prot) {
  if (ch == NULL || m == NULL)
    return shmap__err(SHMAP_EINVAL, "shmem_map: NULL argument");
  if (prot != SHMAP_PROT_READ && prot != SHMAP_PROT_RW)
    return shmap__err(SHMAP_EINVAL,
                      "shmem_map: prot %u (SHMAP_PROT_READ or SHMAP_PROT_RW)",
                      prot);
  int writable = prot == SHMAP_PROT_RW;
  int rc = shmap_mappable_check_range(m, file_offset, len);
  if (rc != 0)
    return rc;
  if (writable && !(shmap_mappable_access(m) & SHMAP_PROT_WRITE))
    return shmap__err(SHMAP_EACCES, "shmem_map: read-write map of a "
                                    "read-only mappable");
  shmap_wire_msg msg;
  memset(&msg, 0, sizeof msg);
  msg.hdr.request = SHMAP_REQ_SHMEM_MAP;
  msg.u.mmap = (shmap_wire_mmap){shmid, file_offset, shm_offset, len,
                                 writable ? SHMAP_WIRE_MAP_RW : 0};
  /* A read-only grant travels as a read-only descriptor, so the front end
   * could not write even if it ignored the flag. */
  shmap_native_t fd = shmap_mappable_native(m);
  shmap_native_t ro = SHMAP_NATIVE_INVALID;
  if (!writable && (rc = shmap_mappable_share_readonly(m, &ro)) != 0)
    return rc;
  rc = shmap__request(ch, &msg, writable ? &fd : &ro, 1, NULL);
  shmap_native_close(ro);
  return rc;
}

int shmap_backend_shmem_unmap(shmap_channel *ch, uint8_t shmid,
                              uint64_t shm_offset, uint64_t len) {
  if (ch == NULL)
    return shmap__err(SHMAP_EINVAL, "shmem_unmap: NULL channel");
  shmap_wire_msg msg;
  memset(&msg, 0, sizeof msg);
  msg.hdr.request = SHMAP_REQ_SHMEM_UNMAP;
  msg.u.mmap = (shmap_wire_mmap){shmid, 0, shm_offset, len, 0};
  return shmap__request(ch, &msg, NULL, 0, NULL);
}

int shmap_backend_external_map(shmap_channel *ch, uint8_t shmid,
                               uint64_t shm_offset, uint64_t len, void *ptr) {
  if (ch == NULL || ptr == NULL)
    return shmap__err(SHMAP_EINVAL, "external_map: NULL argument");
  shmap_wire_msg msg;
  memset(&msg, 0, sizeof msg);
  msg.hdr.request = SHMAP_REQ_EXTERNAL_MAP;
  msg.u.external =
      (shmap_wire_external){shmid, shm_offset, len, (uint64_t)(uintptr_t)ptr};
  return shmap__request(ch, &msg, NULL, 0, NULL);
}
