/* shmap — the front-end endpoint: sends guest memory regions, and applies
 * the back end's shared-memory requests to its windows. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int shmap_region_check(const shmap_region *r) {
  if (r == NULL || r->mappable == NULL)
    return shmap__err(SHMAP_EINVAL, "region: NULL region or mappable");
  for (size_t i = 0; i < sizeof r->reserved / sizeof r->reserved[0]; i++)
    if (r->reserved[i] != 0)
      return shmap__err(SHMAP_EINVAL,
                        "region at 0x%" PRIx64 ": reserved[%zu] is not zero "
                        "(zero-initialize the shmap_region)",
                        r->guest_address, i);
  uint64_t g = shmap__os_granularity();
  int rc =
      shmap__check_range("region", r->guest_address, r->size, UINT64_MAX, g);
  if (rc != 0)
    return rc;
  if (r->file_offset & (g - 1))
    return shmap__err(SHMAP_EALIGN,
                      "region: file offset 0x%" PRIx64
                      " not aligned to 0x%" PRIx64,
                      r->file_offset, g);
  return shmap_mappable_check_range(r->mappable, r->file_offset, r->size);
}

static shmap_wire_region to_wire(const shmap_region *r) {
  return (shmap_wire_region){r->guest_address, r->size,
                             (uint64_t)(uintptr_t)r->host, r->file_offset};
}

/* The checks every sending call makes first: a front end on a main
 * channel, and a region with an address in this process. */
static int check_send(shmap_channel *ch, const shmap_region *r,
                      const char *what) {
  if (ch == NULL || r == NULL)
    return shmap__err(SHMAP_EINVAL, "%s: NULL argument", what);
  if (ch->tx != SHMAP_WIRE_TO_BACKEND)
    return shmap__err(SHMAP_EPERM,
                      "%s: only the front end of a main channel shares "
                      "regions",
                      what);
  if (r->host == NULL)
    return shmap__err(SHMAP_EINVAL,
                      "%s: region at 0x%" PRIx64 " has no host address (the "
                      "front end's own address of it, which back ends "
                      "translate vring addresses through)",
                      what, r->guest_address);
  return 0;
}

static int slots_negotiated(const shmap_channel *ch) {
  return (ch->proto & SHMAP_PROTOCOL_F_CONFIGURE_MEM_SLOTS) != 0;
}

/* ---- the channel's record of shared regions ---- */

static shmap__shared *shared_find(shmap_channel *ch, uint64_t gpa) {
  for (size_t i = 0; i < ch->nshared; i++)
    if (ch->shared[i].w.guest_phys_addr == gpa)
      return &ch->shared[i];
  return NULL;
}

static const shmap__shared *shared_overlap(const shmap_channel *ch,
                                           const shmap_wire_region *w) {
  for (size_t i = 0; i < ch->nshared; i++) {
    const shmap_wire_region *o = &ch->shared[i].w;
    if (w->guest_phys_addr < o->guest_phys_addr + o->memory_size &&
        o->guest_phys_addr < w->guest_phys_addr + w->memory_size)
      return &ch->shared[i];
  }
  return NULL;
}

static int shared_reserve(shmap_channel *ch, size_t n) {
  if (n <= ch->capshared)
    return 0;
  size_t cap = ch->capshared ? ch->capshared * 2 : 8;
  while (cap < n)
    cap *= 2;
  shmap__shared *v = realloc(ch->shared, cap * sizeof *v);
  if (v == NULL)
    return shmap__err(SHMAP_ENOMEM, "front end: out of memory");
  ch->shared = v;
  ch->capshared = cap;
  return 0;
}

/* Record a region the peer accepted (room reserved before sending). */
static void shared_add(shmap_channel *ch, const shmap_wire_region *w,
                       shmap_mappable *m) {
  ch->shared[ch->nshared++] = (shmap__shared){*w, shmap_mappable_ref(m)};
}

static void shared_drop(shmap_channel *ch, shmap__shared *s) {
  shmap_mappable_unref(s->m);
  *s = ch->shared[--ch->nshared];
}

