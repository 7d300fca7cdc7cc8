/* shmap — the front-end endpoint: sends guest memory regions, and applies
 * the back end's shared-memory requests to its windows. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int shmap_region_check(const shmap_region *r) {
  if (r == NULL || r->mappable == NULL)
    return shmap__err(SHMAP_EINVAL, "region: NULL region or mappable");
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
  /* userspace_addr is informational: the region's place in our own guest
   * window is not known here, so it carries the guest address. */
  return (shmap_wire_region){r->guest_address, r->size, r->guest_address,
                             r->file_offset};
}

int shmap_frontend_add_region(shmap_channel *ch, const shmap_region *r) {
  if (ch == NULL)
    return shmap__err(SHMAP_EINVAL, "add_region: NULL channel");
  int rc = shmap_region_check(r);
  if (rc != 0)
    return rc;
  shmap_wire_msg m;
  memset(&m, 0, sizeof m);
  m.hdr.request = SHMAP_REQ_ADD_MEM_REG;
  m.u.region = to_wire(r);
  shmap_native_t fd = shmap_mappable_native(r->mappable);
  return shmap__request(ch, &m, &fd, 1, NULL);
}

int shmap_frontend_remove_region(shmap_channel *ch, const shmap_region *r) {
  if (ch == NULL || r == NULL)
    return shmap__err(SHMAP_EINVAL, "remove_region: NULL argument");
  shmap_wire_msg m;
  memset(&m, 0, sizeof m);
  m.hdr.request = SHMAP_REQ_REM_MEM_REG;
  m.u.region = (shmap_wire_region){r->guest_address, r->size, 0, 0};
  return shmap__request(ch, &m, NULL, 0, NULL);
}

int shmap_frontend_set_mem_table(shmap_channel *ch, const shmap_region *regions,
                                 size_t n) {
  if (ch == NULL || regions == NULL)
    return shmap__err(SHMAP_EINVAL, "set_mem_table: NULL argument");
  if (n < 1 || n > SHMAP_WIRE_MAX_REGIONS)
    return shmap__err(SHMAP_EINVAL, "set_mem_table: %zu regions (1 to %d)", n,
                      SHMAP_WIRE_MAX_REGIONS);
  shmap_wire_msg m;
  memset(&m, 0, sizeof m);
  m.hdr.request = SHMAP_REQ_SET_MEM_TABLE;
  m.u.mem_table.num_regions = (uint32_t)n;
  shmap_native_t fds[SHMAP_WIRE_MAX_REGIONS];
  for (size_t i = 0; i < n; i++) {
    int rc = shmap_region_check(&regions[i]);
    if (rc != 0)
      return rc;
    m.u.mem_table.regions[i] = to_wire(&regions[i]);
    fds[i] = shmap_mappable_native(regions[i].mappable);
  }
  return shmap__request(ch, &m, fds, n, NULL);
}

/* ---- applying SHMEM_MAP / SHMEM_UNMAP / EXTERNAL_MAP ---- */

struct shmap_frontend {
  shmap_window *windows[256]; /* by shmid; borrowed */
};

int shmap_frontend_create(shmap_frontend **out) {
  if (out == NULL)
    return shmap__err(SHMAP_EINVAL, "frontend create: NULL out");
  *out = calloc(1, sizeof **out);
  return *out != NULL
             ? 0
             : shmap__err(SHMAP_ENOMEM, "frontend create: out of memory");
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
  if (w == NULL) {
    shmap_native_close(fd);
    return rc;
  }
  if ((rc = shmap_mappable_adopt(fd, &m)) != 0) {
    shmap_native_close(fd);
    return rc;
  }
  unsigned prot =
      mm->flags & SHMAP_WIRE_MAP_RW ? SHMAP_PROT_RW : SHMAP_PROT_READ;
  rc = shmap_window_map(w, mm->shm_offset, m, mm->fd_offset, mm->len, prot);
  shmap_mappable_unref(m); /* the window holds its own reference */
  if (rc == 0)
    *head = shmap_window_translate(w, mm->shm_offset, 16);
  return rc;
}

static int apply(void *ctx, shmap_channel *ch, const shmap_wire_msg *m,
                 shmap_native_t *fds, size_t nfds, shmap__outcome *out) {
  shmap_frontend *fe = ctx;
  void **head = &out->head;
  int rc = 0;
  shmap_window *w;
  (void)nfds;
  switch (m->hdr.request) {
  case SHMAP_REQ_SHMEM_MAP: return apply_map(fe, &m->u.mmap, fds[0], head);
  case SHMAP_REQ_SHMEM_UNMAP:
    if ((w = window_of(fe, m->u.mmap.shmid, &rc)) == NULL)
      return rc;
    return shmap_window_unmap(w, m->u.mmap.shm_offset, m->u.mmap.len);
  default: /* EXTERNAL_MAP */
    if (!(shmap_channel_flags(ch) & SHMAP_CHANNEL_INPROCESS))
      return shmap__err(SHMAP_EPERM, "EXTERNAL_MAP on a cross-process "
                                     "channel: its pointer means nothing here");
    if ((w = window_of(fe, m->u.external.shmid, &rc)) == NULL)
      return rc;
    if (m->u.external.ptr > UINTPTR_MAX)
      return shmap__err(SHMAP_EOVERFLOW,
                        "EXTERNAL_MAP: pointer 0x%" PRIx64
                        " does not fit this process",
                        m->u.external.ptr);
    rc = shmap_window_map_external(w, m->u.external.shm_offset,
                                   m->u.external.len,
                                   (void *)(uintptr_t)m->u.external.ptr);
    if (rc == 0)
      *head = shmap_window_translate(w, m->u.external.shm_offset, 16);
    return rc;
  }
}

SHMAP__FLATTEN int shmap_frontend_serve_one(shmap_frontend *fe,
                                            shmap_channel *ch,
                                            shmap_event *ev) {
  if (fe == NULL || ch == NULL)
    return shmap__err(SHMAP_EINVAL, "frontend serve: NULL argument");
  return shmap__serve_one(ch, ev, apply, fe);
}