void shmap__shared_clear(shmap_channel *ch) {
  while (ch->nshared > 0)
    shared_drop(ch, &ch->shared[ch->nshared - 1]);
  free(ch->shared);
  ch->shared = NULL;
  ch->capshared = 0;
}

/* SET_MEM_TABLE of `n` wire regions with their mappables' descriptors. */
static int send_table(shmap_channel *ch, const shmap_wire_region *w,
                      shmap_mappable *const *ms, size_t n) {
  if (n > SHMAP_WIRE_MAX_REGIONS)
    return shmap__err(SHMAP_ELIMIT,
                      "SET_MEM_TABLE: %zu regions, at most %d (the peer did "
                      "not agree to CONFIGURE_MEM_SLOTS)",
                      n, SHMAP_WIRE_MAX_REGIONS);
  shmap_wire_msg m;
  memset(&m, 0, sizeof m);
  m.hdr.request = SHMAP_REQ_SET_MEM_TABLE;
  m.u.mem_table.num_regions = (uint32_t)n;
  shmap_native_t fds[SHMAP_WIRE_MAX_REGIONS];
  for (size_t i = 0; i < n; i++) {
    m.u.mem_table.regions[i] = w[i];
    fds[i] = shmap_mappable_native(ms[i]);
  }
  return shmap__request(ch, &m, fds, n, NULL);
}

/* The table as recorded, with `extra` added and the entry `skip` left out
 * (either may be NULL), sent whole. */
static int resend_table(shmap_channel *ch, const shmap__shared *extra,
                        const shmap__shared *skip) {
  shmap_wire_region w[SHMAP_WIRE_MAX_REGIONS + 1];
  shmap_mappable *ms[SHMAP_WIRE_MAX_REGIONS + 1];
  size_t n = 0;
  for (size_t i = 0; i < ch->nshared; i++) {
    if (&ch->shared[i] == skip)
      continue;
    if (n == SHMAP_WIRE_MAX_REGIONS)
      return send_table(ch, w, ms, SHMAP_WIRE_MAX_REGIONS + 1);
    w[n] = ch->shared[i].w;
    ms[n++] = ch->shared[i].m;
  }
  if (extra != NULL) {
    if (n == SHMAP_WIRE_MAX_REGIONS)
      return send_table(ch, w, ms, SHMAP_WIRE_MAX_REGIONS + 1);
    w[n] = extra->w;
    ms[n++] = extra->m;
  }
  if (n == 0)
    return shmap__err(SHMAP_ENOTSUP,
                      "REM_MEM_REG: the peer takes only SET_MEM_TABLE, and "
                      "vhost-user has no empty table to remove the last "
                      "region with");
  return send_table(ch, w, ms, n);
}

int shmap_frontend_add_region(shmap_channel *ch, const shmap_region *r) {
  int rc = check_send(ch, r, "add_region");
  if (rc == 0)
    rc = shmap_region_check(r);
  if (rc != 0)
    return rc;
  shmap__shared s = {to_wire(r), r->mappable};
  const shmap__shared *o = shared_overlap(ch, &s.w);
  if (o != NULL)
    return shmap__err(SHMAP_EOVERLAP,
                      "add_region: 0x%" PRIx64 "+0x%" PRIx64
                      " overlaps the region shared at 0x%" PRIx64 "+0x%" PRIx64,
                      r->guest_address, r->size, o->w.guest_phys_addr,
                      o->w.memory_size);
  if ((rc = shared_reserve(ch, ch->nshared + 1)) != 0)
    return rc;
  if (slots_negotiated(ch)) {
    shmap_wire_msg m;
    memset(&m, 0, sizeof m);
    m.hdr.request = SHMAP_REQ_ADD_MEM_REG;
    m.u.region = s.w;
    shmap_native_t fd = shmap_mappable_native(r->mappable);
    rc = shmap__request(ch, &m, &fd, 1, NULL);
  } else {
    rc = resend_table(ch, &s, NULL);
  }
  if (rc == 0)
    shared_add(ch, &s.w, r->mappable);
  return rc;
}

int shmap_frontend_remove_region(shmap_channel *ch, const shmap_region *r) {
  if (ch == NULL || r == NULL)
    return shmap__err(SHMAP_EINVAL, "remove_region: NULL argument");
  if (ch->tx != SHMAP_WIRE_TO_BACKEND)
    return shmap__err(SHMAP_EPERM, "remove_region: only the front end of a "
                                   "main channel shares regions");
  shmap__shared *s = shared_find(ch, r->guest_address);
  if (s == NULL || s->w.memory_size != r->size)
    return shmap__err(SHMAP_ENOENT,
                      "remove_region: no region of 0x%" PRIx64
                      " bytes at 0x%" PRIx64 " was shared on this channel",
                      r->size, r->guest_address);
  int rc;
  if (slots_negotiated(ch)) {
    shmap_wire_msg m;
    memset(&m, 0, sizeof m);
    m.hdr.request = SHMAP_REQ_REM_MEM_REG;
    m.u.region = s->w; /* exactly what ADD_MEM_REG sent */
    shmap_native_t fd = shmap_mappable_native(s->m);
    rc = shmap__request(ch, &m, &fd, ch->flags & SHMAP_CHANNEL_REM_FD ? 1 : 0,
                        NULL);
  } else {
    rc = resend_table(ch, NULL, s);
  }
  if (rc == 0)
    shared_drop(ch, s);
  return rc;
}

int shmap_frontend_set_mem_table(shmap_channel *ch, const shmap_region *regions,
                                 size_t n) {
  if (ch == NULL || regions == NULL)
    return shmap__err(SHMAP_EINVAL, "set_mem_table: NULL argument");
  if (n < 1 || n > SHMAP_WIRE_MAX_REGIONS)
    return shmap__err(SHMAP_EINVAL, "set_mem_table: %zu regions (1 to %d)", n,
                      SHMAP_WIRE_MAX_REGIONS);
  shmap_wire_region w[SHMAP_WIRE_MAX_REGIONS];
  shmap_mappable *ms[SHMAP_WIRE_MAX_REGIONS];
  for (size_t i = 0; i < n; i++) {
    int rc = check_send(ch, &regions[i], "set_mem_table");
    if (rc == 0)
      rc = shmap_region_check(&regions[i]);
    if (rc != 0)
      return rc;
    w[i] = to_wire(&regions[i]);
    ms[i] = regions[i].mappable;
  }
  int rc = shared_reserve(ch, n);
  if (rc == 0)
    rc = send_table(ch, w, ms, n);
  if (rc != 0)
    return rc;
  while (ch->nshared > 0)
    shared_drop(ch, &ch->shared[ch->nshared - 1]);
  for (size_t i = 0; i < n; i++)
    shared_add(ch, &w[i], ms[i]);
  return 0;
}

/* ---- the handshake ---- */

static int call_u64(shmap_channel *ch, uint32_t code, uint64_t *out) {
  shmap_msg *r = malloc(sizeof *r);
  if (r == NULL)
    return shmap__err(SHMAP_ENOMEM, "negotiate: out of memory");
  int rc = shmap_channel_call(ch, code, NULL, 0, NULL, 0, r);
  if (rc == 0) {
    rc = shmap_msg_u64(r, out);
    shmap_msg_release(r);
  }
  free(r);
  return rc;
}

static int set_u64(shmap_channel *ch, uint32_t code, uint64_t v) {
  uint8_t p[8];
  for (int i = 0; i < 8; i++)
    p[i] = (uint8_t)(v >> 8 * i);
  return shmap_channel_call(ch, code, p, sizeof p, NULL, 0, NULL);
}

/* What shmap itself wants of the protocol features. */
#define MEMORY_PROTOCOL                                                        \
  (SHMAP_PROTOCOL_F_REPLY_ACK | SHMAP_PROTOCOL_F_BACKEND_REQ |                 \
   SHMAP_PROTOCOL_F_CONFIGURE_MEM_SLOTS | SHMAP_PROTOCOL_F_SHMEM)

int shmap_frontend_negotiate(shmap_channel *ch, uint64_t want_features,
                             uint64_t want_protocol, shmap_negotiation *out) {
  if (ch == NULL)
    return shmap__err(SHMAP_EINVAL, "negotiate: NULL channel");
  if (ch->tx != SHMAP_WIRE_TO_BACKEND)
    return shmap__err(SHMAP_EPERM, "negotiate: only the front end of a main "
                                   "channel negotiates");
  shmap_negotiation n;
  memset(&n, 0, sizeof n);
  /* Until the peer agrees to REPLY_ACK nothing may wait for an ack. */
  ch->proto = 0;
  int rc = call_u64(ch, SHMAP_REQ_GET_FEATURES, &n.offered_features);
  if (rc == 0 && (n.offered_features & SHMAP_VHOST_F_PROTOCOL_FEATURES)) {
    rc = call_u64(ch, SHMAP_REQ_GET_PROTOCOL_FEATURES, &n.offered_protocol);
    n.protocol_features =
        n.offered_protocol & (MEMORY_PROTOCOL | want_protocol);
    if (rc == 0)
      rc = set_u64(ch, SHMAP_REQ_SET_PROTOCOL_FEATURES, n.protocol_features);
    if (rc == 0)
      ch->proto = n.protocol_features;
  }
  if (rc == 0)
    rc = shmap_channel_call(ch, SHMAP_REQ_SET_OWNER, NULL, 0, NULL, 0, NULL);
  n.features =
      n.offered_features & (want_features | SHMAP_VHOST_F_PROTOCOL_FEATURES |
                            SHMAP_VIRTIO_F_VERSION_1);
  if (rc == 0)
    rc = set_u64(ch, SHMAP_REQ_SET_FEATURES, n.features);
  if (out != NULL)
    *out = n;
  return rc;
}

int shmap_frontend_get_max_mem_slots(shmap_channel *ch, uint64_t *slots) {
  if (ch == NULL || slots == NULL)
    return shmap__err(SHMAP_EINVAL, "get_max_mem_slots: NULL argument");
  if (!slots_negotiated(ch))
    return shmap__err(SHMAP_ENOTSUP, "GET_MAX_MEM_SLOTS: the peer did not "
                                     "agree to CONFIGURE_MEM_SLOTS");
  shmap_wire_msg m;
  memset(&m, 0, sizeof m);
  m.hdr.request = SHMAP_REQ_GET_MAX_MEM_SLOTS;
  return shmap__request(ch, &m, NULL, 0, slots);
}

int shmap_frontend_open_backend_channel(shmap_channel *ch, unsigned flags,
                                        shmap_channel **req) {
  if (ch == NULL || req == NULL)
    return shmap__err(SHMAP_EINVAL, "open_backend_channel: NULL argument");
  if (ch->tx != SHMAP_WIRE_TO_BACKEND)
    return shmap__err(SHMAP_EPERM, "open_backend_channel: only the front end "
                                   "of a main channel hands one over");
  if (!(ch->proto & SHMAP_PROTOCOL_F_BACKEND_REQ))
    return shmap__err(SHMAP_ENOTSUP, "SET_BACKEND_REQ_FD: the peer did not "
                                     "agree to BACKEND_REQ");
  shmap_channel *front, *back;
  int rc = shmap_channel_pair(flags | SHMAP_CHANNEL_BACKEND_REQ, &front, &back);
  if (rc != 0)
    return rc;
  shmap_native_t end = shmap_channel_native(back);
  rc = shmap_channel_call(ch, SHMAP_REQ_SET_BACKEND_REQ_FD, NULL, 0, &end, 1,
                          NULL);
  shmap_channel_close(back); /* the peer holds its own copy now */
  if (rc == 0)
    rc = shmap__os_chan_peer_from(&front->os, &ch->os);
  /* The pair was checked against this process; its peer is only now the
   * back end's. */
  if (rc == 0 && (flags & SHMAP_CHANNEL_SAME_USER))
    rc = shmap__os_peer_check(&front->os);
  if (rc != 0) {
    shmap_channel_close(front);
    return rc;
  }
  front->proto = ch->proto;
  *req = front;
  return 0;
}

/* ---- applying SHMEM_MAP / SHMEM_UNMAP / EXTERNAL_MAP ---- */

struct shmap_frontend {
  shmap_window *windows[256]; /* by shmid; borrowed */
  /* What the peer mapped through this front end (SHMEM_MAP, EXTERNAL_MAP)
   * and has not unmapped, against the caps of shmap_frontend_options. */
  size_t max_mappings, mappings;
  uint64_t max_bytes, bytes;
  shmap_foreign_fn foreign;
  void *foreign_ctx;
  int allow_unsealed; /* seal_policy: 1 accept unsealed, -1 refuse, 0 the
                         build's default */
};

void shmap_frontend_on_foreign(shmap_frontend *fe, shmap_foreign_fn fn,
                               void *ctx) {
  if (fe == NULL)
    return;
  fe->foreign = fn;
  fe->foreign_ctx = ctx;
}

int shmap_frontend_create(const shmap_frontend_options *opts,
                          shmap_frontend **out) {
  if (out == NULL)
    return shmap__err(SHMAP_EINVAL, "frontend create: NULL out");
  shmap_frontend_options o = {.size = sizeof o};
  int allow_unsealed;
  int rc = shmap__options_read(opts, &o, sizeof o, "frontend create");
  if (rc == 0)
    rc = shmap__seal_policy(o.seal_policy, "frontend create", &allow_unsealed);
  if (rc != 0)
    return rc;
  shmap_frontend *fe = calloc(1, sizeof *fe);
  if (fe == NULL)
    return shmap__err(SHMAP_ENOMEM, "frontend create: out of memory");
  fe->max_mappings =
      o.max_mappings != 0 ? o.max_mappings : SHMAP_FRONTEND_MAX_MAPPINGS;
  fe->max_bytes = o.max_bytes;
  fe->allow_unsealed = allow_unsealed;
  *out = fe;
  return 0;
}

/* Refuse a new mapping of `len` bytes past the caps. */
static int check_caps(const shmap_frontend *fe, uint64_t len,
                      const char *what) {
  if (fe->max_mappings != 0 && fe->mappings >= fe->max_mappings)
    return shmap__err(
        SHMAP_ELIMIT,
        "%s: the back end already has %zu mappings, the "
        "front end's cap (max_mappings of shmap_frontend_options)",
        what, fe->mappings);
  if (fe->max_bytes != 0 && len > fe->max_bytes - fe->bytes)
    return shmap__err(SHMAP_ELIMIT,
                      "%s: 0x%" PRIx64 " more bytes exceed the front end's "
                      "cap of 0x%" PRIx64 " (0x%" PRIx64 " mapped)",
                      what, len, fe->max_bytes, fe->bytes);
  return 0;
}

static void count_map(shmap_frontend *fe, uint64_t len) {
  fe->mappings++;
  fe->bytes += len;
}

static void count_unmap(shmap_frontend *fe, uint64_t len) {
  fe->mappings -= fe->mappings > 0;
  fe->bytes -= len < fe->bytes ? len : fe->bytes;
}

void shmap_frontend_destroy(shmap_frontend *fe) { free(fe); }

int shmap_frontend_add_window(shmap_frontend *fe, uint8_t shmid,
                              shmap_window *w) {
  if (fe == NULL || w == NULL)
    return shmap__err(SHMAP_EINVAL, "frontend add_window: NULL argument");
  if (fe->windows[shmid] != NULL)
    return shmap__err(SHMAP_EOVERLAP, "frontend add_window: shmid %u taken",
                      shmid);
  fe->windows[shmid] = w;
  return 0;
}

static shmap_window *window_of(shmap_frontend *fe, uint8_t shmid, int *rc) {
  shmap_window *w = fe->windows[shmid];
  if (w == NULL)
    *rc = shmap__err(SHMAP_ENOWINDOW, "no shared-memory window with shmid %u",
                     shmid);
  return w;
}

static int apply_map(shmap_frontend *fe, const shmap_wire_mmap *mm,
                     shmap_native_t fd, void **head) {
  int rc = 0;
  shmap_window *w = window_of(fe, mm->shmid, &rc);
  shmap_mappable *m;
  if (w == NULL || (rc = check_caps(fe, mm->len, "SHMEM_MAP")) != 0) {
    shmap_native_close(fd);
    return rc;
  }
  if ((rc = shmap__mappable_adopt_peer(fd, fe->allow_unsealed, &m)) != 0) {
    shmap_native_close(fd);
    return rc;
  }
  unsigned prot =
      mm->flags & SHMAP_WIRE_MAP_RW ? SHMAP_PROT_RW : SHMAP_PROT_READ;
  rc = shmap_window_map(w, mm->shm_offset, m, mm->fd_offset, mm->len, prot);
  shmap_mappable_unref(m); /* the window holds its own reference */
  if (rc == 0) {
    count_map(fe, mm->len);
    *head = shmap_window_translate(w, mm->shm_offset, 16);
  }
  return rc;
}

static int apply(void *ctx, shmap_channel *ch, const shmap_wire_msg *m,
                 int known, shmap_msg *raw, shmap_native_t *fds, size_t nfds,
                 shmap__outcome *out) {
  shmap_frontend *fe = ctx;
  void **head = &out->head;
  int rc = 0;
  shmap_window *w;
  (void)nfds;
  (void)raw;
  if (!known)
    return SHMAP__NOT_MINE;
  switch (m->hdr.request) {
  case SHMAP_REQ_SHMEM_MAP: return apply_map(fe, &m->u.mmap, fds[0], head);
  case SHMAP_REQ_SHMEM_UNMAP:
    if ((w = window_of(fe, m->u.mmap.shmid, &rc)) == NULL)
      return rc;
    if ((rc = shmap_window_unmap(w, m->u.mmap.shm_offset, m->u.mmap.len)) == 0)
      count_unmap(fe, m->u.mmap.len);
    return rc;
  default: /* EXTERNAL_MAP */
    if (!(shmap_channel_flags(ch) & SHMAP_CHANNEL_INPROCESS))
      return shmap__err(SHMAP_EPERM, "EXTERNAL_MAP on a cross-process "
                                     "channel: its pointer means nothing here");
    if ((w = window_of(fe, m->u.external.shmid, &rc)) == NULL ||
        (rc = check_caps(fe, m->u.external.len, "EXTERNAL_MAP")) != 0)
      return rc;
    if (m->u.external.ptr > UINTPTR_MAX)
      return shmap__err(SHMAP_EOVERFLOW,
                        "EXTERNAL_MAP: pointer 0x%" PRIx64
                        " does not fit this process",
                        m->u.external.ptr);
    rc = shmap_window_map_external(w, m->u.external.shm_offset,
                                   m->u.external.len,
                                   (void *)(uintptr_t)m->u.external.ptr);
    if (rc == 0) {
      count_map(fe, m->u.external.len);
      *head = shmap_window_translate(w, m->u.external.shm_offset, 16);
    }
    return rc;
  }
}

SHMAP__FLATTEN int shmap_frontend_serve_one(shmap_frontend *fe,
                                            shmap_channel *ch,
                                            shmap_event *ev) {
  if (fe == NULL || ch == NULL)
    return shmap__err(SHMAP_EINVAL, "frontend serve: NULL argument");
  return shmap__serve_one(ch, ev, apply, fe, fe->foreign, fe->foreign_ctx);
}

int shmap_frontend_apply(shmap_frontend *fe, shmap_channel *ch, shmap_msg *m,
                         shmap_reply *reply, shmap_event *ev) {
  if (fe == NULL || ch == NULL || m == NULL || reply == NULL)
    return shmap__err(SHMAP_EINVAL, "frontend apply: NULL argument");
  return shmap__apply_msg(ch, m, reply, ev, apply, fe);
}
